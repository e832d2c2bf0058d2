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
import type { ConsumeOptions } from './commands/consume.js';
import type { DemoOptions } from './commands/demo.js';
import type { InspectOptions } from './commands/inspect.js';
import type { PublishCommandOptions } from './commands/publish.js';
import type { PurgeOptions } from './commands/purge.js';
import type { QuickstartOptions } from './commands/quickstart.js';
import type { SendCommandOptions } from './commands/send.js';
import type { UiOptions } from './commands/ui.js';
import type { WorkerCommandOptions } from './commands/worker.js';
import { type CommandContext, type GlobalOptions, jsonRequested, withGlobalOptions } from './context.js';
import { addDeadLetterCommands } from './dead-letter-commands.js';
import { ExitError, USAGE_EXIT_CODE } from './errors.js';
import { bindAddress, collect, integer, integerOrName, MAX_SECONDS, positiveInteger, seconds } from './options.js';
import { addTopologyCommands } from './topology-commands.js';

export { USAGE_EXIT_CODE } from './errors.js';

/** Thrown (and caught by {@link runCli}) when `--version` is seen: commander stops parsing right there. */
class VersionRequested extends Error {}

/**
 * A usage error for commander's `error`: exit code {@link USAGE_EXIT_CODE}, a hint at the help of `command` (the
 * subcommand being parsed, if any). Help commander printed itself (`--help`) is a silent, successful exit.
 */
