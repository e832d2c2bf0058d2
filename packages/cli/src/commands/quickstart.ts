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
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  applyPlan,
  Connection,
  compileDocument,
  DEFAULT_DEAD_LETTER_QUEUE,
  type DesiredTopology,
  describeChange,
  diff,
  InvalidArgumentError,
  type LiveState,
  NotFoundError,
  observe,
  TaskClient,
  type TopologyDocument,
  Worker,
} from '@wakame/core';
import type { CommandContext } from '../context.js';
import { ExitError } from '../errors.js';
import { check, DEFAULT_URL, summary } from '../topology-input.js';
import { cliTransports } from '../transports.js';

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

/** The prefix of quickstart's own entities on a broker that is not its own. */
export const NAMESPACE = 'wakame.quickstart.';

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
/** The worker's dead-letter queue when namespaced (the default one is not quickstart's to create). */
const OWN_DEAD_LETTER_QUEUE = `${NAMESPACE}dead-letter`;

/** What quickstart declares on a broker that is not its own, and deletes again at the end. */
interface OwnEntities {
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
}

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
          progress(ctx, processed, total);
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

    const order = runs(processed);
    const inPriorityOrder = isOrdered(processed);
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

/** Broker-owned names: the default exchange and `amq.*`. */
function isBrokerOwned(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}

/**
 * Whether quickstart may use the example's own names: an embedded broker (file://, memory://) whose
 * listing holds nothing but the example's entities (and the worker's dead-letter queue), every queue
 * empty and without consumers. Anything else may be a user's, so quickstart goes namespaced.
 */
function isOwnEmbeddedBroker(live: LiveState, example: DesiredTopology): boolean {
  if (live.kind !== 'listed') return false;
  const exchanges = new Set(example.exchanges.map((e) => e.name));
  const queues = new Set([...example.queues.map((q) => q.name), DEFAULT_DEAD_LETTER_QUEUE]);
  return (
    live.observed.exchanges.every((e) => isBrokerOwned(e.name) || exchanges.has(e.name)) &&
    live.observed.queues.every((q) => queues.has(q.name) && q.messageCount === 0 && (q.consumerCount ?? 0) === 0)
  );
}

/** The example renamed into {@link NAMESPACE}: every queue and exchange it declares or names; routing keys stay. */
export function namespacedDocument(document: TopologyDocument): TopologyDocument {
  const exchange = (name: string): string => (isBrokerOwned(name) ? name : `${NAMESPACE}${name}`);
  const queue = (name: string): string => `${NAMESPACE}${name}`;
  const { include: _merged, ...rest } = document;
  return {
    ...rest,
    ...(document.exchanges
      ? {
          exchanges: document.exchanges.map((e) => ({
            ...e,
            name: exchange(e.name),
            ...(e.alternateExchange !== undefined ? { alternateExchange: exchange(e.alternateExchange) } : {}),
          })),
        }
      : {}),
    ...(document.queues
      ? {
          queues: document.queues.map((q) => ({
            ...q,
            name: queue(q.name),
            ...(q.deadLetter ? { deadLetter: { ...q.deadLetter, exchange: exchange(q.deadLetter.exchange) } } : {}),
            ...(q.bindings ? { bindings: q.bindings.map((b) => ({ ...b, exchange: exchange(b.exchange) })) } : {}),
          })),
        }
      : {}),
    ...(document.bindings
      ? {
          bindings: document.bindings.map((b) => ({
            ...b,
            exchange: exchange(b.exchange),
            destination: b.destinationType === 'exchange' ? exchange(b.destination) : queue(b.destination),
          })),
        }
      : {}),
    ...(document.broadcasts
      ? {
          broadcasts: document.broadcasts.map((b) => ({
            ...b,
            name: exchange(b.name),
            queuePrefix: queue(b.queuePrefix ?? 'bcast'),
          })),
        }
      : {}),
    ...(document.priorityClasses
      ? {
          priorityClasses: Object.fromEntries(
            Object.entries(document.priorityClasses).map(([name, q]) => [name, queue(q)]),
          ),
        }
      : {}),
    ...(document.tasks
      ? {
          tasks: document.tasks.map((t) => ({
            ...t,
            ...(t.route ? { route: { ...t.route, exchange: exchange(t.route.exchange) } } : {}),
            ...(t.deadLetter
              ? {
                  deadLetter: {
                    ...t.deadLetter,
                    ...(t.deadLetter.queue !== undefined ? { queue: queue(t.deadLetter.queue) } : {}),
                    ...(t.deadLetter.exchange !== undefined ? { exchange: exchange(t.deadLetter.exchange) } : {}),
                  },
                }
              : {}),
          })),
        }
      : {}),
    ...(document.routes ? { routes: document.routes.map((r) => ({ ...r, exchange: exchange(r.exchange) })) } : {}),
  };
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

/** Deletes quickstart's own queues, then its exchanges; what is already gone is fine. */
async function removeOwn(admin: Connection['admin'], own: OwnEntities): Promise<void> {
  const gone = (error: unknown): void => {
    if (!(error instanceof NotFoundError)) throw error;
  };
  for (const queue of own.queues) await admin.deleteQueue(queue).then(() => undefined, gone);
  for (const exchange of own.exchanges) await admin.deleteExchange(exchange).catch(gone);
}

/** `queues a, b and exchange c`, for messages. */
function describeOwn(own: OwnEntities): string {
  return `queues ${own.queues.join(', ')} and exchange${own.exchanges.length === 1 ? '' : 's'} ${own.exchanges.join(', ')}`;
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
