/**
 * Bounded retries: exponential backoff with jitter, a retry budget, and an overall deadline that
 * covers attempts and waits alike, so a retried operation can never hang forever by default.
 *
 * @module
 */
import { InvalidArgumentError, isRetriable, RetriesExhaustedError, TimeoutError } from '../errors.js';
import { clampTimerMs, MAX_TIMER_MS, sleep } from '../internal/sleep.js';

/** What {@link RetryPolicy.onRetry} is told before each wait. */
export interface RetryInfo {
  /** The retry about to happen: 1 for the first retry. */
  readonly attempt: number;
  /** How long the wait before it will be. */
  readonly delayMs: number;
  /** Why the previous attempt failed. */
  readonly error: unknown;
}

/** How {@link retry} retries. Every field is optional; see {@link DEFAULT_RETRY_POLICY}. */
export interface RetryPolicy {
  /**
   * Attempts after the first; 0 = no retry. `Infinity` retries until {@link RetryPolicy.timeoutMs}.
   * @defaultValue 5
   */
  readonly maxRetries?: number;
  /** Wait before the first retry (ms). @defaultValue 100 */
  readonly initialDelayMs?: number;
  /** Longest wait between two attempts (ms). @defaultValue 10_000 */
  readonly maxDelayMs?: number;
  /** Each wait is this many times the previous one (before capping and jitter); at least 1. @defaultValue 2 */
  readonly factor?: number;
  /**
   * 0..1: fraction of each delay that is randomised ("full jitter" when 1). Jitter keeps many
   * clients that failed together from retrying in lockstep.
   * @defaultValue 0.5
   */
  readonly jitter?: number;
  /**
   * Overall deadline for all attempts including waits (ms). Values beyond what a timer can hold
   * (about 24.8 days, including `Infinity`) are clamped to it.
   * @defaultValue 30_000
   */
  readonly timeoutMs?: number;
  /** Stops retrying (and aborts the running attempt) when aborted. @defaultValue undefined */
  readonly signal?: AbortSignal;
  /** Which errors to retry; others are rethrown as they are. @defaultValue {@link isRetriable} */
  readonly retryOn?: (error: unknown) => boolean;
  /** Called (and awaited) before each wait; an error it throws ends the retries. @defaultValue undefined */
  readonly onRetry?: (info: RetryInfo) => void | Promise<void>;
}

/** The numeric defaults of {@link RetryPolicy}. */
export const DEFAULT_RETRY_POLICY: Readonly<
  Required<Pick<RetryPolicy, 'maxRetries' | 'initialDelayMs' | 'maxDelayMs' | 'factor' | 'jitter' | 'timeoutMs'>>
> = Object.freeze({
  maxRetries: 5,
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: 0.5,
  timeoutMs: 30_000,
});

/** A validated {@link RetryPolicy} with every default filled in. */
export interface NormalisedRetryPolicy extends Readonly<Required<Omit<RetryPolicy, 'signal' | 'onRetry'>>> {
  readonly signal?: AbortSignal;
  readonly onRetry?: (info: RetryInfo) => void | Promise<void>;
}

/**
 * Validates a policy and fills in the defaults. `true` (or `undefined`) means all defaults,
 * `false` means a single attempt. Numbers are clamped where a sensible reading exists
 * (`jitter` above 1 → 1, `factor` below 1 → 1, `initialDelayMs` above `maxDelayMs` → `maxDelayMs`,
 * delays and deadline to the longest timer, a fractional `maxRetries` rounded down).
 *
 * @throws {@link InvalidArgumentError} for `NaN`, negative numbers, a zero `timeoutMs`, or
 * callbacks/signals of the wrong type.
 */
export function normaliseRetryPolicy(policy?: RetryPolicy | boolean): NormalisedRetryPolicy {
  if (policy === undefined || policy === true) return normaliseRetryPolicy({});
  if (policy === false) return normaliseRetryPolicy({ maxRetries: 0 });
  if (typeof policy !== 'object' || policy === null) {
    throw new InvalidArgumentError(
      `retry policy must be an object or a boolean, got ${policy === null ? 'null' : typeof policy}`,
    );
  }
  const d = DEFAULT_RETRY_POLICY;
  const maxRetries = Math.floor(nonNegative('maxRetries', policy.maxRetries ?? d.maxRetries));
  const maxDelayMs = clampTimerMs(nonNegative('maxDelayMs', policy.maxDelayMs ?? d.maxDelayMs));
  const initialDelayMs = Math.min(
    clampTimerMs(nonNegative('initialDelayMs', policy.initialDelayMs ?? d.initialDelayMs)),
    maxDelayMs,
  );
  const factor = Math.max(1, nonNegative('factor', policy.factor ?? d.factor));
  const jitter = Math.min(1, nonNegative('jitter', policy.jitter ?? d.jitter));
  const timeoutMs = nonNegative('timeoutMs', policy.timeoutMs ?? d.timeoutMs);
  if (timeoutMs === 0) throw new InvalidArgumentError('retry timeoutMs must be greater than 0');
  const retryOn = policy.retryOn ?? isRetriable;
  if (typeof retryOn !== 'function') throw new InvalidArgumentError('retry retryOn must be a function');
  if (policy.onRetry !== undefined && typeof policy.onRetry !== 'function') {
    throw new InvalidArgumentError('retry onRetry must be a function');
  }
  if (policy.signal !== undefined && !(policy.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('retry signal must be an AbortSignal');
  }
  return {
    maxRetries,
    initialDelayMs,
    maxDelayMs,
    factor,
    jitter,
    timeoutMs: Math.min(timeoutMs, MAX_TIMER_MS),
    retryOn,
    ...(policy.signal && { signal: policy.signal }),
    ...(policy.onRetry && { onRetry: policy.onRetry }),
  };
}

/**
 * The wait before retry number `attempt` (1 = first retry): `initialDelayMs × factor^(attempt−1)`,
 * capped at `maxDelayMs`, of which the `jitter` fraction is randomised downwards. The result lies in
 * `[capped × (1 − jitter), capped]`, rounded to whole milliseconds.
 *
 * @param random - Source of randomness in [0, 1), injectable for tests.
 * @throws {@link InvalidArgumentError} when `attempt` is not an integer ≥ 1 or the policy is invalid.
 */
export function backoffDelay(attempt: number, policy?: RetryPolicy, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new InvalidArgumentError(`backoff attempt must be an integer ≥ 1, got ${String(attempt)}`);
  }
  return delayFor(attempt, normaliseRetryPolicy(policy ?? {}), random);
}

