/**
 * The `wakame` executable. The only module that touches the process: it reads the arguments and the environment,
 * writes to the terminal and exits. Everything else reports through a {@link CommandContext} and signals failure by
 * throwing; {@link execute} turns the outcome into output and an exit code.
 *
 * Exit codes:
 * - 0: success
 * - 1: a Wakame error (`ERR_*`: unreachable broker, invalid topology, refused apply, …)
 * - 2: `plan --detailed-exitcode` found changes
 * - 64: a malformed command line — unknown command or option, missing argument, bad option value (EX_USAGE)
 * - 70: an internal error, i.e. a bug in wakame (EX_SOFTWARE)
 * - 130: interrupted; any other code a command's `ExitError` asks for
 *
 * With `--json` anywhere on the line, stdout carries JSON only: the result with `"ok": true`, or one
 * `{ "ok": false, "error": { "code": "ERR_…", "message": "…", "hint": "…" } }` (usage errors: `ERR_USAGE`).
 *
 * `pnpm wakame …` and `pnpm start` run in the repository root, as pnpm runs every script; the scripts pass the
 * directory the user ran pnpm in (`$INIT_CWD`) as `WAKAME_CWD`, which is consumed here. Only that variable is
 * trusted, not `INIT_CWD` itself: every process started under any pnpm script (tests included) inherits that one.
 * The scripts `exec` node with tsx as a loader, so that this is pnpm's direct child: pnpm forwards SIGTERM only to
 * its child, and neither `sh -c` (dash forks and dies on it) nor tsx's own wrapper process would pass it on — a
 * worker under Docker or systemd would keep running.
 *
 * @module
 */
import { askYesNo } from './confirm.js';
import { type CommandContext, jsonRequested } from './context.js';
import { execute } from './run.js';
import { signalHandler } from './signals.js';

const launchDir = process.env.WAKAME_CWD;
// Consumed: what this process starts must resolve paths where it is, not where pnpm was run.
delete process.env.WAKAME_CWD;
if (launchDir) process.chdir(launchDir);

/**
 * SIGINT/SIGTERM abort the running command's signal (a worker stops gracefully, `inspect --watch` ends). A second
 * signal aborts again — the worker then stops at once — and a third exits; see `signals.ts`.
 */
const interrupted = new AbortController();
const onSignal = signalHandler({
  stop: () => interrupted.abort(),
  stopNow: () => interrupted.signal.dispatchEvent(new Event('abort')),
  exit: () => process.exit(130),
});
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

function processContext(jsonMode: boolean): CommandContext {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    json: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    jsonMode,
    quiet: false,
    color: Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined && !jsonMode,
    signal: interrupted.signal,
    ...(process.stdin.isTTY
      ? { confirm: (question: string) => askYesNo(question, process.stdin, process.stderr, interrupted.signal) }
      : {}),
    env: process.env,
    cwd: process.cwd(),
  };
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

const argv = process.argv.slice(2);
const exitCode = await execute(processContext(jsonRequested(argv)), argv);
// Exit explicitly: a command may leave handles (sockets, timers) open, and the CLI must still end when it is done.
exitAfterFlush(exitCode);
