/**
 * `wakame quickstart` (what `pnpm start` runs): the whole job in one go — validate
 * examples/priority-tasks, show the plan, apply it, start a worker, send a burst of low, mid and high
 * tasks, show them processed highest class first, and print a summary.
 *
 * It never touches what a user has on a broker. `hipri`, `midpri`, `lopri` and `tasks` are kombu's
 * documented names, so real brokers have them, with real work queued. Only an embedded broker
 * (`file://`, `memory://`) that holds nothing but the example's own entities, empty and idle, is run
 * with the example's names (and keeps them, for the README's next commands). Anywhere else —
 * RabbitMQ, Redis, a `file://` directory with other state — quickstart renames the example into its
 * own namespace ({@link NAMESPACE}: `wakame.quickstart.hipri`, …, exchange `wakame.quickstart.tasks`),
 * purges only those (left by an interrupted run), and deletes exactly those at the end, leaving the
 * broker as it found it.
 *
 * That choice, the renaming and the clean-up are in `./quickstart-namespace.ts`; the progress shown while the
 * worker runs, and the reading of the order the tasks ran in, in `./quickstart-progress.ts`.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  applyPlan,
  Connection,
  compileDocument,
  type DesiredTopology,
  describeChange,
  diff,
  InvalidArgumentError,
  type LiveState,
  observe,
  TaskClient,
  Worker,
} from '@wakame/core';
import type { CommandContext } from '../context.js';
import { ExitError } from '../errors.js';
import { check, DEFAULT_URL, summary } from '../topology-input.js';
import { cliTransports } from '../transports.js';
import {
  describeOwn,
  isOwnEmbeddedBroker,
  namespacedDocument,
  OWN_DEAD_LETTER_QUEUE,
  type OwnEntities,
  removeOwn,
} from './quickstart-namespace.js';
import { isInPriorityOrder, runLengths, showProgress } from './quickstart-progress.js';

export { NAMESPACE, namespacedDocument } from './quickstart-namespace.js';

export interface QuickstartOptions {
  readonly url?: string;
  /** Tasks per priority class. */
  readonly tasks?: string;
}

/** What `wakame quickstart --json` prints (and the tests check). */
export interface QuickstartReport {
  readonly url: string;
  /**
   * True when it ran on entities of its own ({@link NAMESPACE}…) because the broker is shared or holds
   * other state; false on an embedded broker of its own, where it used the example's names.
   */
  readonly namespaced: boolean;
  /** The queues it used, highest class first. */
  readonly queues: readonly string[];
  /** The exchanges it used. */
  readonly exchanges: readonly string[];
  /** Messages purged from its own namespaced queues, left there by an earlier, interrupted run. */
  readonly purgedLeftovers: number;
  /** True when the namespaced entities it declared were deleted again (always false when not namespaced). */
  readonly cleanedUp: boolean;
  readonly sent: Readonly<Record<string, number>>;
  readonly processed: number;
  /** Classes in the order their tasks were processed, run-length encoded: e.g. high×10, mid×10, low×10. */
  readonly order: readonly string[];
  readonly inPriorityOrder: boolean;
  readonly elapsedMs: number;
}

/**
 * The example's topology file. Run from source (`src/commands/quickstart.ts`, in the repository) it is the example
 * itself; the build copies it into the package (`assets/`, see `scripts/copy-assets.mjs`), where the compiled module
 * (`dist/commands/quickstart.js`) reads it: an installed CLI never reads outside its own package.
 */
export function quickstartTopology(moduleUrl: string = import.meta.url): string {
  return fileURLToPath(
    moduleUrl.endsWith('.ts')
      ? new URL('../../../../examples/priority-tasks/topology.yaml', moduleUrl)
      : new URL('../../assets/priority-tasks/topology.yaml', moduleUrl),
  );
}

