/**
 * The `wakame` executable. The only module that writes to the terminal or ends the process: everything else
 * reports through a {@link CommandContext} and signals failure by throwing.
 *
 * Exit codes: 0 success, 1 a Wakame error (`ERR_*`), 2 a malformed command line, any code an {@link ExitError}
 * asks for, 70 an internal error (a bug).
 *
 * @module
 */
import { WakameError } from '@wakame/core';
import { runCli } from './cli.js';
import { askYesNo } from './confirm.js';
import type { CommandContext } from './context.js';
import { ExitError, isCodedError } from './errors.js';

/** EX_SOFTWARE from sysexits.h: an internal error, i.e. a bug in wakame rather than a problem of the user's. */
const INTERNAL_ERROR_EXIT_CODE = 70;

/**
 * SIGINT/SIGTERM abort the running command's signal (a worker stops gracefully, `inspect --watch`
 * ends). A second signal aborts again — the worker then stops at once — and a third exits.
 */
const interrupted = new AbortController();
let signals = 0;
const onSignal = (): void => {
  signals++;
  if (signals >= 3) process.exit(130);
  if (signals === 1) interrupted.abort();
  else interrupted.signal.dispatchEvent(new Event('abort'));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

function processContext(): CommandContext {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    jsonMode: false,
    quiet: false,
    color: Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined,
    signal: interrupted.signal,
    ...(process.stdin.isTTY
      ? { confirm: (question: string) => askYesNo(question, process.stdin, process.stderr, interrupted.signal) }
      : {}),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Maps whatever a command threw to an exit code, printing the one message the user needs. */
function report(error: unknown): number {
  if (error instanceof ExitError) {
    if (error.message !== '') console.error(`error: ${error.message}`);
    return error.exitCode;
  }
  // The shape check also catches errors of a second copy of @wakame/core, which `instanceof` would miss.
  if (error instanceof WakameError || isCodedError(error)) {
    // An expected failure (bad URL, unreachable broker): the message says it all, a stack trace would only confuse.
    console.error(`error [${error.code}]: ${error.message}`);
    return 1;
  }
  console.error(error instanceof Error ? (error.stack ?? String(error)) : error);
  console.error('\nThis is an internal error in wakame. Please report it with the output above and `wakame version`.');
  return INTERNAL_ERROR_EXIT_CODE;
}

/** Exits once stdout and stderr have taken everything written so far; on some platforms pipes write asynchronously. */
function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = (): void => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

let exitCode = 0;
try {
  await runCli(processContext(), process.argv.slice(2));
} catch (error) {
  exitCode = report(error);
}
// Exit explicitly: a command may leave handles (sockets, timers) open, and the CLI must still end when it is done.
exitAfterFlush(exitCode);
