/**
 * The `wakame` command tree. Parsing and dispatch only: every command lives in `commands/<name>.ts` and is imported
 * when it runs, so startup stays fast and a command's dependencies (transports, drivers) load only when needed.
 *
 * Adding a command takes `commands/<name>.ts` exporting an async function `(ctx, ...args, options)`, plus one
 * registration in {@link createProgram}:
 *
 * ```ts
 * program
 *   .command('purge <queue>')
 *   .description('remove all ready messages from a queue')
 *   .option('--url <url>', 'broker URL')
 *   .action(async (queue: string, options: PurgeOptions) => (await import('./commands/purge.js')).purge(context(), queue, options));
 * ```
 *
 * Commands write through the {@link CommandContext} they are given and signal failure by throwing: an
 * {@link ExitError} for a chosen exit code, a Wakame error (`ERR_*` code) for an expected failure.
 *
 * @module
 */
import { Command, type CommanderError } from 'commander';
import type { DemoOptions } from './commands/demo.js';
import { type CommandContext, type GlobalOptions, withGlobalOptions } from './context.js';
import { ExitError } from './errors.js';

/** Exit code for a malformed command line (unknown command or option, missing argument), as shells use it. */
export const USAGE_EXIT_CODE = 2;

/** Commander's own "exits" carry no message worth repeating: the help or version text is already printed. */
const SILENT_EXITS = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

function toExitError(error: CommanderError): never {
  if (error.exitCode === 0) throw new ExitError(0, '', { cause: error });
  const message = SILENT_EXITS.has(error.code) ? '' : error.message.replace(/^error: /, '');
  throw new ExitError(USAGE_EXIT_CODE, message, { cause: error });
}

/** Commander writes whole chunks ending in a newline; the context writes lines. */
function asLines(write: (text: string) => void): (chunk: string) => void {
  return (chunk) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk);
}

/**
 * Builds the `wakame` program around `ctx`. Never exits the process: help, usage errors and `--help` surface as an
 * {@link ExitError}, so the program can run in-process (tests) as well as from `main.ts`.
 */
export function createProgram(ctx: CommandContext): Command {
  const program = new Command('wakame');
  program
    .description('Wakame: kombu-style messaging and topology as code')
    .option('--json', 'print machine-readable JSON instead of text')
    .option('-q, --quiet', 'print only the essential result')
    // Set before any subcommand is added: commander copies these settings into subcommands at creation.
    .exitOverride(toExitError)
    .configureOutput({
      writeOut: asLines((text) => ctx.out(text)),
      writeErr: asLines((text) => ctx.err(text)),
      // Error messages travel in the ExitError and are printed once, by main.ts.
      outputError: () => {},
    });

  /** The context a command runs with: global options (`--json`, `--quiet`) may appear anywhere on the line. */
  const context = (): CommandContext => withGlobalOptions(ctx, program.opts<GlobalOptions>());

  program
    .command('version')
    .description('print the versions of the Wakame packages and Node.js')
    .action(async () => (await import('./commands/version.js')).version(context()));

  program
    .command('demo')
    .description('run the messaging model end to end on a broker (in-process memory broker by default)')
    .option('--url <url>', 'broker URL', 'memory://demo')
    .option('--messages <n>', 'how many messages to send', '1000')
    .action(async (options: DemoOptions) => {
      await (await import('./commands/demo.js')).demo(context(), options);
    });

  return program;
}

/** Parses `argv` (the arguments after the executable and script, as in `process.argv.slice(2)`) and runs the command. */
export async function runCli(ctx: CommandContext, argv: readonly string[]): Promise<void> {
  await createProgram(ctx).parseAsync([...argv], { from: 'user' });
}
