/**
 * The clock that schedules and rate limits read and wait on. Injectable so tests can move time
 * themselves (`new ManualTimers()` in tests, or fake timers with the default).
 *
 * @module
 */

/** Reading the time and waiting for it. */
export interface Timers {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `fn` after `ms`; the handle goes to {@link Timers.clearTimeout}. Must not keep the process alive on its own. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** `Date.now` and unref'd `setTimeout` (read at each call, so fake timers installed later apply). */
export const SYSTEM_TIMERS: Timers = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => {
    const timer = setTimeout(fn, ms);
    timer.unref?.();
    return timer;
  },
  clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});
