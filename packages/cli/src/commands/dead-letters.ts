/**
 * `wakame dead-letters list|show|replay|purge`: the messages of a dead-letter queue, and moving them back or
 * away. A thin layer over `listDeadLetters` & co. of `@wakame/core` (which say how a queue is looked at without
 * changing it, and why a replay can duplicate but never lose a message).
 *
 * Replay and purge ask first, or need `--yes` where there is nobody to ask. Asking shows how many messages a dry
 * run found, and the run that follows touches exactly those ids: a dead letter that arrives while the user reads
 * the question is not moved without being asked about.
 *
 * @module
 */
import {
  type Connection,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterProgress,
  type DeadLetterRunResult,
  deadLetterQueuesOf,
  InvalidArgumentError,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetters,
  showDeadLetter,
} from '@wakame/core';
import { confirmed } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { ExitError } from '../errors.js';
import { type BrokerOptions, openBroker, readTopology } from '../topology-input.js';
import { jsonSafe } from './consume.js';

/** Options every subcommand takes; `since` arrives parsed (see `dead-letter-commands.ts`). */
export interface DeadLetterCommandOptions extends BrokerOptions {
  /** The dead-letter queue. @defaultValue the worker's, `wakame.dead-letter` */
  readonly queue?: string;
  readonly task?: string;
  readonly reason?: string;
  /** Milliseconds before now, or a time. */
  readonly since?: number | Date;
  readonly limit?: number;
  /** Only these ids (repeatable `--id`). */
  readonly id?: readonly string[];
  /** A topology file: with `--task` (and no `--queue`), the dead-letter queue is the one the task's dead letters go to. */
  readonly topology?: string;
}

/** Options of replay and purge. */
export interface DeadLetterMoveOptions extends DeadLetterCommandOptions {
  readonly dryRun?: boolean;
  readonly yes?: boolean;
  /** Replay only: `queue` (the queue each died in) or `origin` (its original exchange and routing key). */
  readonly to?: 'queue' | 'origin';
}

/** A progress line on stderr every this many messages looked at (long runs only; never with --json or --quiet). */
const PROGRESS_EVERY = 500;

/** `wakame dead-letters list`. */
export async function listCommand(ctx: CommandContext, options: DeadLetterCommandOptions): Promise<void> {
  const connection = await openBroker(ctx, options);
  try {
    const scope = scopeOf(ctx, await withQueue(ctx, options, connection));
    const list = await listDeadLetters(connection, { ...scope, onProgress: progress(ctx, 'listed') });
    if (ctx.jsonMode) {
      ctx.json(jsonSafe(list));
      return;
    }
    if (ctx.quiet) {
      for (const m of list.messages) ctx.out(m.id);
      return;
    }
    const n = list.messages.length;
    ctx.out(`${plural(n, 'dead letter')} in '${list.queue}' (looked at ${list.scanned} of ${list.total}):`);
    for (const m of list.messages) ctx.out(`  ${line(m)}`);
    if (n > 0)
      ctx.err("Show one with 'wakame dead-letters show <id>'; move them back with 'wakame dead-letters replay'.");
  } finally {
    await connection.close();
  }
}

/** `wakame dead-letters show <id>`. */
export async function showCommand(ctx: CommandContext, id: string, options: DeadLetterCommandOptions): Promise<void> {
  const connection = await openBroker(ctx, options);
  try {
    const detail = await showDeadLetter(connection, id, options.queue !== undefined ? { queue: options.queue } : {});
    if (ctx.jsonMode) {
      ctx.json(jsonSafe(detail));
      return;
    }
    const { headers, properties, body, decodeError, rawBody, ...record } = detail;
    ctx.out(line(record));
    ctx.out(`properties: ${JSON.stringify(jsonSafe(withoutHeaders(properties)))}`);
    ctx.out(`headers: ${JSON.stringify(jsonSafe(headers))}`);
    if (decodeError !== undefined) ctx.out(`could not decode (${decodeError}); raw body (base64):\n${rawBody}`);
    else ctx.out(typeof body === 'string' ? body : JSON.stringify(jsonSafe(body), null, 2));
  } finally {
    await connection.close();
  }
}

/** `wakame dead-letters replay`. */
export async function replayCommand(ctx: CommandContext, options: DeadLetterMoveOptions): Promise<void> {
  await move(ctx, options, 'replay');
}

/** `wakame dead-letters purge`. */
export async function purgeCommand(ctx: CommandContext, options: DeadLetterMoveOptions): Promise<void> {
  await move(ctx, options, 'purge');
}

async function move(ctx: CommandContext, options: DeadLetterMoveOptions, action: 'replay' | 'purge'): Promise<void> {
  const dryRun = options.dryRun ?? false;
  if (!dryRun && !options.yes && !ctx.confirm) {
    // Refused before connecting: nobody to ask and no flag.
    await confirmed(ctx, `${action === 'replay' ? 'Replay' : 'Purge'} dead letters?`, { flag: '--yes' });
  }
  const connection = await openBroker(ctx, options);
  try {
    const base = scopeOf(ctx, await withQueue(ctx, options, connection));
    const run = (scope: { dryRun: boolean; ids?: readonly string[] }) => {
      const o = {
        ...base,
        ...scope,
        ...(options.to !== undefined ? { to: options.to } : {}),
        onProgress: progress(ctx, action === 'replay' ? 'replayed' : 'purged'),
      };
      return action === 'replay' ? replayDeadLetters(connection, o) : purgeDeadLetters(connection, o);
    };
    let result: DeadLetterRunResult;
    if (dryRun || options.yes) {
      result = await run({ dryRun });
    } else {
      const preview = await run({ dryRun: true });
      const ids = preview.moved.map((m) => m.message.id);
      if (ids.length === 0) {
        result = preview;
      } else {
        const where = action === 'replay' ? ' back to where they died' : ' (this cannot be undone)';
        const question = `${action === 'replay' ? 'Replay' : 'Purge'} ${plural(ids.length, 'dead letter')} from '${preview.queue}' on ${connection.url}${where}?`;
        if (!(await confirmed(ctx, question, { yes: options.yes, flag: '--yes' }))) {
          throw new ExitError(1, `not confirmed: nothing was moved from '${preview.queue}'`);
        }
        result = await run({ dryRun: false, ids });
      }
    }
    report(ctx, result, action);
  } finally {
    await connection.close();
  }
}

