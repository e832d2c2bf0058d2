import { randomUUID } from 'node:crypto';
import { amqpUrlForVhost, brokerGate, createVhost, deleteVhost, RABBITMQ_MANAGEMENT_URL } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { priorityTasksEndToEnd, retryDeadLetterEndToEnd } from './examples-e2e.js';

const gate = await brokerGate('examples end to end on RabbitMQ', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const vhost = `wakame-e2e-${randomUUID()}`;
const url = amqpUrlForVhost(vhost);

describe.skipIf(gate === 'skip')('examples end to end on RabbitMQ', () => {
  beforeAll(() => createVhost(vhost));
  afterAll(() => deleteVhost(vhost));

  it('priority-tasks: apply → send → worker serves high before low', async () => {
    const order = await priorityTasksEndToEnd(url);
    expect(order).toHaveLength(8);
    expect(order.slice(0, 5).filter((t) => t === 'user.notify').length).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('retry-dead-letter: retries through a delay queue, then dead-letters with the reason', async () => {
    const { events, dead } = await retryDeadLetterEndToEnd(url);
    expect(events.find((e) => e.event === 'task-done')).toMatchObject({ task: 'invoice.send', attempt: 3 });
    expect(dead[0]).toMatchObject({ headers: { 'x-dead-letter-reason': { reason: 'failed', attempts: 4 } } });
  }, 60_000);
});
