/**
 * The SQL transports (`postgres://`, `mysql://`) beside ceilings that do exactly the same work:
 * (a) messaging, one producer then one consumer: Wakame's publish (WINDOW in flight, one multi-row
 *     INSERT per turn) and consume → decode → ack at prefetch 100 and 500, beside the store's own
 *     statements on bare `pg` / `mysql2` (sql-support.ts): the same INSERT of the same columns (with
 *     PostgreSQL's `pg_notify` in it), the same claim with the same settings in the same batches (at
 *     most half the window each, sent whenever a quarter of it is free, several in flight), one
 *     `DELETE … WHERE seq IN (…)` per batch of acks;
 * (b) tasks on PostgreSQL beside pg-boss 10 (sql-tasks.ts);
 * (c) the claim at 10k, 100k and 1M messages deep (sql-depth.ts).
 *
 * Every round gets a fresh schema (PostgreSQL) or table prefix (MariaDB), dropped after it; a database
 * that does not answer makes its benchmarks report skipped figures with the reason.
 */
import { Connection } from '@wakame/core';
import {
  type Benchmark,
  benchPayload,
  consumeRate,
  type Figure,
  type FigureSpec,
  inWindows,
  now,
  Rounds,
  rate,
  within,
} from './harness.js';
import {
  BURST,
  BURST_PREFETCH,
  FILL_TIMEOUT_MS,
  fill,
  rawSingleClaims,
  SINGLE_CLAIMS,
  topUp,
  wakameSingleClaims,
} from './sql-depth.js';
import {
  benchQueue,
  type ClaimStats,
  claimBatch,
  closeAll,
  expect,
  freshLayout,
  type Layout,
  PHASE_TIMEOUT_MS,
  QUEUE,
  type RawSql,
  ROUNDS,
  rawConsume,
  rawMysql,
  rawPg,
  rawPublish,
  readyCount,
  rowCount,
  type SqlKind,
  sampleRow,
  unreachable,
  WINDOW,
} from './sql-support.js';
import {
  bossFetchLoop,
  bossSend,
  bossWork,
  PROCESS_MS,
  type Processed,
  startBoss,
  TASK_COUNT,
  TASK_COUNT_SERIAL,
  taskTopology,
  wakameProcess,
  wakameSend,
} from './sql-tasks.js';

const COUNT = 20_000;
const PREFETCHES = [100, 500] as const;

/** Figures that could not be measured because the database is unreachable: reported, not failed. */
function skipped(specs: readonly FigureSpec[], why: string): Figure[] {
  return specs.map((spec) => ({ ...spec, value: Number.NaN, rounds: 0, note: `skipped: ${why}` }));
}

function raw(kind: SqlKind): RawSql {
  return kind === 'postgres' ? rawPg() : rawMysql();
}

/** One round's tables, a raw pool and an open Wakame connection on them; all closed and dropped after `fn`. */
async function inFreshLayout<T>(
  kind: SqlKind,
  fn: (layout: Layout, sql: RawSql, connection: Connection) => Promise<T>,
): Promise<T> {
  const layout = freshLayout(kind);
  const sql = raw(kind);
  let connection: Connection | undefined;
  try {
    connection = await Connection.open(layout.url);
    return await fn(layout, sql, connection);
  } finally {
    await closeAll(
      async () => connection?.close(),
      () => sql.end(),
      () => layout.drop(),
    );
  }
}

async function clearQueue(sql: RawSql, layout: Layout): Promise<void> {
  await sql.query(`DELETE FROM ${layout.messages} WHERE queue = ${sql.kind === 'postgres' ? '$1' : '?'}`, [QUEUE]);
}

// ---------------------------------------------------------------------------------------------
// (a) messaging

async function wakamePublish(connection: Connection, sql: RawSql, layout: Layout, count: number): Promise<number> {
  const producer = connection.producer({ routingKey: QUEUE });
  const start = now();
  await inWindows(count, WINDOW, (i) => producer.publish(benchPayload(i)));
  const ms = now() - start;
  const depth = await readyCount(sql, layout);
  expect(depth === count, `${depth} messages ready after ${count} Wakame publishes`);
  return rate(count, ms);
}

