import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { priorityTasksEndToEnd } from './examples-e2e.js';

describe('examples end to end (memory broker, in process)', () => {
  it('priority-tasks: high-priority tasks sent last run first', async () => {
    const order = await priorityTasksEndToEnd(`memory://${randomUUID()}`);
    expect(order).toHaveLength(8);
    // Concurrency 1: at most the one message already in the prefetch window runs out of order.
    expect(order.slice(0, 5).filter((t) => t === 'user.notify').length).toBeGreaterThanOrEqual(4);
  });
});
