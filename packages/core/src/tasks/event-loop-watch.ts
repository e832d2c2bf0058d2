/**
 * Notices a stalled event loop for `/healthz`. A timer that should fire every `intervalMs` measures how late it
 * fires: that lateness is the loop's delay (a synchronous loop, a blocking call, a long GC pause). A probe can only be
 * answered once the loop runs again, so "stalled" means "a delay beyond the threshold was seen within the last
 * `windowMs`" — long enough for a probe that arrives after the stall to see it.
 *
 * A plain lag timer rather than `monitorEventLoopDelay`: its reading is available the moment the loop resumes, and it
 * is unref'd, so it never keeps a process alive.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';

/** Options of the event-loop stall check behind `/healthz`. */
export interface EventLoopWatchOptions {
  /** A loop delay at least this long (ms) makes `/healthz` fail. @defaultValue 1000 */
  readonly stallThresholdMs?: number;
  /** How long (ms) `/healthz` keeps failing after such a delay was seen. @defaultValue 10000 */
  readonly stallWindowMs?: number;
  /** How often (ms) the timer measures the delay. @defaultValue 100 */
  readonly intervalMs?: number;
}

/** What the watch last saw, for the `/healthz` body. */
export interface EventLoopStatus {
  readonly stalled: boolean;
  /** The delay measured at the last tick (ms). */
  readonly delayMs: number;
  /** The last delay that reached the threshold (ms), and when (ms since the epoch), if within the window. */
  readonly lastStall?: { readonly delayMs: number; readonly at: number };
  readonly thresholdMs: number;
}

/** Measures the event loop's delay with an unref'd timer until `stop()`. */
export class EventLoopWatch {
  readonly #thresholdMs: number;
  readonly #windowMs: number;
  readonly #intervalMs: number;
  readonly #timer: NodeJS.Timeout;
  #expected: number;
  #delayMs = 0;
  #lastStall: { delayMs: number; at: number } | undefined;

  constructor(options: EventLoopWatchOptions = {}) {
    this.#thresholdMs = positive(options.stallThresholdMs ?? 1000, 'stallThresholdMs');
    this.#windowMs = positive(options.stallWindowMs ?? 10_000, 'stallWindowMs');
    this.#intervalMs = positive(options.intervalMs ?? 100, 'intervalMs');
    this.#expected = performance.now() + this.#intervalMs;
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  status(): EventLoopStatus {
    // The timer itself may be overdue right now (the loop is only just running again): count that delay too.
    this.#observe(Math.max(0, performance.now() - this.#expected));
    const stall = this.#lastStall;
    const recent = stall !== undefined && Date.now() - stall.at < this.#windowMs;
    return {
      stalled: recent,
      delayMs: this.#delayMs,
      ...(recent ? { lastStall: { ...stall } } : {}),
      thresholdMs: this.#thresholdMs,
    };
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const now = performance.now();
    this.#delayMs = Math.max(0, now - this.#expected);
    this.#observe(this.#delayMs);
    this.#expected = now + this.#intervalMs;
  }

  #observe(delayMs: number): void {
    if (delayMs >= this.#thresholdMs) this.#lastStall = { delayMs, at: Date.now() };
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new InvalidArgumentError(`${name} must be a number of milliseconds > 0, got ${value}`);
  }
  return value;
}
