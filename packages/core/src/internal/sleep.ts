/**
 * A cancellable delay.
 *
 * @module
 */

/**
 * Longest delay a Node timer can hold. Larger values overflow and fire after 1 ms (with a
 * `TimeoutOverflowWarning`), so every delay Wakame schedules is clamped to this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Clamps a delay into what a timer can represent: negative and `NaN` become 0, anything above
 * {@link MAX_TIMER_MS} (including `Infinity`) becomes {@link MAX_TIMER_MS}.
 */
export function clampTimerMs(ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return Math.min(ms, MAX_TIMER_MS);
}

/**
 * Resolves after `ms` milliseconds, or rejects with `signal.reason` as soon as `signal` aborts
 * (immediately when it already has).
 *
 * The timer is a normal (ref'd) timer on purpose: a pending sleep is pending work, and the
 * process should not exit under it. The timer and the abort listener are both released when the
 * promise settles, so nothing outlives the sleep.
 *
 * @param ms - Delay in milliseconds, clamped with {@link clampTimerMs}.
 * @param signal - Cancels the sleep.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, clampTimerMs(ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
