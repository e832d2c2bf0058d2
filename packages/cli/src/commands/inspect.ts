/**
 * `wakame inspect`: the queues of a broker with their ready messages and consumers, and how many exchanges and
 * bindings it has. `--watch` redraws every few seconds until the context's abort signal fires (SIGINT).
 *
 * The listing comes from the transport (`admin.inspect()`): complete for the embedded brokers, and for RabbitMQ
 * only through the management API. Ready and consumer counts come from a passive declare of each listed queue,
 * which is exact and current, where the management API's statistics lag by seconds.
 *
 * A broker that cannot be listed is a failure ({@link ListingUnavailableError}, exit code 1); `--watch` keeps
 * redrawing, reports it each round, and exits 1 when the last round could not list.
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BindingSpec,
  ChannelError,
  type Connection,
  type ExchangeSpec,
  NotFoundError,
  type QueueSpec,
  WakameError,
} from '@wakame/core';
import type { CommandContext } from '../context.js';
import { ExitError } from '../errors.js';
import { type BrokerOptions, openBroker } from '../topology-input.js';
import { passiveSpec } from './publish.js';

/** Options of {@link inspect}. */
export interface InspectOptions extends BrokerOptions {
  /**
   * Redraw every N seconds (`true`: {@link DEFAULT_WATCH_SECONDS}) until interrupted; the number arrives parsed and
   * range-checked (see `options.ts`).
   */
  readonly watch?: boolean | number;
}

/** The broker offers no listing of its queues (RabbitMQ without a reachable management API). */
export class ListingUnavailableError extends WakameError {
  override readonly name = 'ListingUnavailableError';
  readonly code = 'ERR_LISTING_UNAVAILABLE';
  readonly hint =
    'enable the rabbitmq_management plugin, or pass --management-url <url> when it is not at http://<host>:15672';
  constructor(url: string) {
    super(`cannot list the queues of ${url}: the broker offers no listing (for RabbitMQ, the management API)`);
  }
}

/** One queue as listed, with its current counts. */
export interface QueueStatus extends QueueSpec {
  /** Messages according to the listing (for RabbitMQ: ready + unacknowledged, as of the last statistics). */
  readonly messageCount: number;
  /** Ready messages now (passive declare); the listed count when the queue could not be declared. */
  readonly ready: number;
  /** Consumers now; `null` when the queue could not be declared passively (exclusive to another connection). */
  readonly consumers: number | null;
}

/** What `inspect` shows, and prints with `--json`: the observed topology plus counts. */
export interface InspectReport {
  /** The broker URL, password masked. */
  readonly url: string;
  /** False when the broker could not be listed (RabbitMQ without a reachable management API): lists are empty. */
  readonly complete: boolean;
  readonly exchanges: readonly ExchangeSpec[];
  readonly queues: readonly QueueStatus[];
  readonly bindings: readonly BindingSpec[];
  readonly counts: {
    readonly exchanges: number;
    readonly queues: number;
    readonly bindings: number;
    readonly ready: number;
    readonly consumers: number;
  };
}

export const DEFAULT_WATCH_SECONDS = 2;
/** Passive declares in flight at once: enough to be quick on a large vhost, few enough to spare the broker. */
const PROBE_CONCURRENCY = 8;

/**
 * Prints the report once, or with `--watch` repeatedly until `ctx.signal` aborts; returns the last one.
 * @throws {@link ListingUnavailableError} when the broker could not be listed (with `--watch`: an
 * {@link ExitError} once interrupted, when the last round could not; each round has said so already).
 */
export async function inspect(ctx: CommandContext, options: InspectOptions): Promise<InspectReport> {
  const interval =
    options.watch === undefined || options.watch === false
      ? undefined
      : options.watch === true
        ? DEFAULT_WATCH_SECONDS
        : options.watch;
  const connection = await openBroker(ctx, options);
  try {
    let report = await observeQueues(connection);
    if (interval === undefined) {
      if (!report.complete) throw new ListingUnavailableError(report.url);
      print(ctx, report, interval);
      return report;
    }
    print(ctx, report, interval);
    // Without a signal (not wired by the host) the loop runs until the process is killed, which is what
    // `watch` does too; nothing is held that the broker would need back.
    while (await pause(interval * 1000, ctx.signal)) {
      report = await observeQueues(connection);
      print(ctx, report, interval);
    }
    if (!report.complete) throw new ExitError(1, '', { code: 'ERR_LISTING_UNAVAILABLE' });
    return report;
  } finally {
    await connection.close();
  }
}

