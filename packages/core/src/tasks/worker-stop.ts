/**
 * The worker's stop sequence. The first request stops taking work and starts the deadline; the deadline, or a
 * second request, forces the stop: running handlers are no longer waited for (their signal is aborted) and their
 * messages go back to their queues.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';

/** How long a stop waits for running handlers unless told otherwise. */
export const DEFAULT_STOP_DEADLINE_MS = 30_000;

/** The two stages of a stop, as signals and promises. */
export class StopControl {
  readonly #requested = new AbortController();
  readonly #forced = new AbortController();
  /** Resolves at the first request. */
  readonly requested: Promise<void>;
  /** Resolves when waiting is over: the deadline passed or a second request came. */
  readonly forced: Promise<void>;
  #timer: NodeJS.Timeout | undefined;

  constructor() {
    this.requested = settledOn(this.#requested.signal);
    this.forced = settledOn(this.#forced.signal);
  }

  /** Read once per delivery: a plain field, cheaper than the signal's `aborted` getter. */
  #isRequested = false;
  #isForced = false;

  get isRequested(): boolean {
    return this.#isRequested;
  }

  get isForced(): boolean {
    return this.#isForced;
  }

  /** Aborted at the first request (e.g. to abandon a connection attempt). */
  get requestedSignal(): AbortSignal {
    return this.#requested.signal;
  }

  /** Aborted when the stop is forced: what handlers see as `ctx.signal`. */
  get forcedSignal(): AbortSignal {
    return this.#forced.signal;
  }

  /**
   * The first call stops taking work and forces the stop after `deadlineMs` (0: at once; `Infinity`: never);
   * any later call forces it at once.
   */
  request(deadlineMs: number): void {
    if (!(deadlineMs >= 0)) {
      throw new InvalidArgumentError(`a stop deadline is a number of milliseconds ≥ 0, got ${deadlineMs}`);
    }
    if (this.isRequested || deadlineMs === 0) {
      this.force();
      return;
    }
    this.#isRequested = true;
    this.#requested.abort();
    if (Number.isFinite(deadlineMs)) this.#timer = setTimeout(() => this.force(), deadlineMs);
  }

  force(): void {
    clearTimeout(this.#timer);
    this.#isRequested = true;
    this.#isForced = true;
    this.#requested.abort();
    this.#forced.abort();
  }

  /** `work`, or nothing once the stop is forced, whichever comes first; never rejects. */
  async untilForced(work: Promise<unknown>): Promise<void> {
    await Promise.race([work.then(noop, noop), this.forced]);
  }

  /** The deadline is no longer needed (the worker has stopped). */
  dispose(): void {
    clearTimeout(this.#timer);
  }
}

/** Counts work in progress (handlers, decode-error hooks) and tells when none is left. */
export class WorkInProgress {
  #count = 0;
  #waiters: (() => void)[] = [];

  get size(): number {
    return this.#count;
  }

  /** One more piece of work; call the returned function once when it ends. */
  enter(): () => void {
    this.#count++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#leave();
    };
  }

  /**
   * {@link WorkInProgress.enter} without the closure, for the per-message path: the caller pairs it
   * with exactly one {@link WorkInProgress.leave} (in a `finally`).
   */
  enterOne(): void {
    this.#count++;
  }

  /** Ends one piece of work started with {@link WorkInProgress.enterOne}. */
  leave(): void {
    this.#leave();
  }

  #leave(): void {
    if (--this.#count > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves once nothing is in progress. */
  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** The same signal again within this many ms is one request delivered twice (a terminal and pnpm both send it). */
const DUPLICATE_SIGNAL_MS = 300;

/** A signal listener calling `onSignal(true)` for the first signal and `onSignal(false)` for each later one. */
export function countSignals(onSignal: (first: boolean) => void): (signal: string) => void {
  let count = 0;
  let last: { signal: string; at: number } | undefined;
  return (signal) => {
    const at = performance.now();
    if (last?.signal === signal && at - last.at < DUPLICATE_SIGNAL_MS) return;
    last = { signal, at };
    onSignal(++count === 1);
  };
}

function settledOn(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function noop(): void {}
