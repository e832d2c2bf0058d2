/**
 * Errors that steer how the CLI process ends.
 *
 * @module
 */

/**
 * Ends the CLI with a chosen exit code. Commands throw it instead of calling `process.exit`, so they stay testable
 * in-process; only `main.ts` turns it into an exit.
 */
export class ExitError extends Error {
  override readonly name = 'ExitError';

  /**
   * @param exitCode - Process exit code; 0 ends successfully (e.g. after `--help`).
   * @param message - Printed to stderr as `error: <message>`; empty when the output was already written.
   */
  constructor(
    readonly exitCode: number,
    message = '',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The shape of a Wakame error (`WakameError` from `@wakame/core`): an Error with a stable `ERR_*` code. */
export interface CodedError extends Error {
  readonly code: string;
}

/**
 * Whether `error` is a Wakame error. Checked by shape rather than `instanceof`, so that errors from another copy of
 * `@wakame/core` (two versions installed side by side) are still recognised.
 */
export function isCodedError(error: unknown): error is CodedError {
  return (
    error instanceof Error &&
    typeof (error as Partial<CodedError>).code === 'string' &&
    (error as CodedError).code.startsWith('ERR_')
  );
}
