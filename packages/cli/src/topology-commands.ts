/**
 * The topology-as-code commands of the `wakame` tree: validate, plan, apply, adopt, release, export,
 * graph and route. Registered by `cli.ts`; each command's code lives in `commands/<name>.ts`.
 *
 * @module
 */
import type { Command } from 'commander';
import type { AdoptOptions } from './commands/adopt.js';
import type { ApplyCommandOptions } from './commands/apply.js';
import type { ExportOptions } from './commands/export.js';
import type { GraphOptions } from './commands/graph.js';
import type { PlanOptions } from './commands/plan.js';
import type { RouteOptions } from './commands/route.js';
import type { CommandContext } from './context.js';
import { collect, positiveInteger, seconds } from './options.js';
import type { BrokerOptions } from './topology-input.js';

/** `--stack`: which stack's entities a command works on. */
function stack(command: Command): Command {
  return command.option(
    '--stack <name>',
    "the stack whose entities these are (default: the file's name:, else 'default')",
  );
}

/** `--lock-timeout`: how long a command that changes a stack waits for another one. */
function locked(command: Command): Command {
  return command.option(
    '--lock-timeout <seconds>',
    'wait this long for another apply of the stack (default: fail at once)',
    seconds('--lock-timeout'),
  );
}

/** Adds the topology commands to `program`; `broker` adds the broker options (`--url`, …). */
export function addTopologyCommands(
  program: Command,
  context: () => CommandContext,
  broker: (command: Command) => Command,
): void {
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

  stack(broker(program.command('plan <file>')))
    .description('show what apply would change on the broker (changes nothing)')
    .option('--detailed-exitcode', 'exit 2 when there are changes (drift included), 0 when there are none, 1 on error')
    .option('-o, --out <file>', 'save the plan for `wakame apply <file>` (applies only if the broker is unchanged)')
    .option('--show-foreign', 'list the entities of other owners too (never changed or pruned)')
    .option('--migrate', 'plan queues whose immutable settings changed as migrations that keep every message')
    .option('-v, --verbose', 'also list unchanged entities')
    .addHelpText(
      'after',
      '\nExamples:\n  wakame plan topology.yaml --url amqp://guest:guest@localhost//\n  wakame plan topology.yaml -o plan.json --detailed-exitcode || [ $? -eq 2 ]   # review, then: wakame apply plan.json\n  WAKAME_URL=amqp://… wakame plan topology.yaml --detailed-exitcode; echo $?   # 0 none, 2 changes, 1 error',
    )
    .action(async (file: string, options: PlanOptions) => {
      await (await import('./commands/plan.js')).plan(context(), file, options);
    });

  locked(stack(broker(program.command('apply <file>'))))
    .description('make the broker match a topology file or a saved plan, idempotently (the deployment step)')
    .option('--allow-destructive', 'replace exchanges/queues whose immutable properties changed')
    .option(
      '--migrate',
      'move queues whose immutable settings changed (max priority, type, …) to the new ones, keeping every message',
    )
    .option('--force', 'also drop queues that hold messages or have consumers (they are lost)')
    .option('--prune', "delete the stack's own entities that the topology no longer declares")
    .option('-y, --yes', 'apply without asking (required where there is no terminal to ask on)')
    .option('--auto-approve', 'the same as --yes')
    .option('--concurrency <n>', 'declarations in flight at once (default 16)', positiveInteger('--concurrency'))
    .addHelpText(
      'after',
      '\nExamples:\n  wakame apply topology.yaml --url amqp://guest:guest@localhost//\n  wakame apply plan.json --lock-timeout 120            # a plan saved by plan -o, exactly as reviewed\n  wakame apply topology.yaml --yes --prune --json       # in a pipeline\n  wakame apply topology.yaml --migrate                  # maxPriority 5 → 10 on a queue holding messages',
    )
    .action(async (file: string, options: ApplyCommandOptions & { autoApprove?: boolean }) => {
      const yes = options.yes === true || options.autoApprove === true;
      await (await import('./commands/apply.js')).apply(context(), file, { ...options, yes });
    });

  locked(stack(broker(program.command('adopt <file>'))))
    .description('let the stack own the declared entities that already exist (changes nothing on the broker)')
    .addHelpText(
      'after',
      '\nExamples:\n  wakame adopt topology.yaml --url amqp://guest:guest@localhost//   # once, before the first prune',
    )
    .action(async (file: string, options: AdoptOptions) => {
      await (await import('./commands/adopt.js')).adopt(context(), file, options);
    });

  locked(stack(broker(program.command('release <file>'))))
    .description('let the stack stop owning entities the file no longer declares (they stay on the broker)')
    .addHelpText(
      'after',
      '\nExamples:\n  wakame release topology.yaml   # keep the queues it dropped, without pruning them',
    )
    .action(async (file: string, options: AdoptOptions) => {
      await (await import('./commands/adopt.js')).release(context(), file, options);
    });

  broker(program.command('export'))
    .description("write the broker's live topology as a topology file")
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option(
      '--stack <name>',
      "write the vhosts, users, permissions and policies this stack owns (default: those of the URL's vhost)",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  wakame export --url amqp://guest:guest@localhost// -o live.yaml\n  wakame export --url amqp://… --stack orders -o orders.yaml   # with the users and policies stack orders owns',
    )
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

  broker(program.command('route <exchange> <routing-key>'))
    .description(
      'show where a message would go: matching bindings, exchange hops, alternate exchange, queues, dead letters',
    )
    .option('--topology <file>', 'route through this topology file instead of the broker')
    .option('--header <key=value>', 'a message header, repeatable; key:=json for a number or boolean', collect, [])
    .addHelpText(
      'after',
      "\nWithout --topology it routes through the broker's listing (RabbitMQ: the management API).\n\nExamples:\n  wakame route tasks video.encode --topology topology.yaml\n  wakame route media '' --header format=mp4 --header pages:=500 --topology topology.yaml\n  wakame route tasks video.encode --url amqp://guest:guest@localhost// --json",
    )
    .action(async (exchange: string, routingKey: string, options: RouteOptions) => {
      await (await import('./commands/route.js')).route(context(), exchange, routingKey, options);
    });
}
