import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { priorityTasksEndToEnd, retryDeadLetterEndToEnd } from './examples-e2e.js';

describe('examples end to end (memory broker, in process)', () => {
  it('priority-tasks: high-priority tasks sent last run first', async () => {
    const order = await priorityTasksEndToEnd(`memory://${randomUUID()}`);
    expect(order).toHaveLength(8);
    // Concurrency 1: at most the one message already in the prefetch window runs out of order.
    expect(order.slice(0, 5).filter((t) => t === 'user.notify').length).toBeGreaterThanOrEqual(4);
  });

  it('retry-dead-letter: attempts through the delay queue, then the dead letter with its reason', async () => {
    const { events, dead } = await retryDeadLetterEndToEnd(`memory://${randomUUID()}`);
    expect(events.filter((e) => e.event === 'task-retry').map((e) => e.attempt)).toEqual(
      expect.arrayContaining([1, 2]),
    );
    expect(events.find((e) => e.event === 'task-done')).toMatchObject({ task: 'invoice.send', attempt: 3 });
    expect(events.find((e) => e.event === 'task-dead-letter')).toMatchObject({ reason: 'failed', attempt: 4 });
    expect(dead[0]).toMatchObject({
      body: { invoiceId: 'bad' },
      headers: { 'x-dead-letter-reason': { reason: 'failed', attempts: 4, task: 'invoice.send' } },
    });
  }, 30_000);
});
