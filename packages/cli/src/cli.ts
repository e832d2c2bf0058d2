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
import type { ApplyCommandOptions } from './commands/apply.js';
import type { DemoOptions } from './commands/demo.js';
import type { ExportOptions } from './commands/export.js';
import type { GraphOptions } from './commands/graph.js';
import type { PlanOptions } from './commands/plan.js';
import { type CommandContext, type GlobalOptions, withGlobalOptions } from './context.js';
import { ExitError } from './errors.js';
import type { BrokerOptions } from './topology-input.js';

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

  const broker = (command: Command): Command =>
    command
      .option('--url <url>', 'broker URL (default: $WAKAME_URL, else the embedded file://./.wakame)')
      .option('--management-url <url>', 'RabbitMQ management API (default: http://<host>:15672)');

  program
    .command('validate <file>')
    .description('check a topology file: JSON Schema and semantic rules, every problem with file:line:col')
    .option('--url <url>', 'also check against what this broker supports')
    .addHelpText(
      'after',
      '\nExamples:\n  wakame validate topology.yaml\n  wakame validate topology.yaml --url amqp://guest:guest@localhost// --json',
    )
    .action(async (file: string, options: BrokerOptions) => {
      await (await import('./commands/validate.js')).validate(context(), file, options);
    });

  broker(program.command('plan <file>'))
    .description('show what apply would change on the broker (changes nothing)')
    .option('--detailed-exitcode', 'exit 2 when there are changes, 0 when there are none')
    .option('-v, --verbose', 'also list unchanged entities')
    .addHelpText(
      'after',
      '\nExamples:\n  wakame plan topology.yaml --url amqp://guest:guest@localhost//\n  WAKAME_URL=amqp://… wakame plan topology.yaml --detailed-exitcode || echo "changes pending"',
    )
    .action(async (file: string, options: PlanOptions) => {
      await (await import('./commands/plan.js')).plan(context(), file, options);
    });

  broker(program.command('apply <file>'))
    .description('make the broker match the topology, idempotently (the deployment step)')
    .option('--allow-destructive', 'replace exchanges/queues whose immutable properties changed')
    .option('--force', 'with --allow-destructive: also replace queues that hold messages (they are lost)')
    .option('--prune', 'delete exchanges, queues and bindings that are not in the topology')
    .option('--concurrency <n>', 'declarations in flight at once', '16')
    .addHelpText(
      'after',
      '\nExamples:\n  wakame apply topology.yaml --url amqp://guest:guest@localhost//\n  wakame apply topology.yaml --allow-destructive --prune --json',
    )
    .action(async (file: string, options: ApplyCommandOptions) => {
      await (await import('./commands/apply.js')).apply(context(), file, options);
    });

  broker(program.command('export'))
    .description("write the broker's live topology as a topology file")
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .addHelpText('after', '\nExamples:\n  wakame export --url amqp://guest:guest@localhost// -o live.yaml')
    .action(async (options: ExportOptions) => {
      await (await import('./commands/export.js')).exportCommand(context(), options);
    });

  program
    .command('graph <file>')
    .description('draw exchanges → bindings → queues → tasks')
    .option('--format <format>', 'mermaid or dot', 'mermaid')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  wakame graph topology.yaml > topology.mmd\n  wakame graph topology.yaml --format dot | dot -Tsvg > topology.svg',
    )
    .action(async (file: string, options: GraphOptions) => {
      await (await import('./commands/graph.js')).graph(context(), file, options);
    });

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
