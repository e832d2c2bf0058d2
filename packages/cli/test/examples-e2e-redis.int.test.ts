import { randomBytes } from 'node:crypto';
import { brokerGate, REDIS_URL, redisUrl } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';
import { priorityTasksEndToEnd, retryDeadLetterEndToEnd } from './examples-e2e.js';

const gate = await brokerGate('examples end to end on Redis', { name: 'redis', url: REDIS_URL });

/** A fresh key prefix per test in a database of its own: a fresh broker. */
const url = () => redisUrl(7, `keyprefix=e2e-${randomBytes(4).toString('hex')}:`);

describe.skipIf(gate === 'skip')('examples end to end on Redis', () => {
  it('priority-tasks: apply → send → worker serves high before low', async () => {
    const order = await priorityTasksEndToEnd(url());
    expect(order).toHaveLength(8);
    expect(order.slice(0, 5).filter((t) => t === 'user.notify').length).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('retry-dead-letter: retries through a delay queue, then dead-letters with the reason', async () => {
    const { events, dead } = await retryDeadLetterEndToEnd(url());
    expect(events.find((e) => e.event === 'task-done')).toMatchObject({ task: 'invoice.send', attempt: 3 });
    expect(dead[0]).toMatchObject({ headers: { 'x-dead-letter-reason': { reason: 'failed', attempts: 4 } } });
  }, 60_000);
});