const CLASSES = ['low', 'mid', 'high'] as const;
export async function quickstart(ctx: CommandContext, options: QuickstartOptions = {}): Promise<QuickstartReport> {
  const perClass = Number(options.tasks ?? 20);
  if (!Number.isInteger(perClass) || perClass < 1 || perClass > 10_000) {
    throw new InvalidArgumentError(`--tasks must be an integer from 1 to 10000, got '${options.tasks}'`);
  }
  const say = (line: string): void => {
    if (!ctx.jsonMode && !ctx.quiet) ctx.out(line);
  };
  const interrupted = (): ExitError => new ExitError(130, `interrupted${cleanup ? `; ${cleanup.what}` : ''}`);
  const topology = quickstartTopology();
  if (!existsSync(topology))
    throw new ExitError(
      1,
      `the quickstart topology is missing from this installation (${topology}); reinstall @wakame/cli`,
    );
  const url = options.url ?? ctx.env.WAKAME_URL ?? DEFAULT_URL;
  const connection = await Connection.open(url, { transports: cliTransports });
  const admin = connection.admin;
  /**
   * What to undo if quickstart stops part-way (the `finally` below runs it): namespaced, delete its own
   * entities; on the example's names, purge the queues it found empty and idle.
   */
  let cleanup: { readonly what: string; readonly run: () => Promise<void> } | undefined;
  try {
    say(`1. validate  examples/priority-tasks/topology.yaml`);
    const checked = await check(ctx, topology, connection.capabilities, connection.transport.kind);
    if (!checked.desired || !checked.document)
      throw new ExitError(1, `the example topology is invalid: ${checked.errors.map((e) => e.message).join('; ')}`);
    const example = checked.desired;
    say(`   ✓ ${summary(example)}`);

    const kind = connection.transport.kind;
    const embedded = kind === 'file' || kind === 'memory';
    const exampleLive = embedded ? await observe(admin, example) : undefined;
    const namespaced = exampleLive === undefined || !isOwnEmbeddedBroker(exampleLive, example);
    const desired = namespaced
      ? compileDocument(namespacedDocument(checked.document), {
          capabilities: connection.capabilities,
          transport: connection.transport.kind,
        })
      : example;
    const queues = queuesOf(desired);
    const exchanges = desired.exchanges.map((e) => e.name);
    say(`   queues ${queues.join(', ')} on exchange ${exchanges.join(', ')}`);
    if (namespaced) {
      const why = embedded ? 'this broker already holds other state' : `${kind}:// brokers are shared`;
      const originals = [...queuesOf(example), ...example.exchanges.map((e) => e.name)];
      say(`   (its own namespace, as ${why}: ${originals.join(', ')} are never touched; these are deleted at the end)`);
    }

    say(`2. plan      against ${connection.url}`);
    const live = exampleLive !== undefined && !namespaced ? exampleLive : await observe(admin, desired);
    if (namespaced && hasConsumers(live, queues))
      throw new ExitError(
        1,
        `another wakame quickstart is consuming from ${queues.join(', ')} on ${connection.url}; let it finish first`,
      );
    const plan = diff(desired, live);
    for (const change of plan.changes)
      if (change.kind !== 'unchanged' && !change.kind.startsWith('extraneous')) say(`   ${describeChange(change)}`);
    if (plan.noChanges) say('   no changes: the broker already matches');

    say('3. apply');
    const own: OwnEntities = { queues: [...desired.queues.map((q) => q.name), OWN_DEAD_LETTER_QUEUE], exchanges };
    if (namespaced) cleanup = { what: `deleted its own ${describeOwn(own)}`, run: () => removeOwn(admin, own) };
    // Namespaced, every entity in the plan is quickstart's own: one left over in another shape is simply replaced.
    const applied = await applyPlan(plan, admin, namespaced ? { allowDestructive: true, force: true } : {});
    say(`   ✓ ${applied.applied.length} change(s) applied`);
    // Only namespaced queues are ever purged (on the example's names the broker was checked to be empty). Each
    // one is purged rather than trusting the listed count: RabbitMQ's management statistics lag by seconds.
    let purgedLeftovers = 0;
    if (namespaced) {
      for (const queue of queues) {
        const purged = await admin.purgeQueue(queue);
        if (purged === 0) continue;
        purgedLeftovers += purged;
        say(`   purged ${purged} message(s) left by an earlier, interrupted quickstart from ${queue} (its own queue)`);
      }
    }

    if (!namespaced)
      cleanup = {
        what: `purged ${queues.join(', ')} (empty when it started)`,
        run: async () => {
          for (const queue of queues) await admin.purgeQueue(queue);
        },
      };
    const client = new TaskClient(connection, { compiled: desired });
    say(`4. send      ${perClass} tasks of each class, lowest first: ${CLASSES.join(', ')}`);
    const sent: Record<string, number> = {};
    for (const priority of CLASSES) {
      for (let i = 0; i < perClass; i++) {
        if (ctx.signal?.aborted) throw interrupted();
        await client.send('report.generate', { reportId: `${priority}-${i}` }, { priority });
      }
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
      queues,
      concurrency: 1,
      ...(namespaced ? { deadLetterQueue: OWN_DEAD_LETTER_QUEUE } : {}),
      handlers: {
        'report.generate': (payload) => {
          processed.push(String((payload as { reportId: string }).reportId).split('-')[0] ?? '');
          showProgress(ctx, processed, total);
          if (processed.length === total) done();
        },
      },
    });
    let workerError: unknown;
    const running = worker.run().catch((error: unknown) => {
      workerError = error;
      done();
    });
    const timeout = setTimeout(done, 60_000);
    ctx.signal?.addEventListener('abort', done, { once: true });
    try {
      await finished;
    } finally {
      clearTimeout(timeout);
      ctx.signal?.removeEventListener('abort', done);
      await worker.stop({ deadline: 5_000 });
      await running;
    }
    if (workerError !== undefined) throw workerError;
    if (ctx.signal?.aborted) throw interrupted();
    const elapsedMs = Math.round(performance.now() - started);

    // Namespaced, its own entities go now; on the example's names there is nothing to undo once every task ran.
    if (namespaced) await cleanup?.run();
    const cleanedUp = namespaced;
    if (namespaced || processed.length === total) cleanup = undefined;

    const order = runLengths(processed);
    const inPriorityOrder = isInPriorityOrder(processed);
    const report: QuickstartReport = {
      url: connection.url,
      namespaced,
      queues,
      exchanges,
      purgedLeftovers,
      cleanedUp,
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
    if (cleanedUp) say(`   ✓ deleted its own ${describeOwn(own)}: the broker is as it was`);
    if (processed.length < total || !inPriorityOrder)
      throw new ExitError(1, 'the quickstart did not complete as expected');
    return report;
  } finally {
    // A failure or an interruption part-way: undo what quickstart did, and touch nothing else.
    const undo = cleanup;
    if (undo)
      await undo.run().catch((error: unknown) => {
        ctx.err(
          `warning: could not clean up (${undo.what}): ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    await connection.close();
  }
}

/** The priority-class queues, highest class first, then any other queue of the topology. */
function queuesOf(desired: DesiredTopology): string[] {
  const classes = Object.values(desired.priorityClasses);
  return [...new Set([...classes, ...desired.queues.map((q) => q.name)])];
}

/** Whether any of `queues` is known to have a consumer (only a listing says so). */
function hasConsumers(live: LiveState, queues: readonly string[]): boolean {
  return (
    live.kind === 'listed' && live.observed.queues.some((q) => queues.includes(q.name) && (q.consumerCount ?? 0) > 0)
  );
}
