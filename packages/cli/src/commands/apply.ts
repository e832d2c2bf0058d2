/**
 * `wakame apply <file | plan.json>`: makes the broker match the topology — the deployment step.
 *
 * Under the stack's lock it reads the stack's state record, plans, decides every refusal before
 * the first change (replacements need `--allow-destructive`; dropping a queue that holds messages
 * or has consumers needs `--force`; only the stack's own entities are ever deleted, and only with
 * `--prune`), asks on a terminal unless `--yes`, applies with conditional deletes, and records
 * what the stack owns now — also when a change failed part-way, so the record stays exact.
 *
 * Given a saved plan (`plan -o plan.json`), it applies exactly that plan, and refuses when the
 * live state changed since it was made.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  ApplyFailedError,
  type ApplyResult,
  applyPhases,
  applyPlan,
  assertApplicable,
  atRisk,
  type Change,
  type DesiredTopology,
  describeChange,
  isSavedPlan,
  parseSavedPlan,
  planStack,
  recordStack,
  type SavedPlan,
  type StackPlan,
  verifySavedPlan,
} from '@wakame/core';
import { confirmed } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { ExitError } from '../errors.js';
import { paint } from '../paint.js';
import { printPlan, type StackOptions, stackName, takeLock } from '../stack-input.js';
import { type BrokerOptions, openBroker, readTopology } from '../topology-input.js';

export interface ApplyCommandOptions extends BrokerOptions, StackOptions {
  readonly allowDestructive?: boolean;
  /** Migrate queues whose immutable settings changed, keeping every message. */
  readonly migrate?: boolean;
  readonly force?: boolean;
  readonly prune?: boolean;
  readonly concurrency?: number;
  /** Apply without asking (`--yes`, `--auto-approve`). */
  readonly yes?: boolean;
  /** Seconds to wait for another apply of the same stack; 0 fails at once. */
  readonly lockTimeout?: number;
}

/** Changes shown one by one up to this many; beyond it, progress and a summary. */
const LIST_LIMIT = 50;

export async function apply(ctx: CommandContext, file: string, options: ApplyCommandOptions): Promise<ApplyResult> {
  const saved = await readSavedPlan(ctx, file);
  const connection = await openBroker(ctx, options);
  try {
    let desired: DesiredTopology;
    let stack: string;
    if (saved) {
      desired = saved.desired;
      stack = saved.stack;
    } else {
      const read = await readTopology(ctx, file, connection);
      desired = read.desired;
      stack = stackName(options, read.checked.document);
    }
    const lock = await takeLock(ctx, connection, stack, 'apply', options.lockTimeout ?? 0);
    try {
      const planned = await planStack(connection.admin, desired, stack, { migrate: options.migrate ?? false });
      if (saved) verifySavedPlan(saved, planned, { url: connection.url });
      const chosen: StackPlan = saved ? { ...planned, plan: saved.plan } : planned;
      if (!ctx.jsonMode && !ctx.quiet) printPlan(ctx, chosen, connection.url);
      assertApplicable(chosen.plan, { ...options, stack }, connection.admin);
      const work = applyPhases(chosen.plan, options).flatMap(([, changes]) => changes);
      if (options.force) warnForcedLosses(ctx, work);
      if (work.length > 0 && !saved) {
        const question = `Apply ${work.length} change(s) to ${connection.url} (stack '${stack}')?`;
        if (!(await confirmed(ctx, question, { yes: options.yes, flag: '--yes' }))) {
          throw new ExitError(1, 'not confirmed: nothing was changed');
        }
      }
      const result = await run(ctx, chosen, connection.admin, options);
      report(ctx, result, connection.url, stack);
      return result;
    } finally {
      await lock?.release();
    }
  } finally {
    await connection.close();
  }
}