async function wakameConsume(connection: Connection, count: number, prefetch: number): Promise<number> {
  return consumeRate(connection, benchQueue(), count, { prefetch, decode: true, timeoutMs: PHASE_TIMEOUT_MS });
}

function messagingSpecs(kind: SqlKind): FigureSpec[] {
  const p = `sql.${kind}`;
  const driver = kind === 'postgres' ? 'pg' : 'mysql2';
  const notify = kind === 'postgres' ? ' + pg_notify in the same statement, as the store' : '';
  const claim =
    kind === 'postgres'
      ? "the store's SET LOCALs (plan pinned, synchronous_commit off) + UPDATE … WHERE seq IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING"
      : 'a transaction of SELECT … FOR UPDATE SKIP LOCKED LIMIT n + UPDATE … WHERE seq IN (…)';
  const specs: FigureSpec[] = [
    {
      name: `${p}.raw.publish`,
      unit: 'msg/s',
      note: `${driver}: one INSERT of ${WINDOW} rows (the store's columns and values) per round trip${notify}; ${COUNT} a round`,
    },
    {
      name: `${p}.wakame.publish`,
      unit: 'msg/s',
      ceiling: `${p}.raw.publish`,
      note: `Producer.publish, ${WINDOW} in flight (one multi-row INSERT per turn); ${COUNT} a round`,
    },
  ];
  for (const prefetch of PREFETCHES) {
    specs.push(
      {
        name: `${p}.raw.consume-ack.p${prefetch}`,
        unit: 'msg/s',
        note: `${driver}: ${claim} in claims of ≤ ${claimBatch(prefetch)} kept up to the window as Wakame's dispatcher does; decode each; one DELETE … WHERE seq IN (…) per batch${kind === 'postgres' ? ' (commit relaxed, as the store)' : ''}; ${COUNT} a round`,
      },
      {
        name: `${p}.wakame.consume-ack.p${prefetch}`,
        unit: 'msg/s',
        ceiling: `${p}.raw.consume-ack.p${prefetch}`,
        note: `1 consumer, prefetch ${prefetch}: decode() + ack() each (goal ≥ 10,000 msg/s)`,
      },
    );
  }
  return specs;
}

/**
 * ROUNDS rounds, each in fresh tables: for each prefetch, the raw side and Wakame each publish COUNT
 * and consume them (which side goes first alternates by round). Both publish figures take a sample
 * per prefetch.
 */
async function messaging(kind: SqlKind): Promise<Figure[]> {
  const specs = messagingSpecs(kind);
  const why = await unreachable(kind);
  if (why) return skipped(specs, why);
  const rounds = new Rounds();
  const stats: ClaimStats = { deadlocks: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    await inFreshLayout(kind, async (layout, sql, connection) => {
      await connection.declare(benchQueue());
      const template = await sampleRow(connection, sql, layout);
      const rawSide = async (prefetch: number) => {
        await clearQueue(sql, layout);
        await rounds.take('raw.publish', () => rawPublish(sql, layout, template, COUNT));
        await rounds.take(`raw.consume.p${prefetch}`, async () => {
          const perSecond = await rawConsume(sql, layout, COUNT, prefetch, stats);
          const left = await rowCount(sql, layout);
          expect(left === 0, `${left} rows left after the raw consume`);
          return perSecond;
        });
      };
      const wakameSide = async (prefetch: number) => {
        await clearQueue(sql, layout);
        await rounds.take('wakame.publish', () => wakamePublish(connection, sql, layout, COUNT));
        await rounds.take(`wakame.consume.p${prefetch}`, async () => {
          const perSecond = await wakameConsume(connection, COUNT, prefetch);
          const left = await rowCount(sql, layout);
          expect(left === 0, `${left} rows left after the Wakame consumer acked ${COUNT} and closed`);
          return perSecond;
        });
      };
      for (const prefetch of PREFETCHES) {
        const sides = round % 2 === 0 ? [rawSide, wakameSide] : [wakameSide, rawSide];
        for (const side of sides) await side(prefetch);
      }
    });
  }
  const keys = [
    'raw.publish',
    'wakame.publish',
    ...PREFETCHES.flatMap((p) => [`raw.consume.p${p}`, `wakame.consume.p${p}`]),
  ];
  // MariaDB: a claim InnoDB rolled back as a deadlock is run again by the raw side (how many, said here).
  const retried = kind === 'mysql' ? `; claims retried after a deadlock (all rounds): ${stats.deadlocks}` : '';
  return specs.map((spec, i) => {
    const key = keys[i] as string;
    return rounds.figure(key, key.startsWith('raw.consume') ? { ...spec, note: `${spec.note}${retried}` } : spec);
  });
}