function toExitError(error: CommanderError, command: string | undefined): never {
  if (error.exitCode === 0) throw new ExitError(0, '', { cause: error });
  const hint = `run 'wakame ${command ? `${command} ` : ''}--help' for ${command ? 'its usage' : 'the commands'}`;
  // Commander prints the help on stderr when the command is missing; the error says why.
  if (error.code === 'commander.help') throw new ExitError(USAGE_EXIT_CODE, 'missing command', { cause: error, hint });
  let message = error.message.replace(/^error: /, '');
  // Our option parsers' messages name the flag and what it takes: commander's preamble only repeats them.
  message = /^option '[^']*' argument '.*' is invalid\. (--?[\w-]+ takes .*)$/s.exec(message)?.[1] ?? message;
  throw new ExitError(USAGE_EXIT_CODE, message, { cause: error, hint });
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
  /** The subcommand being parsed, for the hint of a usage error. */
  let current: string | undefined;
  /** Help asked for with --json, sent as one document when commander is done writing it (in several chunks). */
  let help = '';
  program
    .description('Wakame: kombu-style messaging and topology as code')
    .option('--json', 'print machine-readable JSON instead of text')
    .option('-q, --quiet', 'print only the essential result')
    .option('-V, --version', 'print the version of wakame')
    // Set before any subcommand is added: commander copies these settings into subcommands at creation.
    .exitOverride((error) => {
      if (help !== '') ctx.json({ help: help.trimEnd() });
      toExitError(error, current);
    })
    .configureOutput({
      // Help asked for with --json is a JSON document too: stdout carries nothing else.
      writeOut: ctx.jsonMode
        ? (text) => {
            help += text;
          }
        : asLines((text) => ctx.out(text)),
      writeErr: asLines((text) => ctx.err(text)),
      // Error messages travel in the ExitError and are printed once, by `execute` (run.ts).
      outputError: () => {},
    })
    .hook('preSubcommand', (_program, subcommand) => {
      current = subcommand.name();
    })
    .on('option:version', () => {
      throw new VersionRequested();
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

  addTopologyCommands(program, context, broker);
  addDeadLetterCommands(program, context, broker);

  broker(program.command('publish <body>'))
    .description('publish a message: inline JSON or text, or @file (for debugging and smoke tests)')
    .option('--exchange <name>', "exchange (default: '', which routes to the queue named by the routing key)")
    .option('--routing-key <key>', 'routing key; with the default exchange, the queue name')
    .option('--content-type <type>', 'send the body as it is, labelled with this content type')
    .option('--header <key=value>', 'a header, repeatable; values are strings', collect, [])
    .option(
      '--priority <n>',
      'priority 0-255 (honoured by queues with maxPriority)',
      integer('--priority', { min: 0, max: 255 }),
    )
    .option('--expiration <ms>', 'per-message time-to-live in milliseconds', integer('--expiration', { min: 0 }))
    .option('--persistent', 'delivery mode 2: kept across broker restarts on durable queues (default)')
    .option('--transient', 'delivery mode 1: kept in memory only')
    .option('--mandatory', 'fail when no queue receives the message')
    .option('--count <n>', 'publish the message this many times', positiveInteger('--count'), 1)
    .addHelpText(
      'after',
      "\nBody: JSON if it parses (json serializer), else text/plain; @file reads a file (.json as JSON, else raw bytes\nas application/data unless --content-type); @@text sends text that starts with '@'.\n\nExamples:\n  wakame publish --routing-key tasks '{\"id\": 1}'\n  wakame publish --exchange media --routing-key video.encode @job.json --priority 5\n  wakame publish --exchange logs --routing-key app.info hello --header source=cli --count 10\n  wakame publish --routing-key uploads @photo.jpg --content-type image/jpeg --transient",
    )
    .action(async (body: string, options: PublishCommandOptions) => {
      await (await import('./commands/publish.js')).publish(context(), body, options);
    });

  broker(program.command('consume <queue>'))
    .description('show the messages of a queue (a tail for debugging); they go back to the queue unless --ack')
    .option('--count <n>', 'stop after this many messages', positiveInteger('--count'))
    .option(
      '--timeout <seconds>',
      'stop after this long without a message; 0 waits until interrupted',
      seconds('--timeout'),
      10,
    )
    .option('--ack', 'acknowledge (remove) the messages shown')
    .option('--requeue', 'return the messages shown to the queue (the default)')
    .option('--accept <list>', 'serializers or content types to decode, comma-separated (default: all registered)')
    .addHelpText(
      'after',
      '\nWithout --ack the messages shown are held until the end, then returned to the queue (marked redelivered);\nat most --count (default 200) are shown per run. Messages that cannot be decoded are shown raw (base64).\n\nExamples:\n  wakame consume tasks --count 5\n  wakame consume tasks --json --timeout 30 | jq .body\n  wakame consume dead-letters --ack --count 100',
    )
    .action(async (queue: string, options: ConsumeOptions) => {
      await (await import('./commands/consume.js')).consume(context(), queue, options);
    });

  broker(program.command('inspect'))
    .description('list queues with their ready messages and consumers, and count exchanges and bindings')
    .option(
      '--watch [seconds]',
      'redraw every N seconds (default 2) until interrupted',
      seconds('--watch', { min: 0.1 }),
    )
    .addHelpText(
      'after',
      "\nRabbitMQ is listed through its management API (see --management-url).\n\nExamples:\n  wakame inspect --url amqp://guest:guest@localhost//\n  wakame inspect --watch 5\n  wakame inspect --json | jq '.queues[] | {name, ready, consumers}'",
    )
    .action(async (options: InspectOptions) => {
      await (await import('./commands/inspect.js')).inspect(context(), options);
    });

  broker(program.command('schedules <topology>'))
    .description("the topology's schedules on the broker: the last slot each handled, the next, and who leads")
    .option('--group <name>', "the schedule group (its workers' scheduler.group)", 'default')
    .addHelpText(
      'after',
      '\nRead-only: it never takes the lease.\n\nExamples:\n  wakame schedules topology.yaml --url amqp://guest:guest@localhost//\n  wakame schedules topology.yaml --group billing --json',
    )
    .action(async (file: string, options: import('./commands/schedules.js').SchedulesOptions) => {
      await (await import('./commands/schedules.js')).schedules(context(), file, options);
    });

  broker(program.command('purge <queue>'))
    .description('delete every ready message of a queue (asks first)')
    .option('-y, --yes', 'purge without asking (required where there is no terminal to ask on)')
    .addHelpText(
      'after',
      '\nExamples:\n  wakame purge tasks\n  wakame purge tasks --yes --url amqp://guest:guest@localhost// --json',
    )
    .action(async (queue: string, options: PurgeOptions) => {
      await (await import('./commands/purge.js')).purge(context(), queue, options);
    });

  program
    .command('types <file>')
    .description("generate TypeScript types for the topology's task payloads (from their JSON Schemas)")
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .addHelpText(
      'after',
      "\nThe output is a plain module: import type { TaskName, TaskPayloads } from './topology.gen.js'.\n\nExamples:\n  wakame types topology.yaml -o src/topology.gen.ts\n  wakame types topology.yaml > src/topology.gen.ts",
    )
    .action(async (file: string, options: import('./commands/types.js').TypesOptions) => {
      await (await import('./commands/types.js')).types(context(), file, options);
    });

  program
    .command('worker <module>')
    .description('run a worker module (TS or JS, no build step) until SIGINT/SIGTERM')
    .option('--url <url>', 'broker URL (default: $WAKAME_URL, else the embedded file://./.wakame)')
    .option(
      '--concurrency <n>',
      "handlers running at once (default: the module's, else 10)",
      integer('--concurrency', { min: 1, max: 10_000 }),
    )
    .option('--queues <list>', 'comma-separated queues to consume, highest priority first')
    .option(
      '--shutdown-timeout <seconds>',
      'time running handlers get to finish on SIGINT/SIGTERM',
      seconds('--shutdown-timeout'),
      30,
    )
    .option('-v, --verbose', 'one line per task, not only failures')
    .option(
      '--health-port <port>',
      'serve /healthz, /readyz and /metrics on this port (0: a free one, printed in the health line)',
      integer('--health-port', { min: 0, max: 65_535 }),
    )
    .option(
      '--health-host <host>',
      'address the health server binds (default: 127.0.0.1; 0.0.0.0 for probes from outside)',
      bindAddress('--health-host'),
    )
    .addHelpText(
      'after',
      "\nThe module's default export: { topology: './topology.yaml' | defineTopology(…), handlers: { 'task.name': async (payload, ctx) => … } }\n\nExamples:\n  wakame worker ./worker.ts --url amqp://guest:guest@localhost// --concurrency 4\n  wakame worker ./worker.js --queues hipri,midpri\n  wakame worker ./worker.ts --health-port 8080 --health-host 0.0.0.0   # Kubernetes probes and Prometheus",
    )
    .action(async (module: string, options: WorkerCommandOptions) => {
      await (await import('./commands/worker.js')).worker(context(), module, options);
    });

  broker(program.command('send <task> <json>'))
    .description('send a task through the topology (payload checked against its schema)')
    .option('--topology <file>', 'topology file', 'topology.yaml')
    .option(
      '--priority <class|n>',
      'a priority class (high, …), or a number 0–255 (which picks the class whose range holds it)',
      integerOrName('--priority', { min: 0, max: 255 }),
    )
    .option(
      '--message-priority <n>',
      'message priority 0–255 within the class (queues with maxPriority)',
      integer('--message-priority', { min: 0, max: 255 }),
    )
    .option('--delay <ms>', 'deliver after this many ms', integer('--delay', { min: 0, max: MAX_SECONDS * 1000 }))
    .option('--expires <ms>', 'discard if not started within this many ms', integer('--expires', { min: 0 }))
    .option('--wait <seconds>', 'wait for the result (RPC) this long', seconds('--wait', { min: 0.1 }))
    .addHelpText(
      'after',
      '\nA task marked protocol: celery is sent in Celery\'s protocol: its JSON is {"args": [...], "kwargs": {...}}, and\n--wait reads the result from rpc:// (amqp://) or Celery\'s Redis result backend (redis://).\n\nExamples:\n  wakame send report.generate \'{"reportId":"r-1"}\' --priority low\n  wakame send user.notify \'{"userId":"u-1","text":"hi"}\' --priority high --message-priority 9\n  wakame send math.add \'{"a":1,"b":2}\' --wait 5\n  wakame send proj.tasks.add \'{"args":[2,3]}\' --wait 5   # a Celery task',
    )
    .action(async (task: string, json: string, options: SendCommandOptions) => {
      await (await import('./commands/send.js')).send(context(), task, json, options);
    });

  program
    .command('quickstart')
    .description('the whole job on the embedded broker: validate, plan, apply, work, send — in priority order')
    .option('--url <url>', 'broker URL (default: $WAKAME_URL, else the embedded file://./.wakame)')
    .option('--tasks <n>', 'tasks per priority class', integer('--tasks', { min: 1, max: 10_000 }), 20)
    .addHelpText(
      'after',
      '\nExamples:\n  wakame quickstart\n  wakame quickstart --url amqp://guest:guest@127.0.0.1:5672// --json',
    )
    .action(async (options: QuickstartOptions) => {
      await (await import('./commands/quickstart.js')).quickstart(context(), options);
    });

  broker(program.command('ui [topology]'))
    .description('a local web dashboard: topology graph, live queue depths, workers, dead letters, the plan')
    .option(
      '--host <address>',
      'address to bind (default: 127.0.0.1; 0.0.0.0 serves other machines too)',
      bindAddress('--host'),
    )
    .option('--port <port>', 'port (0: a free one, printed)', integer('--port', { min: 0, max: 65_535 }), 8025)
    .option('--worker <url>', "a worker's health server (wakame worker --health-port), repeatable", collect, [])
    .option('--interval <seconds>', 'seconds between refreshes', seconds('--interval', { min: 0.2, max: 3600 }), 2)
    .option('--allow-actions', 'offer purge and dead-letter replay on the page (each asks for confirmation)')
    .option('--stack <name>', "the stack the plan is for (default: the file's name:, else 'default')")
    .addHelpText(
      'after',
      '\nThe page never receives the broker or management credentials; it is read-only without --allow-actions.\n\nExamples:\n  wakame ui topology.yaml\n  wakame ui topology.yaml --url amqp://guest:guest@localhost// --worker http://127.0.0.1:9464\n  wakame ui --port 0 --allow-actions',
    )
    .action(async (topology: string | undefined, options: UiOptions) => {
      await (await import('./commands/ui.js')).ui(context(), topology, options);
    });

  program
    .command('demo')
    .description('run the messaging model end to end on a broker (in-process memory broker by default)')
    .option('--url <url>', 'broker URL', 'memory://demo')
    .option('--messages <n>', 'how many messages to send', integer('--messages', { min: 1, max: 1_000_000 }), 1000)
    .action(async (options: DemoOptions) => {
      await (await import('./commands/demo.js')).demo(context(), options);
    });

  return program;
}

/**
 * Parses `argv` (the arguments after the executable and script, as in `process.argv.slice(2)`) and runs the command.
 * Failures are thrown (see {@link ExitError}); `execute` in `run.ts` turns them into output and an exit code.
 */
export async function runCli(ctx: CommandContext, argv: readonly string[]): Promise<void> {
  const program = createProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (!(error instanceof VersionRequested)) throw error;
    // `wakame --version`: the CLI's version alone (`wakame version` lists the rest), or all of them with --json.
    const versionCtx = withGlobalOptions(ctx, { json: jsonRequested(argv) });
    await (await import('./commands/version.js')).version({ ...versionCtx, quiet: true });
  }
}
