import { Connection, SimpleBuffer } from '@wakame/core';
import { AMQP_URL, brokerGate, management, RABBITMQ_MANAGEMENT_URL, randomName, waitFor } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';

const gate = await brokerGate('amqp SimpleBuffer', { name: 'rabbitmq-management', url: RABBITMQ_MANAGEMENT_URL });

describe.skipIf(gate === 'skip')('amqp SimpleBuffer', () => {
  it('round-trips on a transient auto-delete queue that RabbitMQ removes once the buffer closes', async () => {
    const connection = await Connection.open(AMQP_URL);
    const name = randomName('buffer');
    try {
      const buffer = new SimpleBuffer(connection, name);
      await buffer.put({ n: 1 });
      const message = await buffer.get({ timeout: 5_000 });
      expect(message.payload).toEqual({ n: 1 });
      expect(message.properties.deliveryMode).toBe(1);
      await message.ack();
      const live = await management<{ durable: boolean; auto_delete: boolean }>('GET', `queues/%2F/${name}`);
      expect(live).toMatchObject({ durable: false, auto_delete: true });
      await buffer.close();
      // Auto-delete: the queue goes when its last consumer (the buffer's) is cancelled.
      // (The management helper answers a 404 with its error body, not undefined.)
      const exists = async () => (await management<{ name?: string }>('GET', `queues/%2F/${name}`))?.name === name;
      await waitFor(async () => !(await exists()), {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: `queue ${name} to be auto-deleted`,
      });
    } finally {
      await connection.admin.deleteQueue(name).catch(() => undefined);
      await connection.admin.deleteExchange(name).catch(() => undefined);
      await connection.close();
    }
  });
});