// ---------------------------------------------------------------------------------------------
// (b) tasks beside pg-boss

function taskSpecs(): FigureSpec[] {
  const p = 'sql.postgres';
  const process = `no-op handler, the queue filled first; from starting the worker to the last handled task, ≤ the count or ${PROCESS_MS / 1000} s a round`;
  return [
    {
      name: `${p}.pgboss.tasks.send`,
      unit: 'msg/s',
      note: `pg-boss 10.4: send(), ${WINDOW} in flight (pool of 10); ${TASK_COUNT} a round`,
    },
    {
      name: `${p}.pgboss.tasks.send.insert`,
      unit: 'msg/s',
      ceiling: `${p}.pgboss.tasks.send`,
      note: `pg-boss insert() of ${WINDOW} jobs per round trip (no per-job options)`,
    },
    {
      name: `${p}.wakame.tasks.send`,
      unit: 'msg/s',
      ceiling: `${p}.pgboss.tasks.send`,
      note: `TaskClient.send (payload validated), ${WINDOW} in flight; ${TASK_COUNT} a round (Wakame/pg-boss; goal ≥ 2×)`,
    },
    {
      name: `${p}.pgboss.tasks.c50`,
      unit: 'msg/s',
      note: `pg-boss work({ batchSize: 50, pollingIntervalSeconds: 0.5 }): 50 jobs per fetch, then its poll wait; ${process}`,
    },
    {
      name: `${p}.pgboss.tasks.c50.fetch-loop`,
      unit: 'msg/s',
      ceiling: `${p}.pgboss.tasks.c50`,
      note: 'pg-boss fetch({ batchSize: 50 }) + complete(ids) awaited, in a loop: no poll wait (its fastest path)',
    },
    {
      name: `${p}.wakame.tasks.c50`,
      unit: 'msg/s',
      ceiling: `${p}.pgboss.tasks.c50`,
      note: `Worker concurrency 50 (prefetch 50); ${TASK_COUNT} tasks, ${process} (Wakame/pg-boss work; goal ≥ 2×)`,
    },
    {
      name: `${p}.pgboss.tasks.c1`,
      unit: 'msg/s',
      note: `pg-boss work({ batchSize: 1, pollingIntervalSeconds: 0.5 }); ${process}`,
    },
    {
      name: `${p}.pgboss.tasks.c1.fetch-loop`,
      unit: 'msg/s',
      ceiling: `${p}.pgboss.tasks.c1`,
      note: 'pg-boss fetch({ batchSize: 1 }) + complete(id) awaited, in a loop',
    },
    {
      name: `${p}.wakame.tasks.c1`,
      unit: 'msg/s',
      ceiling: `${p}.pgboss.tasks.c1`,
      note: `Worker concurrency 1 (prefetch 1); ${TASK_COUNT_SERIAL} tasks, ${process} (Wakame/pg-boss work)`,
    },
  ];
}

/** How many each process round handled, by key, for the notes. */
type Counts = Map<string, number[]>;

function takeProcessed(rounds: Rounds, counts: Counts, key: string, run: () => Promise<Processed>): Promise<void> {
  return rounds.take(key, async () => {
    const p = await run();
    counts.set(key, [...(counts.get(key) ?? []), p.count]);
    return rate(p.count, p.ms);
  });
}

/**
 * ROUNDS rounds, pg-boss and Wakame alternating which goes first. A pg-boss failure (it throws, or
 * emits `error`) fails its figures only; the run goes on.
 */
