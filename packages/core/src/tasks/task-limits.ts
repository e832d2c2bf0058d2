/**
 * Per-task limits inside one worker: `concurrency` (handlers of the task running at once) and
 * `rateLimit` (starts per period, a token bucket that refills continuously and holds at most `max`,
 * so a rested worker allows a burst of `max`). A message waiting for either stays delivered and
 * unacknowledged in the worker's prefetch window: nothing is requeued or reordered to wait.
 *
 * Both are per worker: N workers allow N × max starts per period and N × concurrency handlers (the
 * README's "Schedules and rate limits" says how to get one limit across workers).
 *
 * @module
 */
import type { CompiledTask } from '../topology/desired.js';
import type { Timers } from './schedule/clock.js';
import { SYSTEM_TIMERS } from './schedule/clock.js';

/** A waiter: resolved when it may go, or dropped when its signal aborts. */
interface Waiter {
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/** Waiters in arrival order, each dropped from the line when its signal aborts. */
class Line {
  readonly #waiters: Waiter[] = [];

  get length(): number {
    return this.#waiters.length;
  }

  wait(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#waiters.indexOf(waiter);
          if (at >= 0) this.#waiters.splice(at, 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Lets the first waiter go; false when there is none. */
  next(): boolean {
    const waiter = this.#waiters.shift();
    if (!waiter) return false;
    waiter.signal.removeEventListener('abort', waiter.onAbort);
    waiter.resolve();
    return true;
  }
}

/** At most `limit` holders at once; the others wait in arrival order. */
export class Semaphore {
  #held = 0;
  readonly #line = new Line();

  constructor(readonly limit: number) {}

  /** Handlers holding a place now. */
  get held(): number {
    return this.#held;
  }

  /** Takes a place: at once (undefined) when one is free, else a promise that resolves once it is. */
  acquire(signal: AbortSignal): Promise<void> | undefined {
    if (this.#held < this.limit && this.#line.length === 0) {
      this.#held++;
      return undefined;
    }
    // The place is handed over by release(), never freed in between for a newcomer to take.
    return this.#line.wait(signal);
  }

  release(): void {
    if (!this.#line.next()) this.#held--;
  }
}

/** `max` starts per `perMs`: a bucket of `max` tokens refilled continuously at `max / perMs` per ms. */
export class TokenBucket {
  #tokens: number;
  #at: number;
  readonly #line = new Line();
  #timer: unknown;

  constructor(
    readonly max: number,
    readonly perMs: number,
    readonly timers: Timers = SYSTEM_TIMERS,
  ) {
    this.#tokens = max;
    this.#at = timers.now();
  }

  /** Takes a token: at once (undefined) when there is one, else a promise that resolves once there is. */
  take(signal: AbortSignal): Promise<void> | undefined {
    this.#refill();
    if (this.#tokens >= 1 && this.#line.length === 0) {
      this.#tokens -= 1;
      return undefined;
    }
    const waiting = this.#line.wait(signal);
    this.#arm();
    return waiting;
  }

  #refill(): void {
    const now = this.timers.now();
    this.#tokens = Math.min(this.max, this.#tokens + ((now - this.#at) * this.max) / this.perMs);
    this.#at = now;
  }

  /** One timer at a time: wakes up when the next token is whole, serves the line, re-arms while it is not empty. */
  #arm(): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(1, Math.ceil(((1 - this.#tokens) * this.perMs) / this.max));
    this.#timer = this.timers.setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
      while (this.#tokens >= 1 && this.#line.next()) this.#tokens -= 1;
      if (this.#line.length > 0) this.#arm();
    }, wait);
  }
}

/** The limits of one task in one worker. */
export class TaskLimit {
  readonly #slots: Semaphore | undefined;
  readonly #bucket: TokenBucket | undefined;

  constructor(task: Pick<CompiledTask, 'concurrency' | 'rateLimit'>, timers: Timers = SYSTEM_TIMERS) {
    this.#slots = task.concurrency === undefined ? undefined : new Semaphore(task.concurrency);
    this.#bucket =
      task.rateLimit === undefined ? undefined : new TokenBucket(task.rateLimit.max, task.rateLimit.perMs, timers);
  }

  /** Handlers of the task running now (0 when it has no concurrency limit). */
  get running(): number {
    return this.#slots?.held ?? 0;
  }

  /**
   * Waits for a place (concurrency first, so a start token is taken only when the handler can start at
   * once), then for a start token. Call {@link release} once the handler is over. When this rejects (its
   * signal aborted) nothing is held: a place taken meanwhile is given back here.
   */
  async enter(signal: AbortSignal): Promise<void> {
    await this.#slots?.acquire(signal);
    try {
      await this.#bucket?.take(signal);
    } catch (error) {
      this.#slots?.release();
      throw error;
    }
  }

  release(): void {
    this.#slots?.release();
  }
}

/** The limits of the tasks that have any, by task name. */
export function taskLimits(tasks: Iterable<CompiledTask>, timers: Timers = SYSTEM_TIMERS): Map<string, TaskLimit> {
  const limits = new Map<string, TaskLimit>();
  for (const task of tasks) {
    if (task.concurrency !== undefined || task.rateLimit !== undefined)
      limits.set(task.name, new TaskLimit(task, timers));
  }
  return limits;
}
