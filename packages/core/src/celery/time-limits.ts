/**
 * Celery's time limits for a handler: at the soft limit its signal is aborted (the handler may throw
 * the signal's reason, Celery's `SoftTimeLimitExceeded`, or finish up); at the hard limit the task
 * fails with `TimeLimitExceeded` whatever the handler does. JavaScript cannot kill a running
 * function, so a handler that ignores its signal goes on, but its outcome is no longer recorded.
 *
 * @module
 */
import { CeleryTimeLimitError } from './errors.js';

/** `[hard, soft]` in seconds, as in the `timelimit` header; null for none. */
export type TimeLimits = readonly [number | null, number | null];

/** Runs `work` within `limits`; rejects with {@link CeleryTimeLimitError} at the hard limit. */
export async function withinTimeLimits(work: (signal: AbortSignal) => unknown, limits: TimeLimits): Promise<unknown> {
  const [hard, soft] = limits;
  const controller = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  if (soft !== null && soft > 0) {
    timers.push(setTimeout(() => controller.abort(new CeleryTimeLimitError('soft', soft)), soft * 1000));
  }
  const running = Promise.resolve().then(() => work(controller.signal));
  try {
    if (hard === null || hard <= 0) return await running;
    // The handler may still settle after the limit: nobody listens then, and that must not be an unhandled rejection.
    running.catch(() => undefined);
    const limit = new Promise<never>((_, reject) => {
      timers.push(
        setTimeout(() => {
          const error = new CeleryTimeLimitError('hard', hard);
          if (!controller.signal.aborted) controller.abort(error);
          reject(error);
        }, hard * 1000),
      );
    });
    return await Promise.race([running, limit]);
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
}