/** Applies and records ownership — after a failure too, for the changes that were made. */
async function run(
  ctx: CommandContext,
  planned: StackPlan,
  admin: Parameters<typeof applyPlan>[1],
  options: ApplyCommandOptions,
): Promise<ApplyResult> {
  let lastShown = 0;
  try {
    const result = await applyPlan(planned.plan, admin, {
      allowDestructive: options.allowDestructive ?? false,
      migrate: options.migrate ?? false,
      stack: planned.stack,
      force: options.force ?? false,
      prune: options.prune ?? false,
      concurrency: options.concurrency ?? 16,
      onProgress: (done, all, change) => {
        // Long applies: a line at most every 10%, on stderr, so stdout stays the result.
        if (ctx.jsonMode || ctx.quiet || all < LIST_LIMIT) return;
        if (done === all || done - lastShown >= all / 10) {
          lastShown = done;
          ctx.err(`applied ${done}/${all} (${Math.round((100 * done) / all)}%): ${describeChange(change)}`);
        }
      },
      onMigration: (progress) => {
        if (ctx.jsonMode || ctx.quiet) return;
        ctx.err(`migrating queue ${progress.queue}: ${progress.step} (${progress.moved} message(s) moved so far)`);
      },
    });
    await recordStack(admin, planned, result);
    return result;
  } catch (error) {
    if (error instanceof ApplyFailedError) {
      await recordStack(admin, planned, { applied: error.applied });
      if (!ctx.jsonMode) for (const change of error.applied) ctx.err(`done ${describeChange(change)}`);
    }
    throw error;
  }
}

function report(ctx: CommandContext, result: ApplyResult, url: string, stack: string): void {
  const ms = (n: number) => Math.round(n);
  if (ctx.jsonMode) {
    ctx.json({
      url,
      stack,
      applied: result.applied,
      kept: result.kept,
      phases: result.phases.map((p) => ({ ...p, durationMs: ms(p.durationMs) })),
      migrations: result.migrations,
      durationMs: ms(result.durationMs),
    });
    return;
  }
  if (ctx.quiet) return;
  if (result.applied.length <= LIST_LIMIT) {
    for (const change of result.applied) ctx.out(paint(ctx, `done ${describeChange(change)}`));
  }
  for (const m of result.migrations) {
    const how = m.inPlace ? 'in place' : `${m.moved} message(s) moved out and back`;
    const dropped = m.duplicatesDropped
      ? `, ${m.duplicatesDropped} duplicate cop${m.duplicatesDropped === 1 ? 'y' : 'ies'} dropped`
      : '';
    ctx.out(`Migrated queue ${m.queue}${m.resumed ? ' (resumed)' : ''}: ${how}${dropped}; no message lost.`);
  }
  const kept = result.kept.length
    ? ` ${result.kept.length} owned entit${result.kept.length === 1 ? 'y' : 'ies'} no longer declared kept (--prune deletes them).`
    : '';
  if (result.applied.length === 0) {
    ctx.out(`Nothing to do: the broker already matches the topology.${kept}`);
    return;
  }
  const phases = result.phases.map((p) => `${p.phase} ${p.changes} in ${ms(p.durationMs)} ms`).join(', ');
  ctx.out(`Applied ${result.applied.length} change(s) in ${ms(result.durationMs)} ms (${phases}).${kept}`);
}

/** With `--force`, names every queue whose messages or consumers are given up, before anything happens. */
function warnForcedLosses(ctx: CommandContext, work: readonly Change[]): void {
  if (ctx.jsonMode || ctx.quiet) return;
  for (const c of work) {
    if (c.kind !== 'replace-queue' && c.kind !== 'extraneous-queue') continue;
    const lost = atRisk(c.messageCount, c.consumerCount);
    if (lost === '') continue;
    ctx.err(
      `warning: --force: queue ${c.queue.name} will be ${c.kind === 'replace-queue' ? 'replaced' : 'deleted'} with ${lost}`,
    );
  }
}

/** A `.json` argument holding a saved plan (a topology may be JSON too). */
async function readSavedPlan(ctx: CommandContext, file: string): Promise<SavedPlan | undefined> {
  if (!file.endsWith('.json')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(await readFile(resolve(ctx.cwd, file), 'utf8'));
  } catch {
    return undefined; // Not readable as JSON: the topology loader reports it with a location.
  }
  return isSavedPlan(value) ? parseSavedPlan(value, file) : undefined;
}
