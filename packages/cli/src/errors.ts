/**
 * Errors that steer how the CLI process ends, and what a failure looks like to the user.
 *
 * @module
 */

/** Exit code of a malformed command line (unknown command or option, missing argument, bad value): EX_USAGE. */
export const USAGE_EXIT_CODE = 64;

/** Exit code of an internal error, i.e. a bug in wakame rather than a problem of the user's: EX_SOFTWARE. */
export const INTERNAL_ERROR_EXIT_CODE = 70;

/** What an {@link ExitError} may add to its message. */
export interface ExitErrorOptions extends ErrorOptions {
  /** A stable `ERR_*` code for `--json` output; by default derived from the exit code. */
  readonly code?: string;
  /** What the user can do about it. */
  readonly hint?: string;
}

/**
 * Ends the CLI with a chosen exit code. Commands throw it instead of calling `process.exit`, so they stay testable
 * in-process; only `main.ts` turns it into an exit.
 */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  /** The `ERR_*` code given, if any (see {@link describeFailure} for the default). */
  readonly code: string | undefined;
  readonly hint: string | undefined;

  /**
   * @param exitCode - Process exit code; 0 ends successfully (e.g. after `--help`).
   * @param message - Printed to stderr as `error: <message>`; empty when the output was already written.
   */
  constructor(
    readonly exitCode: number,
    message = '',
    options?: ExitErrorOptions,
  ) {
    super(message, options);
    this.code = options?.code;
    this.hint = options?.hint;
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

/** How a run failed, as printed: `error [code]: message` and `hint: …`, or with `--json` the `error` object. */
export interface Failure {
  readonly exitCode: number;
  readonly code: string;
  /** Empty when the command already said everything (an {@link ExitError} without a message). */
  readonly message: string;
  readonly hint?: string;
  /** A bug in wakame: the stack trace is worth printing. */
  readonly internal: boolean;
}

/** Maps whatever a command threw to its exit code and the words for the user. */
export function describeFailure(error: unknown): Failure {
  const hint = hintOf(error);
  if (error instanceof ExitError) {
    return {
      exitCode: error.exitCode,
      code: error.code ?? defaultCode(error.exitCode),
      message: error.message,
      ...(hint ? { hint } : {}),
      internal: false,
    };
  }
  // Expected failures (bad URL, unreachable broker, refused apply): the message says it all, a stack would confuse.
  if (isCodedError(error))
    return { exitCode: 1, code: error.code, message: error.message, ...(hint ? { hint } : {}), internal: false };
  return {
    exitCode: INTERNAL_ERROR_EXIT_CODE,
    code: 'ERR_INTERNAL',
    message: error instanceof Error ? error.message : String(error),
    hint: 'This is an internal error in wakame. Please report it with the output above and `wakame version`.',
    internal: true,
  };
}

function defaultCode(exitCode: number): string {
  if (exitCode === USAGE_EXIT_CODE) return 'ERR_USAGE';
  if (exitCode === 130) return 'ERR_INTERRUPTED';
  return 'ERR_FAILED';
}

/** The `hint` an error carries (core's `PlanRefusedError`, `ApplyFailedError`, … have one). */
function hintOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const hint = (error as { readonly hint?: unknown }).hint;
  return typeof hint === 'string' && hint !== '' ? hint : undefined;
}
