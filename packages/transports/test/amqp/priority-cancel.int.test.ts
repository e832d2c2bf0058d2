/**
 * A consumer of several queues in priority order holds one broker consumer per queue. When the
 * broker ends one of them (its queue was deleted), the whole consumer ends: the other queues'
 * broker consumers are cancelled too, instead of delivering on to a consumer already reported over.
 */
import { randomUUID } from 'node:crypto';
import { Connection, Queue } from '@wakame/core';
import {
  amqpUrlForVhost,
  brokerGate,
  createVhost,
  deleteVhost,
  RABBITMQ_MANAGEMENT_URL,
  waitFor,
} from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const gate = await brokerGate('amqp priority consumer cancel', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});
const vhost = `wakame-priority-cancel-${randomUUID()}`;

describe.skipIf(gate === 'skip')('amqp: a priority consumer cancelled by the broker', () => {
  beforeAll(() => createVhost(vhost));
  afterAll(() => deleteVhost(vhost));

  it('ends on every queue when the broker cancels it on one', async () => {
    const url = amqpUrlForVhost(vhost);
    const consumer = await Connection.open(url);
    const admin = await Connection.open(url);
    try {
      await admin.declare(new Queue('hi'), new Queue('lo'));
      const cancelled = new Promise<string>((resolve) =>
        consumer.events.on('consumer.cancelled_by_broker', (e) => resolve(e.payload.reason)),
      );
      await consumer.consumer({ queues: ['hi', 'lo'], order: 'priority', handler: (m) => m.ack() }).consume();
      // A passive declare counts consumers exactly (the management API's statistics lag by seconds).
      const consumersOf = async (queue: string) =>
        (await admin.admin.declareQueue(new Queue(queue), { passive: true })).consumerCount;
      await waitFor(async () => (await consumersOf('lo')) === 1, { what: 'the lo consumer', timeoutMs: 15_000 });
      await admin.admin.deleteQueue('hi');
      await cancelled;
      await waitFor(async () => (await consumersOf('lo')) === 0, { what: 'lo without consumers', timeoutMs: 15_000 });
      expect(await consumersOf('lo')).toBe(0);
    } finally {
      await consumer.close();
      await admin.close();
    }
  }, 40_000);
});
