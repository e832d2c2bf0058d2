/**
 * Waiting helpers for asynchronous tests. Fixed sleeps make tests both slow and flaky; these poll or count down
 * instead and fail with a message that says what was being waited for.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this many milliseconds (default 5000). */
  readonly timeoutMs?: number;
  /** Pause between two evaluations of the condition (default 5). */
  readonly intervalMs?: number;
  /**
   * What is awaited, for the timeout message (default `'condition'`). A function is called when the wait
   * times out, so the message can say how far things got then (not when the wait began).
   */
  readonly what?: string | (() => string);
}

function describe(value: unknown): string {
  const text = inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * Polls `condition` (sync or async) until it returns a truthy value, and resolves with that value.
 *
 * A condition that throws counts as "not yet", so assertions can be used as conditions; on timeout the last
 * thrown error becomes the rejection's `cause`. The timeout also covers a condition whose promise never settles.
 * No fixed sleeps in tests: use this.
 *
 * @throws Error naming `what` and the last value (or error) when `timeoutMs` elapses first.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 5000, intervalMs = 5, what = 'condition' } = options;
  return new Promise<NonNullable<T>>((resolve, reject) => {
    let settled = false;
    let last = 'never evaluated';
    let lastError: unknown;
    const timer = setTimeout(() => {
      settled = true;
      const message = `timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}; last value: ${last}`;
      reject(lastError === undefined ? new Error(message) : new Error(message, { cause: lastError }));
    }, timeoutMs);

    const poll = async (): Promise<void> => {
      while (!settled) {
        try {
          const value = await condition();
          if (settled) return;
          if (value) {
            settled = true;
            clearTimeout(timer);
            resolve(value as NonNullable<T>);
            return;
          }
          last = describe(value);
          lastError = undefined;
        } catch (error) {
          last = `threw ${describe(error)}`;
          lastError = error;
        }
        await sleep(intervalMs);
      }
    };
    void poll();
  });
}

/**
 * A countdown latch: lets a test wait until some number of events (deliveries, callbacks) has happened.
 *
 * @example
 * ```ts
 * const received = new Latch(3);
 * consumer.on('message', () => received.countDown());
 * await received.wait(2000);
 * ```
 */
export class Latch {
  #count: number;
  readonly #initial: number;
  readonly #done: Promise<void>;
  #release!: () => void;

  /** @param count - How many {@link Latch.countDown} calls open the latch; a non-negative integer. */
  constructor(count: number) {
    if (!Number.isInteger(count) || count < 0)
      throw new RangeError(`latch count must be a non-negative integer: ${count}`);
    this.#count = count;
    this.#initial = count;
    this.#done = new Promise<void>((resolve) => {
      this.#release = resolve;
    });
    if (count === 0) this.#release();
  }

  /** Counts down by one; opens the latch on reaching zero. Extra calls after that are ignored. */
  countDown(): void {
    if (this.#count === 0) return;
    this.#count -= 1;
    if (this.#count === 0) this.#release();
  }

  /** Remaining count; zero once the latch is open. */
  get count(): number {
    return this.#count;
  }

  /**
   * Resolves once the count reaches zero.
   *
   * @param timeoutMs - Reject after this many milliseconds (default 5000).
   * @throws Error saying how many counts were still missing when the timeout elapsed.
   */
  async wait(timeoutMs = 5000): Promise<void> {
    if (this.#count === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`latch still at ${this.#count} of ${this.#initial} after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await Promise.race([this.#done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Settles as `promise` does, or rejects naming `what` once `ms` milliseconds have passed without it settling: a
 * wedged operation fails its test instead of hanging it. (The operation itself is not cancelled.)
 */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A unique name for queues, exchanges and keys, so tests sharing a broker never collide. */
export function randomName(prefix?: string): string {
  return `${prefix ?? 't'}-${randomUUID()}`;
}