/**
 * Runs `operation` until it succeeds, retrying failures that `retryOn` accepts. `policy` is read by
 * {@link normaliseRetryPolicy} (`false` = one attempt, still bounded by the deadline).
 *
 * `operation` receives the retry number (0 for the first call) and a signal that aborts when the
 * deadline passes or `policy.signal` aborts; an attempt that ignores the signal is abandoned at
 * that moment all the same (its eventual result is dropped).
 *
 * @throws the operation's own error, unchanged, when `retryOn` rejects it.
 * @throws {@link RetriesExhaustedError} when `maxRetries` retries failed, or when the deadline
 * passed (reason `deadline of N ms`; `cause` is the last failure, or a {@link TimeoutError} when the
 * first attempt was still running). A wait that would end past the deadline is not started.
 * @throws `policy.signal.reason` when it is an `Error` and the signal aborts (otherwise a
 * {@link TimeoutError} with the reason as its cause).
 */
export async function retry<T>(
  operation: (attempt: number, signal: AbortSignal) => Promise<T>,
  policy?: RetryPolicy | boolean,
): Promise<T> {
  const p = normaliseRetryPolicy(policy);
  const external = p.signal;
  if (external?.aborted) throw abortError(external);

  const started = performance.now();
  const controller = new AbortController();
  const deadlineTimer = setTimeout(() => {
    controller.abort(new TimeoutError(`deadline of ${p.timeoutMs} ms passed`));
  }, p.timeoutMs);
  const onExternalAbort = (): void => controller.abort(external?.reason);
  external?.addEventListener('abort', onExternalAbort, { once: true });

  let lastError: unknown;
  let failures = 0;
  let attempts = 0;
  const stopped = (): Error => {
    if (external?.aborted) return abortError(external);
    const cause =
      failures > 0
        ? lastError
        : new TimeoutError(`attempt ${attempts} was still running when the deadline of ${p.timeoutMs} ms passed`);
    return new RetriesExhaustedError(attempts, { cause, reason: `deadline of ${p.timeoutMs} ms` });
  };

  try {
    for (let attempt = 0; ; attempt++) {
      attempts = attempt + 1;
      try {
        return await untilAborted(operation(attempt, controller.signal), controller.signal);
      } catch (error) {
        // Aborted by us (deadline or caller): the error is a consequence, not a reason to retry.
        if (controller.signal.aborted) throw stopped();
        if (!p.retryOn(error)) throw error;
        lastError = error;
        failures++;
      }
      if (attempt >= p.maxRetries) throw new RetriesExhaustedError(attempts, { cause: lastError });
      const delayMs = delayFor(attempt + 1, p, Math.random);
      // Waking up after the deadline could only end in failure: fail now instead.
      if (performance.now() - started + delayMs >= p.timeoutMs) {
        throw new RetriesExhaustedError(attempts, { cause: lastError, reason: `deadline of ${p.timeoutMs} ms` });
      }
      try {
        if (p.onRetry)
          await untilAborted(p.onRetry({ attempt: attempt + 1, delayMs, error: lastError }), controller.signal);
        await sleep(delayMs, controller.signal);
      } catch (error) {
        if (controller.signal.aborted) throw stopped();
        throw error;
      }
    }
  } finally {
    // The operation's signal is deliberately not aborted on success: whatever the operation built
    // (a connection, say) may be tied to it and must outlive the retry loop.
    clearTimeout(deadlineTimer);
    external?.removeEventListener('abort', onExternalAbort);
  }
}

function delayFor(attempt: number, p: NormalisedRetryPolicy, random: () => number): number {
  // Guard 0 × Infinity (= NaN) when a huge attempt number overflows the exponent.
  const raw = p.initialDelayMs === 0 ? 0 : p.initialDelayMs * p.factor ** (attempt - 1);
  const capped = Math.min(raw, p.maxDelayMs);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.round(capped * (1 - p.jitter) + capped * p.jitter * unit);
}

function nonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(`retry ${name} must be a number ≥ 0, got ${String(value)}`);
  }
  return value;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new TimeoutError(`operation aborted: ${String(reason)}`, { cause: reason });
}

/** Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts. */
function untilAborted<T>(promise: T | Promise<T>, signal: AbortSignal): Promise<T> {
  const settled = Promise.resolve(promise);
  if (signal.aborted) {
    settled.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      // The abandoned promise may still reject later; observe it so it is not "unhandled".
      settled.catch(() => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    settled.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