async function tasks(): Promise<Figure[]> {
  const specs = taskSpecs();
  const why = await unreachable('postgres');
  if (why) return skipped(specs, why);
  const topology = taskTopology();
  const rounds = new Rounds();
  const counts: Counts = new Map();
  const bossSide = async () => {
    let boss: Awaited<ReturnType<typeof startBoss>> | undefined;
    try {
      boss = await startBoss();
    } catch (error) {
      // Every pg-boss figure of this round fails with the reason; the other side goes on.
      for (const key of ['boss.send', 'boss.insert', 'boss.c50', 'boss.c50.fetch', 'boss.c1', 'boss.c1.fetch'])
        await rounds.take(key, () => Promise.reject(error));
      return;
    }
    const b = boss;
    try {
      await rounds.take('boss.send', () => bossSend(b, TASK_COUNT, false));
      await takeProcessed(rounds, counts, 'boss.c50', () => bossWork(b, TASK_COUNT, 50));
      await rounds.take('boss.insert', () => bossSend(b, TASK_COUNT, true));
      await takeProcessed(rounds, counts, 'boss.c50.fetch', () => bossFetchLoop(b, TASK_COUNT, 50));
      await bossSend(b, TASK_COUNT_SERIAL, true).catch(() => undefined);
      await takeProcessed(rounds, counts, 'boss.c1', () => bossWork(b, TASK_COUNT_SERIAL, 1));
      await bossSend(b, TASK_COUNT_SERIAL, true).catch(() => undefined);
      await takeProcessed(rounds, counts, 'boss.c1.fetch', () => bossFetchLoop(b, TASK_COUNT_SERIAL, 1));
    } finally {
      await b.close();
    }
  };
  const wakameSide = () =>
    inFreshLayout('postgres', async (layout, sql, connection) => {
      const worker = await Connection.open(layout.url);
      try {
        await rounds.take('wakame.send', () => wakameSend(connection, layout, topology, TASK_COUNT));
        await takeProcessed(rounds, counts, 'wakame.c50', () => wakameProcess(worker, topology, TASK_COUNT, 50));
        await clearQueue(sql, layout);
        await wakameSend(connection, layout, topology, TASK_COUNT_SERIAL).catch(() => undefined);
        await takeProcessed(rounds, counts, 'wakame.c1', () => wakameProcess(worker, topology, TASK_COUNT_SERIAL, 1));
      } finally {
        await worker.close();
      }
    });
  for (let round = 0; round < ROUNDS; round++) {
    const sides = round % 2 === 0 ? [bossSide, wakameSide] : [wakameSide, bossSide];
    for (const side of sides) await side();
  }
  const keys = [
    'boss.send',
    'boss.insert',
    'wakame.send',
    'boss.c50',
    'boss.c50.fetch',
    'wakame.c50',
    'boss.c1',
    'boss.c1.fetch',
    'wakame.c1',
  ];
  return specs.map((spec, i) => {
    const key = keys[i] as string;
    const handled = counts.get(key);
    const withCounts = handled ? { ...spec, note: `${spec.note}; handled a round: ${handled.join('/')}` } : spec;
    return rounds.figure(key, withCounts);
  });
}

// ---------------------------------------------------------------------------------------------
// (c) the claim at depth

const DEPTHS: Record<SqlKind, readonly number[]> = { postgres: [10_000, 100_000, 1_000_000], mysql: [10_000, 100_000] };
const DEPTH_ROUNDS = 3;

function depthLabel(depth: number): string {
  return depth >= 1_000_000 ? `${depth / 1_000_000}M` : `${depth / 1_000}k`;
}

