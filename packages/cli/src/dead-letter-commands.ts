/**
 * The `wakame dead-letters` command group: list, show, replay and purge. Registered by `cli.ts`; the code is in
 * `commands/dead-letters.ts`.
 *
 * @module
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { DeadLetterCommandOptions, DeadLetterMoveOptions } from './commands/dead-letters.js';
import type { CommandContext } from './context.js';
import { collect, positiveInteger } from './options.js';

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `--since`: a duration before now (`90s`, `15m`, `1h`, `2d`) in milliseconds, or an ISO 8601 time
 * (`2026-12-07T18:00:00Z`) as a Date. Anything else is a usage error naming the forms it takes.
 */
export function sinceOption(value: string): number | Date {
  const duration = /^\s*(\d+)\s*([smhd])\s*$/.exec(value);
  if (duration) return Number(duration[1]) * (UNIT_MS[duration[2] as string] as number);
  if (/^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    const time = new Date(value.trim());
    if (!Number.isNaN(time.getTime())) return time;
  }
  throw new InvalidArgumentError(`--since takes a duration (30s, 15m, 1h, 2d) or an ISO 8601 time, not '${value}'.`);
}

/** `--to`: where replayed messages go. */
function target(value: string): 'queue' | 'origin' {
  if (value === 'queue' || value === 'origin') return value;
  throw new InvalidArgumentError(`--to takes 'queue' or 'origin', not '${value}'.`);
}

/** The filters every subcommand takes. */
function filters(command: Command, idFlag: boolean): Command {
  command
    .option('--queue <name>', "the dead-letter queue (default: the worker's, wakame.dead-letter)")
    .option('--task <name>', 'only messages of this task')
    .option(
      '--reason <reason>',
      'only this reason: failed, unknown-task, invalid-payload, … or rejected, expired, maxlen',
    )
    .option(
      '--since <when>',
      'only those dead-lettered since: a duration (30s, 15m, 1h, 2d) or an ISO time',
      sinceOption,
    )
    .option('--limit <n>', 'at most this many messages (list: default 100)', positiveInteger('--limit'))
    .option('--topology <file>', "with --task: look in the queue the task's dead letters go to (instead of --queue)");
  return idFlag ? command.option('--id <id>', 'only this message id (repeatable)', collect, []) : command;
}

/** Adds `dead-letters` to `program`; `broker` adds the broker options (`--url`, …). */
export function addDeadLetterCommands(
  program: Command,
  context: () => CommandContext,
  broker: (command: Command) => Command,
): void {
  const group = program
    .command('dead-letters')
    .description('list, show, replay or purge the messages of a dead-letter queue')
    .addHelpText(
      'after',
      '\nExamples:\n  wakame dead-letters list --reason failed --since 1h\n  wakame dead-letters list --topology topology.yaml --task invoice.send\n  wakame dead-letters show 3f1c…\n  wakame dead-letters replay --task report.generate --dry-run\n  wakame dead-letters replay --id 3f1c… --yes --json\n  wakame dead-letters purge --reason invalid-payload --yes',
    );
  const load = () => import('./commands/dead-letters.js');

  filters(broker(group.command('list')), true)
    .description('list dead letters without removing them (id, task, reason, where and when they died)')
    .action(async (options: DeadLetterCommandOptions) => {
      await (await load()).listCommand(context(), options);
    });

  broker(group.command('show <id>'))
    .description('show one dead letter: its headers, properties and body')
    .option('--queue <name>', "the dead-letter queue (default: the worker's, wakame.dead-letter)")
    .action(async (id: string, options: DeadLetterCommandOptions) => {
      await (await load()).showCommand(context(), id, options);
    });

  filters(broker(group.command('replay')), true)
    .description('move dead letters back to the queue they died in, attempt counter reset (asks first)')
    .option(
      '--to <where>',
      "'queue' (default): the queue each died in; 'origin': its original exchange and routing key",
      target,
    )
    .option('--dry-run', 'show what would move; move nothing')
    .option('-y, --yes', 'replay without asking (required where there is no terminal to ask on)')
    .addHelpText(
      'after',
      "\nEach copy is published with confirms and its dead letter acked only after the broker took it: a crash in\nbetween leaves a duplicate, never a loss. x-death and the worker's reason go; an x-replayed header keeps the\nlast reason, attempts and error.",
    )
    .action(async (options: DeadLetterMoveOptions) => {
      await (await load()).replayCommand(context(), options);
    });

  filters(broker(group.command('purge')), true)
    .description('remove the matching dead letters and leave the others (asks first)')
    .option('--dry-run', 'show what would be removed; remove nothing')
    .option('-y, --yes', 'purge without asking (required where there is no terminal to ask on)')
    .action(async (options: DeadLetterMoveOptions) => {
      await (await load()).purgeCommand(context(), options);
    });
}
