/**
 * Shared by every {@link StackStateStore}: waiting for a held stack lock. A store supplies one
 * non-blocking attempt; this retries it with capped backoff until it succeeds, the wait allowed is
 * over ({@link StackLockedError} naming the holder) or the caller aborts.
 *
 * @module
 */
import { DecodeError, type LockHolder, StackLockedError } from '../errors.js';
import type { StackLock, StackLockOptions } from './spi.js';

/** One attempt: the lock, or who holds it. */
export type LockAttempt = { readonly lock: StackLock } | { readonly heldBy: LockHolder | undefined };

/** Waits between attempts: 50 ms doubling to 1 s. */
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 1_000;

/** Calls `attempt` until it returns a lock; see the module description. */
export async function acquireStackLock(
  stack: string,
  options: StackLockOptions,
  attempt: () => Promise<LockAttempt>,
): Promise<StackLock> {
  const started = Date.now();
  let delay = FIRST_RETRY_MS;
  for (;;) {
    options.signal?.throwIfAborted();
    const outcome = await attempt();
    if ('lock' in outcome) return outcome.lock;
    const waited = Date.now() - started;
    if (waited >= options.timeoutMs) throw new StackLockedError(stack, outcome.heldBy, waited);
    await sleep(Math.min(delay, options.timeoutMs - waited), options.signal);
    delay = Math.min(delay * 2, MAX_RETRY_MS);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted(): void {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

/** Stack names become key, file and parameter names: letters, digits, `.`, `_` and `-` only. */
export const STACK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Parses a stored state document (what {@link StackStateStore.read} returns); anything but a JSON
 * object is refused with a {@link DecodeError} naming `where` it was found.
 */
export function parseStackDocument(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DecodeError(`the ${where} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DecodeError(`the ${where} does not hold a JSON object`);
  }
  return value as Record<string, unknown>;
}
