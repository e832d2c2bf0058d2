/**
 * One run of the `wakame` command line from start to end: run the command, then say how it ended and return the
 * exit code. `main.ts` runs it on the real process; tests run it in-process on a capturing context.
 *
 * With `--json` (anywhere on the line, seen before parsing, so that a malformed line is answered in JSON too)
 * stdout carries JSON documents only: a command's result gets `"ok": true`, and a failure is exactly one
 * `{ "ok": false, "error": { "code", "message", "hint"? } }`, unless the command already wrote its own document
 * and then chose an exit code ({@link ExitError}), as `plan --detailed-exitcode` does.
 *
 * @module
 */
import { runCli } from './cli.js';
import { type CommandContext, jsonRequested } from './context.js';
import { describeFailure, ExitError, type Failure } from './errors.js';

/** The `error` object of a failure document. */
export interface JsonError {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

/** Runs `argv` (as in `process.argv.slice(2)`) on `base`; resolves to the exit code, never rejects. */
export async function execute(base: CommandContext, argv: readonly string[]): Promise<number> {
  const jsonMode = base.jsonMode || jsonRequested(argv);
  let documents = 0;
  const ctx: CommandContext = {
    ...base,
    jsonMode,
    color: base.color && !jsonMode,
    json: (value) => {
      documents++;
      base.json(withOk(value));
    },
  };
  try {
    await runCli(ctx, argv);
    return 0;
  } catch (error) {
    const failure = describeFailure(error);
    // A command that wrote its result and then chose its exit code has said everything.
    const said = documents > 0 && error instanceof ExitError;
    report(ctx, failure, error, said);
    return failure.exitCode;
  }
}

/** Prints `failure`: text on stderr, or the one JSON document on stdout. */
function report(ctx: CommandContext, failure: Failure, error: unknown, said: boolean): void {
  if (failure.exitCode === 0) return; // --help and the like: the text is out
  if (failure.internal) ctx.err(error instanceof Error ? (error.stack ?? String(error)) : String(error));
  if (ctx.jsonMode) {
    if (said) {
      if (failure.message !== '') ctx.err(`error: ${failure.message}`);
      return;
    }
    const jsonError: JsonError = {
      code: failure.code,
      message: failure.message || `exited with code ${failure.exitCode}`,
      ...(failure.hint ? { hint: failure.hint } : {}),
    };
    ctx.json({ ok: false, error: jsonError });
    return;
  }
  if (failure.message !== '') {
    const coded = !(error instanceof ExitError) || error.code !== undefined;
    ctx.err(coded ? `error [${failure.code}]: ${failure.message}` : `error: ${failure.message}`);
  }
  if (failure.hint) ctx.err(failure.internal ? `\n${failure.hint}` : `hint: ${failure.hint}`);
}

/** A result document gets `"ok": true` first, unless it says for itself (plain objects only). */
function withOk(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  return 'ok' in value ? value : { ok: true, ...value };
}
