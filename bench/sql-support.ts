/**
 * What the SQL benchmarks share: the two databases, a fresh table layout per round (a PostgreSQL
 * schema, a MariaDB table prefix) dropped afterwards, and the raw ceilings: the store's own
 * statements (`packages/transports/src/internal/sql`, `postgres/pg-dialect.ts`,
 * `mysql/mysql-dialect.ts`, as of commit 5aaecc9) written out by hand on bare `pg` and `mysql2`, on
 * the store's tables, in the store's batches, with the store's durability: on PostgreSQL publishes
 * commit durably (`synchronous_commit = on`, the server's default) while claims and acks relax their
 * own commit (`synchronous_commit = off` for that transaction), as the store does; on MariaDB every
 * commit is durable (`innodb_flush_log_at_trx_commit = 1`, the default; the store sets nothing).
 *
 * Only names this run made are ever dropped: schemas and prefixes start with `wakame_bench_` and
 * a random part, and a MariaDB table is dropped only when its name starts with the round's prefix.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Connection, Queue } from '@wakame/core';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { benchPayload, countdown, deadline, now, rate, within } from './harness.js';

export const PG_URL = process.env.WAKAME_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/wakame_test';
export const MYSQL_URL = process.env.WAKAME_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/wakame_test';
export const ROUNDS = 3;
/** Messages in flight on the sending side: one turn's publishes are one INSERT of this many rows. */
export const WINDOW = 500;
/** No phase may take longer than this; one that does breaks the benchmark. */
export const PHASE_TIMEOUT_MS = 60_000;
export const QUEUE = 'bench';
/** The store's table prefix in every layout (the schema or the prefix's random part tells rounds apart). */
const PREFIX = 'bench_';

export type SqlKind = 'postgres' | 'mysql';

/** One round's tables: Wakame's URL for them, the qualified messages table, and how to drop them all. */
export interface Layout {
  readonly kind: SqlKind;
  readonly url: string;
  readonly messages: string;
  /** PostgreSQL: the store's notification channel for these tables (the raw INSERT notifies it too). */
  readonly channel: string;
  drop(): Promise<void>;
}

/** Why `kind`'s database cannot be used (the group then skips), or undefined when it answers. */
export async function unreachable(kind: SqlKind): Promise<string | undefined> {
  try {
    if (kind === 'postgres') {
      const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
      await within(client.connect(), 5_000, 'PostgreSQL connect');
      await client.query('SELECT 1').finally(() => client.end());
    } else {
      const conn = await within(mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 3_000 }), 5_000, 'connect');
      await conn.query('SELECT 1').finally(() => conn.end());
    }
    return undefined;
  } catch (error) {
    const where = kind === 'postgres' ? 'PostgreSQL' : 'MariaDB';
    return `${where} unreachable (${error instanceof Error ? error.message : String(error)})`;
  }
}

/** A fresh schema (PostgreSQL) or table prefix (MariaDB) that nothing else uses. */
export function freshLayout(kind: SqlKind): Layout {
  const tag = `wakame_bench_${randomBytes(4).toString('hex')}`;
  if (kind === 'postgres') {
    return {
      kind,
      url: `${PG_URL}?schema=${tag}&prefix=${PREFIX}`,
      messages: `${tag}.${PREFIX}messages`,
      // As pg-dialect.ts names it: one channel per schema and prefix.
      channel: `wakame_${createHash('sha256').update(`${tag}.${PREFIX}`).digest('hex').slice(0, 24)}`,
      drop: () => dropPgSchema(tag),
    };
  }
  const prefix = `${tag}_`;
  return {
    kind,
    url: `${MYSQL_URL}?prefix=${prefix}`,
    messages: `${prefix}messages`,
    channel: '',
    drop: () => dropMysqlPrefix(prefix),
  };
}

export async function dropPgSchema(schema: string): Promise<void> {
  if (!schema.startsWith('wakame_bench_') && !schema.startsWith('pgboss_bench_'))
    throw new Error(`refusing to drop ${schema}`);
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
}

