/**
 * A consumer cancelled with deliveries in hand keeps its channel until they are settled, then closes it. Acks made
 * just before the connection closes must reach the broker: amqplib multiplexes channels, and a connection.close
 * sent on channel 0 overtakes frames still queued on the consumer's channel, which the broker then discards (the
 * messages came back, and a worker stopped by SIGTERM ran them twice).
 */
import { randomUUID } from 'node:crypto';
import { Connection, type Message, Queue } from '@wakame/core';
import { AMQP_URL, brokerGate } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';

const gate = await brokerGate('amqp cancel then ack', { name: 'rabbitmq', url: AMQP_URL });

describe.skipIf(gate === 'skip')('amqp: acks after a consumer was cancelled', () => {
  it.each(['round-robin', 'priority'] as const)(
    'order %s: acked after cancel, then the connection closes at once: the acks hold',
    async (order) => {
      const queue = new Queue(`t-${randomUUID()}`, { durable: false });
      const control = await Connection.open(AMQP_URL);
      const connection = await Connection.open(AMQP_URL);
      try {
        await control.declare(queue);
        const producer = control.producer({ routingKey: queue.name });
        for (let n = 0; n < 5; n++) await producer.publish({ n });
        let arrived!: () => void;
        const three = new Promise<void>((resolve) => {
          arrived = resolve;
        });
        const held: Message[] = [];
        const consumer = connection.consumer({
          queues: [queue.name],
          prefetch: 3,
          order,
          handler: (message) => {
            held.push(message);
            if (held.length === 3) arrived();
          },
        });
        await consumer.consume();
        await three;
        await consumer.cancel();
        for (const message of held) await message.ack();
        await connection.close();
        expect(await queue.attach(control).messageCount()).toBe(2);
      } finally {
        await connection.close();
        await control.admin.deleteQueue(queue.name);
        await control.close();
      }
    },
    20_000,
  );
});
