import { randomUUID } from 'node:crypto';
import { AMQP_URL, brokerGate, RABBITMQ_MANAGEMENT_URL } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { priorityTasksEndToEnd, retryDeadLetterEndToEnd } from './examples-e2e.js';

const gate = await brokerGate('examples end to end on RabbitMQ', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const management = new URL(RABBITMQ_MANAGEMENT_URL);
const auth = `Basic ${Buffer.from(`${decodeURIComponent(management.username || 'guest')}:${decodeURIComponent(management.password || 'guest')}`).toString('base64')}`;
management.username = '';
management.password = '';
const vhost = `wakame-e2e-${randomUUID()}`;
const amqp = new URL(AMQP_URL);
const url = `${amqp.protocol}//${amqp.username}:${amqp.password}@${amqp.host}/${encodeURIComponent(vhost)}`;

async function call(method: string, path: string, body?: unknown): Promise<void> {
  const response = await fetch(
    new URL(`api/${path}`, management.href.endsWith('/') ? management.href : `${management.href}/`),
    {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    },
  );
  if (!response.ok && response.status !== 404) throw new Error(`${method} ${path}: ${response.status}`);
}

describe.skipIf(gate === 'skip')('examples end to end on RabbitMQ', () => {
  beforeAll(async () => {
    await call('PUT', `vhosts/${encodeURIComponent(vhost)}`);
    await call('PUT', `permissions/${encodeURIComponent(vhost)}/${decodeURIComponent(amqp.username || 'guest')}`, {
      configure: '.*',
      write: '.*',
      read: '.*',
    });
  });
  afterAll(async () => {
    await call('DELETE', `vhosts/${encodeURIComponent(vhost)}`);
  });

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