async function dropMysqlPrefix(prefix: string): Promise<void> {
  const conn = await mysql.createConnection(MYSQL_URL);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()',
    );
    const mine = rows.map((r) => String(r.t)).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await conn.query(`DROP TABLE IF EXISTS ${mine.join(', ')}`);
  } finally {
    await conn.end();
  }
}

/** Runs every step even when one fails, then throws the first failure: nothing is left open. */
export async function closeAll(...steps: (() => Promise<unknown>)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) await step().catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
}

export function expect(condition: boolean, message: string): void {
  if (!condition) throw new Error(`sql bench: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Raw clients: one pool each, sized as the store's (pool_max default 10), closed by their owner.

/** The few calls the raw ceilings make, over either driver. */
export interface RawSql {
  readonly kind: SqlKind;
  query(sql: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /** A simple query (no parameters; several statements allowed): the rows of its last statement. */
  simple(sql: string): Promise<Record<string, unknown>[]>;
  /** Runs `fn` in one transaction on one pooled connection (MariaDB's claim). */
  transaction<T>(fn: (query: RawSql['query']) => Promise<T>): Promise<T>;
  end(): Promise<void>;
}

export function rawPg(): RawSql {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 10 });
  pool.on('error', () => undefined);
  return {
    kind: 'postgres',
    query: async (sql, params = []) => (await pool.query(sql, params as unknown[])).rows,
    simple: async (sql) => {
      const results = (await pool.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
      return ((Array.isArray(results) ? results.at(-1) : results)?.rows ?? []) as Record<string, unknown>[];
    },
    transaction: async (fn) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(async (sql, params = []) => (await client.query(sql, params as unknown[])).rows);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    end: () => pool.end(),
  };
}

export function rawMysql(): RawSql {
  // As the store's pool: utf8mb4, big numbers as strings, the text protocol (`query`, not `execute`).
  const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 10, charset: 'utf8mb4', supportBigNumbers: true });
  const run = async (on: mysql.Pool | mysql.PoolConnection, sql: string, params: readonly unknown[] = []) => {
    const [result] = await on.query(sql, params as unknown[]);
    return Array.isArray(result) ? (result as Record<string, unknown>[]) : [];
  };
  return {
    kind: 'mysql',
    query: (sql, params) => run(pool, sql, params),
    simple: (sql) => run(pool, sql),
    transaction: async (fn) => {
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        const result = await fn((sql, params) => run(conn, sql, params));
        await conn.commit();
        return result;
      } catch (error) {
        await conn.rollback().catch(() => undefined);
        throw error;
      } finally {
        conn.release();
      }
    },
    end: () => pool.end(),
  };
}

/** `?` placeholders as PostgreSQL's `$n` (as pg-dialect.ts rewrites the store's statements). */
function dialectText(kind: SqlKind, sql: string): string {
  if (kind === 'mysql') return sql;
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function marks(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

// ---------------------------------------------------------------------------------------------
// The message as the store writes it.

/** The columns the store's INSERT writes (sql-writes.ts PUT_COLUMNS), in its order. */
const PUT_COLUMNS = [
  'queue',
  'msg_id',
  'priority',
  'wanted_priority',
  'body',
  'body_size',
  'properties',
  'exchange',
  'routing_key',
  'expires_at',
  'redelivered',
] as const;
/** The store's claim columns (sql-store.ts CLAIM_COLUMNS): bodies over the bound stay behind. */
const CLAIM_COLUMNS =
  'seq, queue, msg_id, priority, properties, exchange, routing_key, expires_at, redelivered, body_size, ' +
  'CASE WHEN body_size > ? THEN NULL ELSE body END AS body';
/**
 * PostgreSQL: the claim's SET LOCALs (pg-dialect.ts CLAIM_SETTINGS) and the settles' relaxed commit
 * (RELAXED_COMMIT): claims and acks commit without waiting for the WAL flush; publishes wait for it.
 */
const PG_CLAIM_SETTINGS =
  'SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; SET LOCAL synchronous_commit = off; ';
const PG_RELAXED_COMMIT = "set_config('synchronous_commit', 'off', true) IS NOT NULL";
/** The store's "no body bound" value. */
const NO_BOUND = 2_147_483_647;

/** What Wakame stored for one published message: the raw side builds every row like it. */
export interface RowTemplate {
  readonly properties: Record<string, unknown>;
  readonly exchange: string;
  readonly routingKey: string;
  readonly priority: number;
}

/**
 * Publishes one benchmark message through Wakame, reads back the row the store wrote and deletes it:
 * the properties every raw row copies (with a fresh id and timestamp each, as Wakame makes them).
 */
export async function sampleRow(connection: Connection, raw: RawSql, layout: Layout): Promise<RowTemplate> {
  await connection.producer({ routingKey: QUEUE }).publish(benchPayload(0));
  const rows = await raw.query(
    dialectText(raw.kind, `SELECT properties, exchange, routing_key, priority FROM ${layout.messages} WHERE queue = ?`),
    [QUEUE],
  );
  expect(rows.length === 1, `the sample publish left ${rows.length} rows`);
  await raw.query(dialectText(raw.kind, `DELETE FROM ${layout.messages} WHERE queue = ?`), [QUEUE]);
  const row = rows[0] as Record<string, unknown>;
  const properties = typeof row.properties === 'string' ? JSON.parse(row.properties) : row.properties;
  return {
    properties: properties as Record<string, unknown>,
    exchange: String(row.exchange),
    routingKey: String(row.routing_key),
    priority: Number(row.priority),
  };
}

/** The store's row for message `id`: the same values Wakame's put writes (sql-writes.ts putRow). */
function rawRow(template: RowTemplate, id: number): unknown[] {
  const body = Buffer.from(JSON.stringify(benchPayload(id)));
  const properties = fresh(template.properties);
  return [
    QUEUE,
    randomUUID(),
    template.priority,
    null,
    body,
    body.length,
    JSON.stringify(properties),
    template.exchange,
    template.routingKey,
    null,
    false,
  ];
}

/** The template's properties with the per-message fields Wakame sets (its id, its timestamp) made anew. */
function fresh(properties: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...properties };
  for (const key of ['messageId', 'message_id', 'correlationId', 'correlation_id'])
    if (key in copy) copy[key] = randomUUID();
  if (typeof copy.timestamp === 'number') copy.timestamp = Date.now();
  return copy;
}

/**
 * The store's publish: one multi-row INSERT of WINDOW rows per round trip, awaited in turn; on
 * PostgreSQL wrapped, as the store does, to `pg_notify` its queue in the same statement.
 * @returns msg/s
 */
export async function rawPublish(raw: RawSql, layout: Layout, template: RowTemplate, count: number): Promise<number> {
  const bound = deadline(PHASE_TIMEOUT_MS, `raw ${raw.kind} publish of ${count}`);
  const start = now();
  for (let i = 0; i < count; i += WINDOW) {
    bound.check(`${i}/${count}`);
    const n = Math.min(WINDOW, count - i);
    const rows: unknown[] = [];
    for (let k = 0; k < n; k++) rows.push(...rawRow(template, i + k));
    const values = Array.from({ length: n }, () => `(${marks(PUT_COLUMNS.length)})`).join(', ');
    let sql = `INSERT INTO ${layout.messages} (${PUT_COLUMNS.join(', ')}) VALUES ${values}`;
    if (raw.kind === 'postgres') {
      sql =
        `WITH w AS (${sql} RETURNING queue) ` +
        `SELECT pg_notify('${layout.channel}', 'q:' || queue) FROM (SELECT DISTINCT queue FROM w) d`;
    }
    await raw.query(dialectText(raw.kind, sql), rows);
  }
  const ms = now() - start;
  const depth = await readyCount(raw, layout);
  expect(depth === count, `${layout.messages} holds ${depth} ready messages after a raw publish of ${count}`);
  return rate(count, ms);
}

export async function readyCount(raw: RawSql, layout: Layout): Promise<number> {
  const rows = await raw.query(
    dialectText(raw.kind, `SELECT COUNT(*) AS n FROM ${layout.messages} WHERE queue = ? AND lease_owner IS NULL`),
    [QUEUE],
  );
  return Number(rows[0]?.n ?? 0);
}

/** All rows of the queue, claimed or not. */
export async function rowCount(raw: RawSql, layout: Layout): Promise<number> {
  const rows = await raw.query(dialectText(raw.kind, `SELECT COUNT(*) AS n FROM ${layout.messages} WHERE queue = ?`), [
    QUEUE,
  ]);
  return Number(rows[0]?.n ?? 0);
}

/** The claim batch Wakame's dispatcher asks for at `prefetch`: half the window, at most 256. */
export function claimBatch(prefetch: number): number {
  return Math.min(Math.ceil(prefetch / 2), 256);
}

/**
 * The store's claim of up to `max` messages for `owner`, statement for statement: PostgreSQL's one
 * `UPDATE … WHERE seq IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, MariaDB's transaction of
 * `SELECT … FOR UPDATE SKIP LOCKED` then `UPDATE … WHERE seq IN (…)`. Rows sorted as the store sorts them.
 */
export async function rawClaim(
  raw: RawSql,
  layout: Layout,
  owner: string,
  max: number,
  stats?: ClaimStats,
): Promise<Record<string, unknown>[]> {
  const m = layout.messages;
  let rows: Record<string, unknown>[];
  if (raw.kind === 'postgres') {
    // As pg-dialect.ts sends it: one simple query (values inlined as escaped literals), its SET LOCALs
    // pinning the plan to the ready index and relaxing this transaction's commit.
    const sql =
      `${PG_CLAIM_SETTINGS}UPDATE ${m} SET lease_owner = ${pg.escapeLiteral(owner)} WHERE seq IN (SELECT seq FROM ${m} ` +
      `WHERE queue = ${pg.escapeLiteral(QUEUE)} AND lease_owner IS NULL ORDER BY priority DESC, seq LIMIT ${max} ` +
      `FOR UPDATE SKIP LOCKED) RETURNING ${CLAIM_COLUMNS.replace('?', String(NO_BOUND))}`;
    rows = await raw.simple(sql);
  } else {
    const claim = () =>
      raw.transaction(async (query) => {
        const found = await query(
          `SELECT ${CLAIM_COLUMNS} FROM ${m} WHERE queue = ? AND lease_owner IS NULL ` +
            'ORDER BY priority DESC, seq LIMIT ? FOR UPDATE SKIP LOCKED',
          [NO_BOUND, QUEUE, max],
        );
        if (found.length === 0) return found;
        const seqs = found.map((r) => r.seq);
        await query(`UPDATE ${m} SET lease_owner = ? WHERE seq IN (${marks(seqs.length)})`, [owner, ...seqs]);
        return found;
      });
    rows = await retryDeadlocks(claim, stats);
  }
  return rows.sort((a, b) => Number(b.priority) - Number(a.priority) || Number(a.seq) - Number(b.seq));
}

/** Counts what the raw MariaDB claims met. */
export interface ClaimStats {
  deadlocks: number;
}

/**
 * InnoDB's answer to a deadlock (errno 1213: the transaction was rolled back) is to run it again:
 * concurrent claims (the next-key locks of `FOR UPDATE` against the index entries another claim's
 * UPDATE moves) meet it. A few retries, counted; a claim that keeps failing fails the figure.
 */
async function retryDeadlocks<T>(fn: () => Promise<T>, stats: ClaimStats | undefined): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if ((error as { errno?: number }).errno !== 1213 || attempt >= 10) throw error;
      if (stats) stats.deadlocks++;
    }
  }
}