function report(ctx: CommandContext, result: DeadLetterRunResult, action: 'replay' | 'purge'): void {
  const failed = result.failed.length;
  if (ctx.jsonMode) {
    ctx.json({ ok: failed === 0, action, ...(jsonSafe(result) as object) });
  } else if (ctx.quiet) {
    ctx.out(String(result.moved.length));
  } else {
    const verb = action === 'replay' ? 'replayed' : 'purged';
    const head = result.dryRun
      ? `Dry run: ${plural(result.moved.length, 'dead letter')} would be ${verb}; nothing moved.`
      : `${plural(result.moved.length, 'dead letter')} ${verb} from '${result.queue}'.`;
    ctx.out(head);
    for (const m of result.moved) {
      const to =
        action === 'replay'
          ? ` → ${m.to.exchange === '' ? `queue '${m.to.routingKey}'` : `exchange '${m.to.exchange}' key '${m.to.routingKey}'`}`
          : '';
      ctx.out(`  ${m.message.id}${to}`);
    }
    for (const s of result.skipped) ctx.out(`  skipped ${s.message.id}: ${s.reason} (${s.detail})`);
    for (const f of result.failed) {
      const after =
        f.step === 'ack'
          ? '; the copy was made and the dead letter stayed: replaying again duplicates it'
          : '; it stayed';
      ctx.out(`  failed ${f.message.id} at ${f.step}: ${f.error.message}${after}`);
    }
  }
  if (failed > 0) {
    throw new ExitError(
      1,
      `${plural(failed, 'dead letter')} could not be ${action === 'replay' ? 'replayed' : 'purged'}`,
      {
        code: 'ERR_DEAD_LETTER_MOVE',
      },
    );
  }
}

/**
 * The options with `queue` set from `--topology` and `--task` when no `--queue` names it: the one queue the task's
 * dead letters go to. A task whose dead letters go to several queues (or none) needs `--queue`.
 */
async function withQueue<T extends DeadLetterCommandOptions>(
  ctx: CommandContext,
  options: T,
  connection: Connection,
): Promise<T> {
  if (options.queue !== undefined || options.topology === undefined) return options;
  if (options.task === undefined) {
    throw new InvalidArgumentError('--topology finds the dead-letter queue of a task: give --task too (or --queue)');
  }
  const { desired } = await readTopology(ctx, options.topology, connection);
  const queues = deadLetterQueuesOf(desired, options.task);
  if (queues.length === 1) return { ...options, queue: queues[0] };
  throw new InvalidArgumentError(
    queues.length === 0
      ? `the dead letters of task '${options.task}' reach no queue in ${options.topology}: name one with --queue`
      : `the dead letters of task '${options.task}' go to ${queues.map((q) => `'${q}'`).join(', ')}: pick one with --queue`,
  );
}

/** The core API's scope from the flags; Ctrl-C (the context's signal) ends a run early, returning what it held. */
function scopeOf(
  ctx: CommandContext,
  options: DeadLetterCommandOptions,
): DeadLetterFilter & { queue?: string; limit?: number; signal?: AbortSignal } {
  return {
    ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
    ...(options.queue !== undefined ? { queue: options.queue } : {}),
    ...(options.task !== undefined ? { task: options.task } : {}),
    ...(options.reason !== undefined ? { reason: options.reason } : {}),
    ...(options.since !== undefined ? { since: options.since } : {}),
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...(options.id !== undefined && options.id.length > 0 ? { ids: options.id } : {}),
  };
}

/** Progress on stderr for long runs: a line every {@link PROGRESS_EVERY} messages. */
function progress(ctx: CommandContext, what: string): (p: DeadLetterProgress) => void {
  const quiet = ctx.jsonMode || ctx.quiet;
  return (p) => {
    if (quiet || p.published !== undefined || p.scanned === 0 || p.scanned % PROGRESS_EVERY !== 0) return;
    ctx.err(`… ${p.scanned} of ${p.total} looked at, ${p.matched} ${what}`);
  };
}

function line(m: DeadLetter): string {
  return [
    m.id,
    m.task ?? '(no task)',
    `${m.reason} (${m.by})`,
    `from '${m.queue}'`,
    m.deadLetteredAt ?? 'at an unknown time',
    m.attempts !== undefined ? plural(m.attempts, 'attempt') : undefined,
    m.replays > 0 ? `replayed ${m.replays}×` : undefined,
    m.error !== undefined ? `${m.error.name}: ${m.error.message}` : undefined,
  ]
    .filter((part) => part !== undefined)
    .join(' · ');
}

function withoutHeaders(properties: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { headers: _headers, ...rest } = properties;
  return rest;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
