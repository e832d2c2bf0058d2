/**
 * Tasks on PostgreSQL: Wakame's TaskClient + Worker on `postgres://` beside pg-boss 10 on the same
 * server, the same ~200-byte payload, no-op handlers. Send: WINDOW sends in flight (pg-boss also with
 * `insert` of WINDOW jobs, labelled). Process: the queue filled first, then the worker started; the
 * figure runs from starting it to the last handled task, bounded by a count and a time.
 *
 * pg-boss 10's `work()` fetches `batchSize` jobs, runs the handler on them, and then waits out its
 * polling interval (at least 0.5 s) before it fetches again: concurrency N is `batchSize: N` (the
 * handler gets N jobs and runs them at once), and its rate is about N per 0.5 s by design. Its
 * `fetch` + `complete` called in a loop has no such wait: shown beside it as pg-boss's fastest path.
 * pg-boss keeps its tables in a schema of its own, created by `start()` and dropped after the round.
 */
import { randomBytes } from 'node:crypto';
import { type Connection, compileTopology, type DesiredTopology, Queue, TaskClient, Worker } from '@wakame/core';
import PgBoss from 'pg-boss';
import { benchPayload, benchTaskTopology, countdown, deadline, inWindows, now, rate, within } from './harness.js';
import {
  closeAll,
  dropPgSchema,
  expect,
  type Layout,
  PG_URL,
  PHASE_TIMEOUT_MS,
  QUEUE,
  rawPg,
  readyCount,
  WINDOW,
} from './sql-support.js';

export const TASK_COUNT = 10_000;
export const TASK_COUNT_SERIAL = 2_000;
/** A process phase stops here even when not every task ran: its figure is tasks run / time. */
export const PROCESS_MS = 10_000;

/** Tasks handled and the time it took (a phase bounded by PROCESS_MS may not handle all of them). */
export interface Processed {
  readonly count: number;
  readonly ms: number;
}

export function taskTopology(): DesiredTopology {
  return compileTopology(benchTaskTopology(QUEUE, true));
}

/** The queue of {@link taskTopology} as a declaration, so that sends before the worker starts are routed. */
function taskQueue(): Queue {
  return new Queue(QUEUE, { durable: true, bindings: [{ exchange: 'amq.direct', routingKey: QUEUE }] });
}

/** TaskClient.send of `count` tasks, WINDOW in flight. @returns msg/s */
export async function wakameSend(
  connection: Connection,
  layout: Layout,
  topology: DesiredTopology,
  count: number,
): Promise<number> {
  await connection.declare(taskQueue());
  const client = new TaskClient(connection, { compiled: topology });
  const start = now();
  await inWindows(
    count,
    WINDOW,
    (i) => client.send('media.process', benchPayload(i)),
    (sent) => within(sent, PHASE_TIMEOUT_MS, 'TaskClient.send'),
  );
  const ms = now() - start;
  const raw = rawPg();
  try {
    const depth = await readyCount(raw, layout);
    expect(depth === count, `${depth} tasks ready after ${count} sends`);
  } finally {
    await raw.end();
  }
  return rate(count, ms);
}

/** A Worker at `concurrency` on an open connection, from `run()` to the `count`-th done task or PROCESS_MS. */
export async function wakameProcess(
  connection: Connection,
  topology: DesiredTopology,
  count: number,
  concurrency: number,
): Promise<Processed> {
  let handled = 0;
  const finished = countdown(1);
  let failure: unknown;
  const worker = new Worker({
    connection,
    topology: { compiled: topology },
    concurrency,
    handlers: { 'media.process': () => {} },
    onTaskEvent: (event) => {
      if (event.type !== 'done') {
        failure ??= new Error(`task ${event.id}: ${event.type} ${event.reason ?? event.error?.message ?? ''}`);
        finished.fail(failure);
      } else if (++handled === count) finished.tick();
    },
    onConnectionError: (error) => finished.fail(error),
  });
  const start = now();
  const running = worker.run();
  try {
    await boundedWait(finished.done, () => handled, count);
    return { count: handled, ms: now() - start };
  } finally {
    await closeAll(
      () => within(worker.stop({ deadline: 5_000 }), 10_000, 'Wakame Worker stop'),
      () => within(running, 10_000, 'Wakame Worker run'),
    );
  }
}

