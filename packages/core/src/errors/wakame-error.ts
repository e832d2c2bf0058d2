// The root of the hierarchy and the two questions every caller asks of an error (which one, and may I retry).

/** Base class of every error Wakame throws. */
export abstract class WakameError extends Error {
  /** Stable machine-readable identifier, e.g. `'ERR_TOPOLOGY_CONFLICT'`. */
  abstract readonly code: string;
  /** Whether retrying the same operation may succeed. */
  readonly retriable: boolean = false;
}

/** True when `err` is a Wakame error with the given code. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof WakameError && err.code === code;
}

/** True when retrying after `err` could succeed. Unknown errors are not retried. */
export function isRetriable(err: unknown): boolean {
  return err instanceof WakameError && err.retriable;
}
