import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runReplayDemo } from '../../../examples/dead-letter-replay/main.js';

describe('examples/dead-letter-replay', () => {
  it('dead-letters while the warehouse is down, replays each order once on attempt 1', {
    timeout: 60_000,
  }, async () => {
    const demo = await runReplayDemo(`memory://${randomUUID()}`);
    // Handled concurrently: dead-lettered in any order.
    expect([...demo.listed].sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'o-1', reason: 'failed', attempts: 2 },
      { id: 'o-2', reason: 'failed', attempts: 2 },
      { id: 'o-3', reason: 'failed', attempts: 2 },
    ]);
    expect([...demo.wouldMove].sort()).toEqual(['o-1', 'o-2', 'o-3']);
    expect(demo.replayed).toEqual(demo.wouldMove);
    expect([...demo.replayed].sort()).toEqual(['o-1', 'o-2', 'o-3']);
    expect([...demo.shipped].sort((a, b) => a.orderId.localeCompare(b.orderId))).toEqual([
      { orderId: 'o-1', attempt: 1 },
      { orderId: 'o-2', attempt: 1 },
      { orderId: 'o-3', attempt: 1 },
    ]);
    expect(demo.left).toBe(0);
  });
});