/** Waits for `done` until PROCESS_MS, then goes on with what was handled (nothing at all fails the phase). */
async function boundedWait(done: Promise<void>, handled: () => number, count: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, PROCESS_MS);
  });
  try {
    await Promise.race([done, bound]);
  } finally {
    clearTimeout(timer);
  }
  expect(handled() > 0, `no task of ${count} was handled within ${PROCESS_MS} ms`);
}

/** One pg-boss instance in a fresh schema of its own; `close()` stops it and drops the schema. */
export interface Boss {
  readonly boss: PgBoss;
  /** The first error pg-boss emitted (its background loops report by event), if any. */
  error(): unknown;
  close(): Promise<void>;
}

export async function startBoss(): Promise<Boss> {
  const schema = `pgboss_bench_${randomBytes(4).toString('hex')}`;
  // The pool as large as Wakame's (pool_max 10); no cron (nothing here is scheduled).
  const boss = new PgBoss({ connectionString: PG_URL, schema, max: 10, schedule: false });
  let failure: unknown;
  boss.on('error', (error) => {
    failure ??= error;
  });
  const close = () =>
    closeAll(
      () => within(boss.stop({ graceful: false, wait: true, timeout: 5_000 }), 15_000, 'pg-boss stop'),
      () => dropPgSchema(schema),
    );
  try {
    await within(boss.start(), PHASE_TIMEOUT_MS, 'pg-boss start');
    await boss.createQueue(QUEUE);
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  return { boss, error: () => failure, close };
}

function check(b: Boss): void {
  const error = b.error();
  if (error) throw error instanceof Error ? error : new Error(String(error));
}

/** `send` of `count` jobs, WINDOW in flight (`insert` of WINDOW jobs per round trip with `bulk`). @returns msg/s */
export async function bossSend(b: Boss, count: number, bulk: boolean): Promise<number> {
  await b.boss.purgeQueue(QUEUE);
  const start = now();
  if (bulk) {
    const bound = deadline(PHASE_TIMEOUT_MS, `pg-boss insert of ${count}`);
    for (let i = 0; i < count; i += WINDOW) {
      bound.check(`${i}/${count}`);
      const jobs = Array.from({ length: Math.min(WINDOW, count - i) }, (_, k) => ({
        name: QUEUE,
        data: benchPayload(i + k),
      }));
      await within(b.boss.insert(jobs), PHASE_TIMEOUT_MS, 'pg-boss insert');
    }
  } else {
    await inWindows(
      count,
      WINDOW,
      (i) => b.boss.send(QUEUE, benchPayload(i)),
      (sent) => within(sent, PHASE_TIMEOUT_MS, 'pg-boss send'),
    );
  }
  const ms = now() - start;
  check(b);
  const size = await b.boss.getQueueSize(QUEUE);
  expect(size === count, `pg-boss queue holds ${size} jobs after ${count} sends`);
  return rate(count, ms);
}

/** `work()` with `batchSize: concurrency`, from the call to the `count`-th handled job or PROCESS_MS. */
export async function bossWork(b: Boss, count: number, concurrency: number): Promise<Processed> {
  let handled = 0;
  const finished = countdown(1);
  const start = now();
  await b.boss.work(QUEUE, { batchSize: concurrency, pollingIntervalSeconds: 0.5 }, async (jobs) => {
    await Promise.all(jobs.map(async () => {}));
    for (const _ of jobs) if (++handled === count) finished.tick();
  });
  try {
    await boundedWait(finished.done, () => handled, count);
    const ms = now() - start;
    check(b);
    return { count: Math.min(handled, count), ms };
  } finally {
    await b.boss.offWork(QUEUE);
  }
}

/** pg-boss's fastest path: `fetch` of `concurrency` jobs, handled at once, `complete` awaited, in a loop. */
export async function bossFetchLoop(b: Boss, count: number, concurrency: number): Promise<Processed> {
  let handled = 0;
  const start = now();
  while (handled < count && now() - start < PROCESS_MS) {
    const jobs = await within(
      b.boss.fetch(QUEUE, { batchSize: Math.min(concurrency, count - handled) }),
      PHASE_TIMEOUT_MS,
      'pg-boss fetch',
    );
    expect(jobs.length > 0, `pg-boss queue ran dry after ${handled}/${count}`);
    await Promise.all(jobs.map(async () => {}));
    await within(
      b.boss.complete(
        QUEUE,
        jobs.map((j) => j.id),
      ),
      PHASE_TIMEOUT_MS,
      'pg-boss complete',
    );
    handled += jobs.length;
  }
  const ms = now() - start;
  check(b);
  return { count: handled, ms };
}