/**
 * The store's batched ack: one `DELETE … WHERE seq IN (…) AND lease_owner = ?`; on PostgreSQL with the
 * predicate that relaxes its own commit, as sql-writes.ts sends it.
 */
export async function rawAck(raw: RawSql, layout: Layout, owner: string, seqs: readonly unknown[]): Promise<void> {
  const relaxed = raw.kind === 'postgres' ? ` AND ${PG_RELAXED_COMMIT}` : '';
  const sql = `DELETE FROM ${layout.messages} WHERE seq IN (${marks(seqs.length)}) AND lease_owner = ?${relaxed}`;
  await raw.query(dialectText(raw.kind, sql), [...seqs, owner]);
}

/** Reads a claimed row as the store and a handler would: properties parsed, body JSON-decoded. */
function decodeRow(row: Record<string, unknown>): unknown {
  const properties = typeof row.properties === 'string' ? JSON.parse(row.properties) : row.properties;
  const body = row.body as Buffer;
  return [properties, JSON.parse(body.toString('utf8'))];
}

/**
 * Consumes and acks `count` messages as Wakame's consumer does at `prefetch`, with the window kept
 * full the same way (core's dispatcher): a claim whenever the room is at least a quarter of the window
 * (or nothing is held), each of at most {@link claimBatch}, several in flight at once; a message
 * leaves the window when its ack is sent; every body decoded; one DELETE per claimed batch.
 * @returns msg/s
 */
