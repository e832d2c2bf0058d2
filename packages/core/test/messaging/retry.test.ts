import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ConnectionError,
  InvalidArgumentError,
  NotFoundError,
  RetriesExhaustedError,
  TimeoutError,
} from '../../src/errors.js';
import { sleep } from '../../src/internal/sleep.js';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  normaliseRetryPolicy,
  type RetryInfo,
  type RetryPolicy,
  retry,
} from '../../src/messaging/retry.js';

/** Fast, deterministic policy for tests that are not about timing. */
const fast: RetryPolicy = { initialDelayMs: 1, maxDelayMs: 2, jitter: 0, timeoutMs: 5_000 };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('retry', () => {
  it('returns the first success', async () => {
    const op = vi.fn(async () => 'ok');
    await expect(retry(op, fast)).resolves.toBe('ok');
    expect(op).toHaveBeenCalledTimes(1);
  });

  it('succeeds after N retriable failures, numbering attempts from 0', async () => {
    const seen: number[] = [];
    const retries: RetryInfo[] = [];
    const result = await retry(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new ConnectionError(`fail ${attempt}`);
        return attempt;
      },
      { ...fast, onRetry: (info) => void retries.push(info) },
    );
    expect(result).toBe(3);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(retries.map((r) => (r.error as Error).message)).toEqual(['fail 0', 'fail 1', 'fail 2']);
  });

  it('awaits an async onRetry', async () => {
    const order: string[] = [];
    await retry(
      async (attempt) => {
        order.push(`op${attempt}`);
        if (attempt === 0) throw new ConnectionError('x');
      },
      {
        ...fast,
        onRetry: async () => {
          await sleep(5);
          order.push('hook');
        },
      },
    );
    expect(order).toEqual(['op0', 'hook', 'op1']);
  });

  it('rethrows a non-retriable error as it is, without retrying', async () => {
    const plain = new Error('not a Wakame error');
    const op = vi.fn(async () => {
      throw plain;
    });
    await expect(retry(op, fast)).rejects.toBe(plain);
    expect(op).toHaveBeenCalledTimes(1);

    const notFound = new NotFoundError({ kind: 'queue', name: 'q' });
    await expect(retry(async () => Promise.reject(notFound), fast)).rejects.toBe(notFound);
  });

  it('honours a custom retryOn', async () => {
    const op = vi.fn(async (attempt: number) => {
      if (attempt < 2) throw new Error('transient');
      return 'done';
    });
    await expect(retry(op, { ...fast, retryOn: (e) => (e as Error).message === 'transient' })).resolves.toBe('done');
    expect(op).toHaveBeenCalledTimes(3);
  });

  it('gives up with RetriesExhaustedError carrying attempts and the last error', async () => {
    let last: Error | undefined;
    const error = await rejection(
      retry(
        async (attempt) => {
          last = new ConnectionError(`failure ${attempt}`);
          throw last;
        },
        { ...fast, maxRetries: 2 },
      ),
    );
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).attempts).toBe(3);
    expect((error as RetriesExhaustedError).code).toBe('ERR_RETRIES_EXHAUSTED');
    expect((error as Error).cause).toBe(last);
    expect((error as Error).message).toContain('failure 2');
  });

  it.each([{ maxRetries: 0 }, false] as const)('makes a single attempt with %j', async (policy) => {
    const op = vi.fn(async () => {
      throw new ConnectionError('down');
    });
    const error = await rejection(retry(op, policy));
    expect(op).toHaveBeenCalledTimes(1);
    expect((error as RetriesExhaustedError).attempts).toBe(1);
  });

  it('stops at the deadline when every attempt fails', async () => {
    const started = Date.now();
    const op = vi.fn(async () => {
      throw new ConnectionError('down');
    });
    const error = await rejection(
      retry(op, { initialDelayMs: 20, factor: 1, jitter: 0, maxRetries: Number.POSITIVE_INFINITY, timeoutMs: 150 }),
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toContain('deadline of 150 ms');
    expect((error as Error).cause).toBeInstanceOf(ConnectionError);
    expect(op.mock.calls.length).toBeGreaterThan(1);
  });

  it('does not start a wait that would end past the deadline', async () => {
    const started = Date.now();
    const onRetry = vi.fn();
    const error = await rejection(
      retry(
        async () => {
          throw new ConnectionError('down');
        },
        { initialDelayMs: 5_000, jitter: 0, timeoutMs: 3_000, onRetry },
      ),
    );
    // Well under the 3 s deadline: it gave up at once rather than sleeping until the deadline.
    expect(Date.now() - started).toBeLessThan(1_500);
    expect((error as Error).message).toContain('deadline of 3000 ms');
    expect((error as RetriesExhaustedError).attempts).toBe(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('abandons an attempt still running at the deadline, aborting its signal', async () => {
    let seen: AbortSignal | undefined;
    const started = Date.now();
    const error = await rejection(
      retry(
        (_attempt, signal) => {
          seen = signal;
          return new Promise<never>(() => undefined); // ignores the signal and never settles
        },
        { timeoutMs: 60 },
      ),
    );
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).attempts).toBe(1);
    expect((error as Error).message).toContain('deadline of 60 ms');
    expect((error as Error).cause).toBeInstanceOf(TimeoutError);
    expect(seen?.aborted).toBe(true);
  });

  it('keeps the last failure as the cause when a later attempt hits the deadline', async () => {
    const first = new ConnectionError('first failure');
    const error = await rejection(
      retry(
        (attempt, signal) =>
          attempt === 0
            ? Promise.reject(first)
            : new Promise<never>((_resolve, reject) => {
                signal.addEventListener('abort', () => reject(signal.reason as Error));
              }),
        { ...fast, timeoutMs: 80 },
      ),
    );
    expect((error as RetriesExhaustedError).attempts).toBe(2);
    expect((error as Error).cause).toBe(first);
  });

  it('stops at once when the caller aborts during a wait', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const op = vi.fn(async () => {
      throw new ConnectionError('down');
    });
    const started = Date.now();
    const pending = retry(op, {
      initialDelayMs: 2_000,
      jitter: 0,
      signal: controller.signal,
      onRetry: () => void setTimeout(() => controller.abort(reason), 10),
    });
    await expect(pending).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(op).toHaveBeenCalledTimes(1);
  });

  it('aborts a running attempt when the caller aborts', async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = retry(
      (_attempt, signal) => {
        seen = signal;
        return new Promise<never>(() => undefined);
      },
      { signal: controller.signal },
    );
    controller.abort();
    const error = await rejection(pending);
    expect((error as Error).name).toBe('AbortError');
    expect(seen?.aborted).toBe(true);
  });

  it('does not call the operation when the signal is already aborted', async () => {
    const op = vi.fn(async () => 'never');
    const reason = new Error('already');
    await expect(retry(op, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(op).not.toHaveBeenCalled();
  });

  it('wraps a non-Error abort reason in a TimeoutError', async () => {
    const error = await rejection(retry(async () => 1, { signal: AbortSignal.abort('bye') }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).cause).toBe('bye');
  });

  it('leaves no timer behind', async () => {
    vi.useFakeTimers();
    const pending = retry(async (attempt) => {
      if (attempt < 2) throw new ConnectionError('x');
      return 'ok';
    }, fast);
    await vi.runAllTimersAsync();
    await expect(pending).resolves.toBe('ok');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('backoffDelay', () => {
  const noJitter = { initialDelayMs: 100, factor: 2, maxDelayMs: 1_000, jitter: 0 };

  it('grows exponentially and is capped', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, noJitter));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('stays capped (and a number) for huge attempt numbers', () => {
    expect(backoffDelay(10_000, noJitter)).toBe(1_000);
    expect(backoffDelay(10_000, { ...noJitter, initialDelayMs: 0 })).toBe(0);
  });

  it('randomises the jitter fraction of the delay downwards', () => {
    const policy = { ...noJitter, jitter: 0.5 };
    expect(backoffDelay(3, policy, () => 0)).toBe(200);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(300);
    expect(backoffDelay(3, policy, () => 0.999_999)).toBe(400);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, policy);
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
    }
  });

  it('uses full jitter when jitter is 1', () => {
    const policy = { ...noJitter, jitter: 1 };
    expect(backoffDelay(2, policy, () => 0)).toBe(0);
    expect(backoffDelay(2, policy, () => 0.25)).toBe(50);
  });

  it('clamps a misbehaving random source', () => {
    expect(backoffDelay(1, { ...noJitter, jitter: 1 }, () => 7)).toBe(100);
    expect(backoffDelay(1, { ...noJitter, jitter: 1 }, () => Number.NaN)).toBe(0);
  });

  it('uses the defaults', () => {
    expect(backoffDelay(1, { jitter: 0 })).toBe(DEFAULT_RETRY_POLICY.initialDelayMs);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects attempt %s', (attempt) => {
    expect(() => backoffDelay(attempt, noJitter)).toThrow(InvalidArgumentError);
  });
});

describe('normaliseRetryPolicy', () => {
  it('fills in the defaults for undefined, true and {}', () => {
    for (const input of [undefined, true, {}] as const) {
      expect(normaliseRetryPolicy(input)).toMatchObject(DEFAULT_RETRY_POLICY);
    }
    expect(DEFAULT_RETRY_POLICY).toEqual({
      maxRetries: 5,
      initialDelayMs: 100,
      maxDelayMs: 10_000,
      factor: 2,
      jitter: 0.5,
      timeoutMs: 30_000,
    });
  });

  it('turns false into a single attempt', () => {
    expect(normaliseRetryPolicy(false).maxRetries).toBe(0);
  });

  it('clamps out-of-range values that have a sensible reading', () => {
    const p = normaliseRetryPolicy({
      jitter: 3,
      factor: 0.5,
      initialDelayMs: 500,
      maxDelayMs: 200,
      maxRetries: 2.7,
      timeoutMs: Number.POSITIVE_INFINITY,
    });
    expect(p).toMatchObject({ jitter: 1, factor: 1, initialDelayMs: 200, maxDelayMs: 200, maxRetries: 2 });
    expect(p.timeoutMs).toBe(2 ** 31 - 1);
  });

  const fields = ['maxRetries', 'initialDelayMs', 'maxDelayMs', 'factor', 'jitter', 'timeoutMs'] as const;
  it.each(fields.flatMap((field) => [Number.NaN, -1].map((value) => [field, value] as const)))(
    'rejects %s = %s',
    (field, value) => {
      expect(() => normaliseRetryPolicy({ [field]: value })).toThrow(InvalidArgumentError);
    },
  );

  it('rejects other invalid input', () => {
    expect(() => normaliseRetryPolicy({ timeoutMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => normaliseRetryPolicy({ maxRetries: '3' as unknown as number })).toThrow(InvalidArgumentError);
    expect(() => normaliseRetryPolicy({ retryOn: 1 as unknown as () => boolean })).toThrow(InvalidArgumentError);
    expect(() => normaliseRetryPolicy({ onRetry: 'x' as unknown as () => void })).toThrow(InvalidArgumentError);
    expect(() => normaliseRetryPolicy({ signal: {} as AbortSignal })).toThrow(InvalidArgumentError);
    expect(() => normaliseRetryPolicy(null as unknown as RetryPolicy)).toThrow(InvalidArgumentError);
  });

  it('makes retry() reject invalid policies before calling the operation', async () => {
    const op = vi.fn(async () => 1);
    await expect(retry(op, { jitter: Number.NaN })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(op).not.toHaveBeenCalled();
  });
});

describe('sleep', () => {
  it('resolves after the delay', async () => {
    const started = Date.now();
    await sleep(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('rejects with the abort reason, immediately when already aborted', async () => {
    const reason = new Error('stop');
    await expect(sleep(10_000, AbortSignal.abort(reason))).rejects.toBe(reason);
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('clears its timer when aborted', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort(new Error('x'));
    await expect(pending).rejects.toThrow('x');
    expect(vi.getTimerCount()).toBe(0);
  });
});
