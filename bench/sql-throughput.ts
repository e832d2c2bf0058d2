/**
 * The SQL transports' drain rate: N messages published first, then one consumer (one connection)
 * consumes and acks them all at a given prefetch; the figure is acked messages per second of the
 * drain alone. Each run gets a fresh schema (PostgreSQL) or table prefix (MariaDB), dropped after.
 * Every run is bounded in time; the script prints each run, then the median and spread per case.
 *
 * `pnpm exec tsx --conditions=@wakame/source bench/sql-throughput.ts [postgres|mysql] [N] [runs]`
 * (URLs from `WAKAME_POSTGRES_URL` / `WAKAME_MYSQL_URL`, else the local test databases).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Connection, Queue } from '@wakame/core';

/** What the cleanup uses of either driver's connection. */
interface SqlClient {
  connect?(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

// The drivers are the transports package's (the repository root does not depend on them).
const driver = createRequire(new URL('../packages/transports/package.json', import.meta.url));
const pg = driver('pg') as { Client: new (config: { connectionString: string }) => SqlClient };
const mysql = driver('mysql2/promise') as { createConnection(url: string): Promise<SqlClient> };

const POSTGRES = process.env.WAKAME_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/wakame_test';
const MYSQL = process.env.WAKAME_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/wakame_test';
const [only, countArg, runsArg] = process.argv.slice(2);
const COUNT = Number(countArg ?? 50_000);
const RUNS = Number(runsArg ?? 3);
const PREFETCHES = [100, 500];
/** A drain slower than this is reported as failed, not waited for. */
const DRAIN_LIMIT_MS = 120_000;
const PAYLOAD = { id: 0, text: 'x'.repeat(160) };

interface Target {
  readonly name: 'postgres' | 'mysql';
  /** A fresh broker URL, and how to drop what it created. */
  fresh(): { url: string; drop(): Promise<void> };
}

const targets: Target[] = [
  {
    name: 'postgres',
    fresh() {
      const schema = `bench_${randomBytes(4).toString('hex')}`;
      return {
        url: `${POSTGRES}?schema=${schema}`,
        async drop() {
          const client = new pg.Client({ connectionString: POSTGRES });
          await client.connect?.();
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
        },
      };
    },
  },
  {
    name: 'mysql',
    fresh() {
      const prefix = `bench_${randomBytes(4).toString('hex')}_`;
      return {
        url: `${MYSQL}?prefix=${prefix}`,
        async drop() {
          const tables = ['messages', 'records', 'owners', 'consumers', 'stacks', 'schema'].map((t) => prefix + t);
          const conn = await mysql.createConnection(MYSQL);
          await conn.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`).finally(() => conn.end());
        },
      };
    },
  },
];

/** One run: publish COUNT, then drain with one consumer at `prefetch`. @returns msg/s of the drain */
async function run(target: Target, prefetch: number): Promise<{ publish: number; drain: number }> {
  const broker = target.fresh();
  const producer = await Connection.open(broker.url);
  try {
    const queue = new Queue('bench', { durable: true });
    await producer.declare(queue);
    const publish = producer.producer({ routingKey: 'bench' });
    const publishStart = performance.now();
    // Windows of 500 in flight: one turn's publishes become one multi-row INSERT.
    for (let i = 0; i < COUNT; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, COUNT - i) }, (_, j) => publish.publish({ ...PAYLOAD, id: i + j })),
      );
    }
    const publishRate = (COUNT / (performance.now() - publishStart)) * 1000;
    const consumerConnection = await Connection.open(broker.url);
    try {
      let acked = 0;
      let finish!: () => void;
      const done = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const start = performance.now();
      await consumerConnection
        .consumer({
          queues: [queue],
          prefetch,
          handler: async (m) => {
            await m.ack();
            if (++acked === COUNT) finish();
          },
        })
        .consume();
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`drain incomplete after ${DRAIN_LIMIT_MS} ms: ${acked}`)),
          DRAIN_LIMIT_MS,
        );
      });
      await Promise.race([done, limit]).finally(() => clearTimeout(timer));
      return { publish: publishRate, drain: (COUNT / (performance.now() - start)) * 1000 };
    } finally {
      await consumerConnection.close();
    }
  } finally {
    await producer.close();
    await broker.drop();
  }
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  const fmt = (v: number | undefined) => Math.round(v ?? Number.NaN).toLocaleString('en');
  return `median ${fmt(median)} msg/s (spread ${fmt(sorted[0])} – ${fmt(sorted.at(-1))})`;
}

for (const target of targets) {
  if (only && only !== target.name) continue;
  for (const prefetch of PREFETCHES) {
    const drains: number[] = [];
    const publishes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await run(target, prefetch);
      drains.push(r.drain);
      publishes.push(r.publish);
      process.stdout.write(
        `${target.name} prefetch ${prefetch} run ${i + 1}: drain ${Math.round(r.drain)} msg/s, publish ${Math.round(r.publish)} msg/s\n`,
      );
    }
    process.stdout.write(
      `${target.name} prefetch ${prefetch}: drain ${summary(drains)}; publish ${summary(publishes)}\n`,
    );
  }
}
