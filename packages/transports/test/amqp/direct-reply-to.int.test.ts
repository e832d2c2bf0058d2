import { randomUUID } from 'node:crypto';
import { Connection, type Message, Queue } from '@wakame/core';
import { AMQP_URL, brokerGate, waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const gate = await brokerGate('amqp direct reply-to', { name: 'rabbitmq', url: AMQP_URL });

describe.skipIf(gate === 'skip')('amqp direct reply-to', () => {
  const opened: Connection[] = [];
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
  });

  it('answers an RPC through amq.rabbitmq.reply-to without a reply queue', async () => {
    const client = await Connection.open(AMQP_URL);
    const server = await Connection.open(AMQP_URL);
    opened.push(client, server);
    const requests = new Queue(`t-${randomUUID()}`, { durable: false, autoDelete: true });

    // The server answers each request to whatever reply-to the broker filled in.
    await server
      .consumer({
        queues: [requests],
        handler: async (m: Message) => {
          const { n } = m.payload as { n: number };
          await server.producer().publish(
            { square: n * n },
            {
              routingKey: m.properties.replyTo ?? '',
              ...(m.properties.correlationId !== undefined ? { correlationId: m.properties.correlationId } : {}),
            },
          );
          await m.ack();
        },
      })
      .consume();

    const replies = new Map<string, unknown>();
    await client
      .consumer({
        queues: ['amq.rabbitmq.reply-to'],
        noAck: true,
        handler: (m: Message) => {
          replies.set(m.properties.correlationId ?? '', m.payload);
        },
      })
      .consume();

    const producer = client.producer({ routingKey: requests.name });
    for (const n of [2, 3, 4]) {
      await producer.publish({ n }, { replyTo: 'amq.rabbitmq.reply-to', correlationId: `req-${n}` });
    }
    await waitFor(() => replies.size === 3, { what: 'three replies' });
    expect(Object.fromEntries(replies)).toEqual({
      'req-2': { square: 4 },
      'req-3': { square: 9 },
      'req-4': { square: 16 },
    });
  });

  it('refuses to consume amq.rabbitmq.reply-to with acknowledgements, as RabbitMQ does', async () => {
    const client = await Connection.open(AMQP_URL);
    opened.push(client);
    await expect(
      client.consumer({ queues: ['amq.rabbitmq.reply-to'], handler: () => {} }).consume(),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});