function depthSpecs(kind: SqlKind, depth: number, fillMs: number | undefined): FigureSpec[] {
  const p = `sql.${kind}.depth.${depthLabel(depth)}`;
  const filled = fillMs === undefined ? '' : `; filled in ${(fillMs / 1000).toFixed(1)} s`;
  const lower = ' (ratio Wakame/raw, lower is better)';
  return [
    {
      name: `${p}.raw.claim-p50`,
      unit: 'ms',
      note: `${depth} ready: the store's claim of 1, on the bare driver; ${SINGLE_CLAIMS} a round, each acked after${filled}`,
    },
    {
      name: `${p}.wakame.claim-p50`,
      unit: 'ms',
      ceiling: `${p}.raw.claim-p50`,
      note: `getMessage() (basic.get: the store's claim of 1); ${SINGLE_CLAIMS} a round${lower}`,
    },
    { name: `${p}.raw.claim-p99`, unit: 'ms', note: 'as above, p99' },
    { name: `${p}.wakame.claim-p99`, unit: 'ms', ceiling: `${p}.raw.claim-p99`, note: `as above, p99${lower}` },
    {
      name: `${p}.raw.burst`,
      unit: 'msg/s',
      note: `consume + decode + ack of ${BURST} from the front, claims of ${claimBatch(BURST_PREFETCH)} (as at prefetch ${BURST_PREFETCH})`,
    },
    {
      name: `${p}.wakame.burst`,
      unit: 'msg/s',
      ceiling: `${p}.raw.burst`,
      note: `1 consumer, prefetch ${BURST_PREFETCH}, decode() + ack() of ${BURST}`,
    },
  ];
}

/**
 * Per depth: fresh tables filled in one statement, then DEPTH_ROUNDS rounds of single claims and a
 * burst, raw and Wakame alternating, the queue topped up to its depth before each.
 */
async function depthSweep(kind: SqlKind): Promise<Figure[]> {
  const why = await unreachable(kind);
  if (why) return DEPTHS[kind].flatMap((d) => skipped(depthSpecs(kind, d, undefined), why));
  const figures: Figure[] = [];
  for (const depth of DEPTHS[kind]) {
    const rounds = new Rounds();
    let fillMs: number | undefined;
    try {
      await inFreshLayout(kind, async (layout, sql, connection) => {
        await connection.declare(benchQueue());
        const template = await sampleRow(connection, sql, layout);
        const start = now();
        await within(fill(sql, layout, template, depth), FILL_TIMEOUT_MS, `filling ${depth}`);
        fillMs = now() - start;
        for (let round = 0; round < DEPTH_ROUNDS; round++) {
          const rawSide = async () => {
            await topUp(sql, layout, template, depth);
            await rounds.take('raw.single', async () => {
              const t = await rawSingleClaims(sql, layout);
              rounds.add('raw.p99', t.p99);
              return t.p50;
            });
            await topUp(sql, layout, template, depth);
            await rounds.take('raw.burst', () => rawConsume(sql, layout, BURST, BURST_PREFETCH));
          };
          const wakameSide = async () => {
            await topUp(sql, layout, template, depth);
            await rounds.take('wakame.single', async () => {
              const t = await wakameSingleClaims(connection);
              rounds.add('wakame.p99', t.p99);
              return t.p50;
            });
            await topUp(sql, layout, template, depth);
            await rounds.take('wakame.burst', () => wakameConsume(connection, BURST, BURST_PREFETCH));
          };
          const sides = round % 2 === 0 ? [rawSide, wakameSide] : [wakameSide, rawSide];
          for (const side of sides) await side();
        }
      });
    } catch (error) {
      // The fill or the tables failed: every figure of this depth fails with it.
      for (const key of ['raw.single', 'wakame.single', 'raw.burst', 'wakame.burst'])
        await rounds.take(key, () => Promise.reject(error));
    }
    const keys = ['raw.single', 'wakame.single', 'raw.p99', 'wakame.p99', 'raw.burst', 'wakame.burst'];
    const failedWith: Record<string, string> = { 'raw.p99': 'raw.single', 'wakame.p99': 'wakame.single' };
    figures.push(
      ...depthSpecs(kind, depth, fillMs).map((spec, i) => {
        const key = keys[i] as string;
        const parent = failedWith[key];
        return parent && rounds.failed(parent) ? rounds.figure(parent, spec) : rounds.figure(key, spec);
      }),
    );
  }
  return figures;
}

export const sqlBenchmarks: readonly Benchmark[] = [
  { name: 'sql.postgres.messaging', run: () => messaging('postgres') },
  { name: 'sql.mysql.messaging', run: () => messaging('mysql') },
  { name: 'sql.postgres.tasks', run: tasks },
  { name: 'sql.postgres.depth', run: () => depthSweep('postgres') },
  { name: 'sql.mysql.depth', run: () => depthSweep('mysql') },
];