/** Lists the broker and probes every listed queue. */
export async function observeQueues(connection: Connection): Promise<InspectReport> {
  const observed = await connection.admin.inspect();
  const statuses: (QueueStatus | undefined)[] = new Array(observed.queues.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < observed.queues.length) {
      const index = next++;
      const queue = observed.queues[index] as QueueSpec & { readonly messageCount: number };
      statuses[index] = await probe(connection, queue);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, observed.queues.length) }, worker));
  const queues = statuses.filter((q): q is QueueStatus => q !== undefined);
  return {
    url: connection.url,
    complete: observed.complete,
    exchanges: observed.exchanges,
    queues,
    bindings: observed.bindings,
    counts: {
      exchanges: observed.exchanges.length,
      queues: queues.length,
      bindings: observed.bindings.length,
      ready: queues.reduce((sum, q) => sum + q.ready, 0),
      consumers: queues.reduce((sum, q) => sum + (q.consumers ?? 0), 0),
    },
  };
}

/** Current counts of one listed queue; `undefined` when it was deleted since the listing. */
async function probe(
  connection: Connection,
  queue: QueueSpec & { readonly messageCount: number },
): Promise<QueueStatus | undefined> {
  try {
    const { messageCount, consumerCount } = await connection.admin.declareQueue(passiveSpec(queue.name), {
      passive: true,
    });
    return { ...queue, ready: messageCount, consumers: consumerCount };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    // Refused for this queue alone (exclusive to another connection): show what the listing knows.
    if (error instanceof ChannelError) return { ...queue, ready: queue.messageCount, consumers: null };
    throw error;
  }
}

/** Waits `ms`; false when `signal` aborted (before or during the wait). */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
    return true;
  } catch {
    return false;
  }
}

function print(ctx: CommandContext, report: InspectReport, interval: number | undefined): void {
  const unlisted = report.complete ? undefined : new ListingUnavailableError(report.url);
  if (ctx.jsonMode) {
    ctx.json(
      unlisted ? { ok: false, error: { code: unlisted.code, message: unlisted.message, hint: unlisted.hint } } : report,
    );
    return;
  }
  if (interval !== undefined && !ctx.quiet) {
    // On a terminal each round replaces the last, as watch(1) does; piped output keeps every round.
    const clear = ctx.color ? '\u001b[H\u001b[2J' : '';
    ctx.out(`${clear}Every ${interval} s: ${report.url} · ${new Date().toLocaleTimeString()}`);
  }
  if (unlisted) {
    // A round of --watch: the failure is the screen's content; the exit code tells it in the end.
    ctx.out(`error [${unlisted.code}]: ${unlisted.message}`);
    if (!ctx.quiet) ctx.out(`hint: ${unlisted.hint}`);
    return;
  }
  const rows = report.queues.map((q) => [q.name, String(q.ready), q.consumers === null ? '?' : String(q.consumers)]);
  if (!ctx.quiet) ctx.out(`Queues on ${report.url}:`);
  for (const line of table(['QUEUE', 'READY', 'CONSUMERS'], rows)) ctx.out(line);
  if (rows.length === 0) ctx.out('(no queues)');
  if (!ctx.quiet) {
    const c = report.counts;
    const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
    ctx.out(
      `${n(c.queues, 'queue')}, ${n(c.exchanges, 'exchange')}, ${n(c.bindings, 'binding')}; ${n(c.ready, 'message')} ready, ${n(c.consumers, 'consumer')}.`,
    );
    if (report.queues.some((q) => q.consumers === null)) {
      ctx.out('? = exclusive to another connection: the ready count is the listed one.');
    }
  }
}

/** Left-aligned first column, right-aligned numbers, two spaces between columns. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