export async function rawConsume(
  raw: RawSql,
  layout: Layout,
  count: number,
  prefetch: number,
  stats?: ClaimStats,
): Promise<number> {
  const owner = `raw-${process.pid}-${randomBytes(4).toString('hex')}`;
  const worthwhile = Math.ceil(prefetch / 4);
  const work = new Set<Promise<unknown>>();
  let held = 0; // claimed (or being claimed) and not yet acked
  let requested = 0; // messages asked for by claims sent, less what they did not find
  let claiming = 0;
  let got = 0;
  let stopped = false;
  const finished = countdown(1);
  const fail = (error: unknown): void => {
    stopped = true;
    finished.fail(error);
  };
  const track = (promise: Promise<unknown>): void => {
    work.add(promise);
    void promise.finally(() => work.delete(promise));
  };
  const onRows = (n: number, rows: Record<string, unknown>[]): void => {
    claiming--;
    held -= n - rows.length;
    requested -= n - rows.length;
    if (stopped) return;
    if (rows.length === 0 && claiming === 0 && held === 0) {
      fail(new Error(`raw consume: the queue ran dry after ${got}/${count}`));
      return;
    }
    for (const row of rows) decodeRow(row);
    if (rows.length > 0) {
      const ack = rawAck(
        raw,
        layout,
        owner,
        rows.map((r) => r.seq),
      );
      ack.catch(fail);
      track(ack);
    }
    held -= rows.length;
    got += rows.length;
    if (got === count) finished.tick();
    else pump();
  };
  const pump = (): void => {
    while (!stopped && requested < count) {
      const room = prefetch - held;
      if (room < 1 || (room < Math.min(worthwhile, count - requested) && held > 0)) return;
      const n = Math.min(room, claimBatch(prefetch), count - requested);
      held += n;
      requested += n;
      claiming++;
      const claim = rawClaim(raw, layout, owner, n, stats).then((rows) => onRows(n, rows));
      claim.catch(fail);
      track(claim);
    }
  };
  const start = now();
  try {
    pump();
    await within(finished.done, PHASE_TIMEOUT_MS, `raw ${raw.kind} consume of ${count}`);
    // The last acks are part of the work: the figure ends when they are committed.
    while (work.size > 0) await within(Promise.all([...work]), PHASE_TIMEOUT_MS, 'raw acks');
    return rate(count, now() - start);
  } finally {
    // Nothing of this consumer may run on into the next benchmark.
    stopped = true;
    await within(Promise.allSettled([...work]), PHASE_TIMEOUT_MS, 'raw consume wind-down').catch(() => undefined);
  }
}

/** Wakame's queue for the messaging benchmarks: the default exchange routes to it by name. */
export function benchQueue(): Queue {
  return new Queue(QUEUE, { durable: true });
}
