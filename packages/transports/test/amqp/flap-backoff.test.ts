import { describe, expect, it } from 'vitest';
import { firstAttemptAfterLoss } from '../../src/amqp/connect.js';

describe('reconnect backoff after a connection lost at once', () => {
  it('starts over after a connection that lived', () => {
    expect(firstAttemptAfterLoss(true, 60_000, 4)).toBe(1);
  });

  it('goes on from the attempt that opened a connection lost right after it became ready', () => {
    // A worker whose subscription the broker refused reconnected 124 times in 8 s with no backoff: each connect
    // succeeded, so every recovery started at attempt 1 (no delay). Now each quick loss counts one more.
    expect(firstAttemptAfterLoss(true, 40, 1)).toBe(2);
    expect(firstAttemptAfterLoss(true, 40, 2)).toBe(3);
    expect(firstAttemptAfterLoss(true, 4_999, 7)).toBe(8);
  });

  it('starts over when the loss came while not ready (a failed attempt counts itself)', () => {
    expect(firstAttemptAfterLoss(false, 10, 3)).toBe(1);
  });
});
