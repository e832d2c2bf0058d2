/**
 * `wakame quickstart` (what `pnpm start` runs): the whole job on the embedded broker in one go —
 * validate examples/priority-tasks, show the plan, apply it, start a worker, send a burst of low,
 * mid and high tasks, show them processed highest class first, and print a summary.
 *
 * @module
 */
import { fileURLToPath } from 'node:url';
import {
  applyPlan,
  Connection,
  describeChange,
  diff,
  InvalidArgumentError,
  observe,
  Queue,
  TaskClient,
  Worker,
} from '@wakame/core';
import type { CommandContext } from '../context.js';
import { ExitError } from '../errors.js';
import { check, DEFAULT_URL, summary } from '../topology-input.js';

export interface QuickstartOptions {
  readonly url?: string;
  /** Tasks per priority class. */
  readonly tasks?: string;
}

/** What `wakame quickstart --json` prints (and the tests check). */
export interface QuickstartReport {
  readonly url: string;
  readonly sent: Readonly<Record<string, number>>;
  readonly processed: number;
  /** Classes in the order their tasks were processed, run-length encoded: e.g. high×10, mid×10, low×10. */
  readonly order: readonly string[];
  readonly inPriorityOrder: boolean;
  readonly elapsedMs: number;
}

const TOPOLOGY = fileURLToPath(new URL('../../../../examples/priority-tasks/topology.yaml', import.meta.url));
const CLASSES = ['low', 'mid', 'high'] as const;

export async function quickstart(ctx: CommandContext, options: QuickstartOptions = {}): Promise<QuickstartReport> {
  const perClass = Number(options.tasks ?? 20);
  if (!Number.isInteger(perClass) || perClass < 1 || perClass > 10_000) {
    throw new InvalidArgumentError(`--tasks must be an integer from 1 to 10000, got '${options.tasks}'`);
  }
  const say = (line: string): void => {
    if (!ctx.jsonMode && !ctx.quiet) ctx.out(line);
  };
  const url = options.url ?? ctx.env.WAKAME_URL ?? DEFAULT_URL;
  const connection = await Connection.open(url);
  try {
    say(`1. validate  examples/priority-tasks/topology.yaml`);
    const checked = await check(ctx, TOPOLOGY, connection.capabilities, connection.transport.kind);
    if (!checked.desired)
      throw new ExitError(1, `the example topology is invalid: ${checked.errors.map((e) => e.message).join('; ')}`);
    const desired = checked.desired;
    say(`   ✓ ${summary(desired)}`);

    say(`2. plan      against ${connection.url}`);
    const plan = diff(desired, await observe(connection.admin, desired));
    for (const change of plan.changes)
      if (change.kind !== 'unchanged' && !change.kind.startsWith('extraneous')) say(`   ${describeChange(change)}`);
    if (plan.noChanges) say('   no changes: the broker already matches');

    say('3. apply');
    const applied = await applyPlan(plan, connection.admin);
    say(`   ✓ ${applied.applied.length} change(s) applied`);
    for (const queue of Object.values(desired.priorityClasses)) await new Queue(queue).attach(connection).purge();

    const client = new TaskClient(connection, { compiled: desired });
    say(`4. send      ${perClass} tasks of each class, lowest first: ${CLASSES.join(', ')}`);
    const sent: Record<string, number> = {};
    for (const priority of CLASSES) {
      for (let i = 0; i < perClass; i++)
        await client.send('report.generate', { reportId: `${priority}-${i}` }, { priority });
      sent[priority] = perClass;
    }

    say('5. work      one worker, concurrency 1: the highest class goes first');
    const total = perClass * CLASSES.length;
    const processed: string[] = [];
    const started = performance.now();
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const worker = new Worker({
      connection,
      topology: { compiled: desired },
      concurrency: 1,
      handlers: {
        'report.generate': (payload) => {
          processed.push(String((payload as { reportId: string }).reportId).split('-')[0] ?? '');
          progress(ctx, processed, total);
          if (processed.length === total) done();
        },
      },
    });
    void worker.run();
    const timeout = setTimeout(done, 60_000);
    await finished;
    clearTimeout(timeout);
    await worker.stop({ deadline: 5_000 });
    const elapsedMs = Math.round(performance.now() - started);
    const order = runs(processed);
    const inPriorityOrder = isOrdered(processed);
    const report: QuickstartReport = {
      url: connection.url,
      sent,
      processed: processed.length,
      order,
      inPriorityOrder,
      elapsedMs,
    };
    if (ctx.jsonMode) ctx.json(report);
    say(`6. summary   ${processed.length}/${total} processed in ${elapsedMs} ms, in this order: ${order.join(' → ')}`);
    say(
      inPriorityOrder
        ? '   ✓ every high task ran before every mid task, and every mid before every low'
        : '   ✗ out of priority order',
    );
    if (processed.length < total || !inPriorityOrder)
      throw new ExitError(1, 'the quickstart did not complete as expected');
    return report;
  } finally {
    await connection.close();
  }
}

/** A one-line progress bar on a terminal; a line per 25% otherwise. */
function progress(ctx: CommandContext, processed: readonly string[], total: number): void {
  if (ctx.jsonMode || ctx.quiet) return;
  const n = processed.length;
  if (ctx.color) {
    const width = 30;
    const filled = Math.round((n / total) * width);
    ctx.err(
      `\u001b[1A\u001b[2K   [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n}/${total} (${processed.at(-1)})`,
    );
  } else if (n === total || n % Math.max(1, Math.floor(total / 4)) === 0) {
    ctx.err(`   processed ${n}/${total} (last: ${processed.at(-1)})`);
  }
}

/** ['high','high','mid'] → ['high×2', 'mid×1']. */
function runs(classes: readonly string[]): string[] {
  const out: { name: string; count: number }[] = [];
  for (const c of classes) {
    const last = out.at(-1);
    if (last?.name === c) last.count++;
    else out.push({ name: c, count: 1 });
  }
  return out.map((r) => `${r.name}×${r.count}`);
}

/**
 * Every high before every mid before every low: counts the tasks that ran after a task of a lower
 * class had already run. One is allowed: the first message may already sit in the prefetch window.
 */
function isOrdered(classes: readonly string[]): boolean {
  const rank = (c: string): number => ['high', 'mid', 'low'].indexOf(c);
  let lowestSeen = 0;
  let late = 0;
  for (const c of classes) {
    if (rank(c) < lowestSeen) late++;
    lowestSeen = Math.max(lowestSeen, rank(c));
  }
  return late <= 1;
}
