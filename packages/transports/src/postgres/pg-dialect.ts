/**
 * The PostgreSQL {@link SqlDialect} on `pg`: a `pg.Pool` for statements, a dedicated client that
 * `LISTEN`s on the store's channel (reconnecting by itself), session advisory locks for migrations.
 *
 * The claim is one statement, `UPDATE … WHERE seq IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …`,
 * over the partial index of free rows, sent with its `SET LOCAL`s in one round trip (the plan pinned
 * to that index, the commit relaxed: see `CLAIM_SETTINGS`). Writes that make messages ready carry their notification in
 * the same statement (`WITH w AS (… RETURNING queue) SELECT pg_notify(…)`), so a notification is sent
 * exactly when the rows commit.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  type ClaimStatement,
  insertInto,
  NETWORK_ERROR_CODES,
  type SqlDialect,
  type SqlErrorKind,
  type SqlExecutor,
  type SqlResult,
  type SqlTables,
  sqlTables,
} from '../internal/sql/dialect.js';
import { pgTransactionClient } from './pg-transaction.js';

/** Where a store's tables are. */
export interface PgLayout {
  /** The schema (created when missing). */
  readonly schema: string;
  /** Put before every table name. */
  readonly prefix: string;
}

const ERROR_CODES: Readonly<Record<string, SqlErrorKind>> = Object.freeze({
  ...NETWORK_ERROR_CODES,
  '08000': 'connection',
  '08001': 'connection',
  '08003': 'connection',
  '08004': 'connection',
  '08006': 'connection',
  '57P01': 'connection',
  '57P02': 'connection',
  '57P03': 'connection',
  '28000': 'access',
  '28P01': 'access',
  '3D000': 'missing-database',
  '57014': 'timeout',
});

const MAX_RECONNECT_MS = 5_000;

/**
 * The commit of claims, acks, requeues and releases does not wait for its WAL to reach disk
 * (`synchronous_commit = off` for that transaction only); publishes keep full durability, since a
 * publish resolves as a promise that the message is stored. What a database crash can lose is the
 * last fraction of a second of these commits, never a message: a lost ack or release leaves the
 * row held by an owner that is gone, so it is restored (redelivered) when that owner's lease lapses;
 * a lost claim leaves the row free, so it is delivered again, unflagged (at-least-once allows both).
 * WAL is flushed in order, so nothing committed after a durable publish is lost while the publish stays.
 * In a claim it is a `SET LOCAL`; in other statements a predicate that is always true, so that
 * the statement keeps its parameters and its single round trip.
 */
const RELAXED_COMMIT = `set_config('synchronous_commit', 'off', true) IS NOT NULL`;

/**
 * The claim's own settings (see {@link PgDialect.claim}). The plan is pinned to the ordered scan
 * of the ready index: a queue table's statistics are nearly always wrong (it fills and drains
 * between analyses; never analysed, the planner guesses a couple of rows), and with a low estimate
 * the planner picks a bitmap scan that reads and sorts the whole backlog to find the first rows:
 * 10–20 ms a claim at a backlog of 30k instead of about one. And the commit is relaxed
 * ({@link RELAXED_COMMIT}).
 */
const CLAIM_SETTINGS =
  'SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; SET LOCAL synchronous_commit = off; ';

export class PgDialect implements SqlDialect {
  readonly kind = 'postgres';
  readonly tables: SqlTables;
  readonly migrations: readonly (readonly string[])[];
  readonly nowMs = '(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint';
  readonly errorCodes = ERROR_CODES;
  readonly relaxedCommit = RELAXED_COMMIT;
  /** The notification channel: one per schema and prefix (a hash, to stay within 63 bytes). */
  readonly channel: string;
  readonly #pool: pg.Pool;
  readonly #ownPool: boolean;
  readonly #texts = new Map<string, string>();

  /** `pool`: the store's own (ended on close) unless `ownPool` is false (the application's). */
  constructor(pool: pg.Pool, layout: PgLayout, ownPool: boolean) {
    this.#pool = pool;
    this.#ownPool = ownPool;
    this.tables = sqlTables((table) => `${layout.schema}.${layout.prefix}${table}`);
    const hash = createHash('sha256').update(`${layout.schema}.${layout.prefix}`).digest('hex').slice(0, 24);
    this.channel = `wakame_${hash}`;
    this.migrations = [migration1(this.tables, layout.prefix, layout.schema)];
  }

  query(sql: string, params: readonly unknown[] = []): Promise<SqlResult> {
    return run(this.#pool, this.#text(sql), params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn({ query: (sql, params = []) => run(client, this.#text(sql), params) });
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      // A client whose ROLLBACK fails is broken: released with the error, the pool drops it.
      const broken = await client.query('ROLLBACK').then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      client.release(broken);
      throw error;
    }
  }

  /** Statements on the application's client, inside its transaction (see `pg-transaction.ts` for what is accepted). */
  inTransaction(handle: unknown): SqlExecutor {
    const client = pgTransactionClient(handle);
    return { query: (sql, params = []) => run(client, this.#text(sql), params) };
  }

  async withLock<T>(name: string, fn: (session: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    const session: SqlExecutor = { query: (sql, params = []) => run(client, this.#text(sql), params) };
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
      try {
        return await fn(session);
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
      }
    } finally {
      client.release();
    }
  }

  upsert(
    table: string,
    keys: readonly string[],
    columns: readonly string[],
    update: readonly string[],
    values?: readonly string[],
  ): string {
    const set = update.map((c) => `${c} = EXCLUDED.${c}`).join(', ');
    return `${insertInto(table, columns, values)} ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${set}`;
  }

  insertIgnore(table: string, columns: readonly string[]): string {
    return `${insertInto(table, columns)} ON CONFLICT DO NOTHING`;
  }

  /**
   * One round trip: a simple query whose `SET LOCAL`s hold for its own implicit transaction only
   * (see {@link CLAIM_SETTINGS}). A simple query takes no parameters, so the values are inlined as
   * literals (escaped by the driver; the numbers checked).
   */
  async claim(c: ClaimStatement): Promise<readonly Record<string, unknown>[]> {
    const m = this.tables.messages;
    const sql =
      `${CLAIM_SETTINGS}UPDATE ${m} SET lease_owner = ? WHERE seq IN (SELECT seq FROM ${m} WHERE queue = ? AND lease_owner IS NULL ` +
      `ORDER BY priority DESC, seq LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING ${c.columns}`;
    const results = (await this.#pool.query(inline(sql, [c.owner, c.queue, c.max, ...c.columnParams]))) as unknown as
      | pg.QueryResult[]
      | pg.QueryResult;
    const claimed = Array.isArray(results) ? results.at(-1) : results;
    return (claimed?.rows ?? []) as Record<string, unknown>[];
  }

  notifying(statement: string): string {
    return (
      `WITH w AS (${statement} RETURNING queue) ` +
      `SELECT pg_notify('${this.channel}', 'q:' || queue) FROM (SELECT DISTINCT queue FROM w) d`
    );
  }

  async notify(tx: SqlExecutor, payload: string): Promise<void> {
    await tx.query('SELECT pg_notify(?, ?)', [this.channel, payload]);
  }

  /**
   * A client of its own (a pooled one would be handed to others between statements), made from the
   * pool's settings. When it fails it is replaced, with backoff, until the returned stop is called.
   */
  async listen(onPayload: (payload: string) => void, onReconnect: () => void): Promise<() => Promise<void>> {
    let stopped = false;
    let client: pg.Client | undefined;
    let timer: NodeJS.Timeout | undefined;
    let delay = 100;
    const connect = async (): Promise<void> => {
      const c = new pg.Client(this.#pool.options);
      c.on('notification', (n) => {
        if (n.channel === this.channel && n.payload !== undefined) onPayload(n.payload);
      });
      c.on('error', () => lost(c));
      c.on('end', () => lost(c));
      await c.connect();
      await c.query(`LISTEN ${this.channel}`);
      client = c;
    };
    const lost = (c: pg.Client): void => {
      if (stopped || client !== c) return;
      client = undefined;
      c.end().catch(() => undefined);
      retry();
    };
    const retry = (): void => {
      timer = setTimeout(() => {
        connect().then(
          () => {
            delay = 100;
            onReconnect();
          },
          () => {
            delay = Math.min(delay * 2, MAX_RECONNECT_MS);
            retry();
          },
        );
      }, delay);
      timer.unref();
    };
    await connect();
    return async () => {
      stopped = true;
      clearTimeout(timer);
      await client?.end().catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    if (this.#ownPool) await this.#pool.end();
  }

  /** `?` placeholders as `$n` (the store core writes one dialect-neutral form); cached per statement. */
  #text(sql: string): string {
    let text = this.#texts.get(sql);
    if (text === undefined) {
      let n = 0;
      text = sql.replace(/\?/g, () => `$${++n}`);
      if (this.#texts.size > 1_000) this.#texts.clear();
      this.#texts.set(sql, text);
    }
    return text;
  }
}

/** `sql` with each `?` replaced by its value as a literal: strings escaped by the driver, integers checked. */
function inline(sql: string, params: readonly unknown[]): string {
  let i = 0;
  return sql.replace(/\?/g, () => {
    const value = params[i++];
    if (typeof value === 'string') return pg.escapeLiteral(value);
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    throw new TypeError(`cannot inline ${typeof value} into a claim`);
  });
}

async function run(on: pg.Pool | pg.ClientBase, text: string, params: readonly unknown[]): Promise<SqlResult> {
  const result = await on.query(text, params as unknown[]);
  return { rows: result.rows as Record<string, unknown>[], affected: result.rowCount ?? 0 };
}

/** Version 1: the tables and indexes (see the store's module comment for what each holds). */
function migration1(t: SqlTables, prefix: string, schema: string): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    `CREATE TABLE IF NOT EXISTS ${t.schema} (name text PRIMARY KEY, value bigint NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${t.messages} (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      queue text NOT NULL,
      msg_id text NOT NULL,
      priority integer NOT NULL DEFAULT 0,
      wanted_priority integer,
      body bytea NOT NULL,
      body_size integer NOT NULL,
      properties json NOT NULL,
      exchange text NOT NULL,
      routing_key text NOT NULL,
      expires_at bigint,
      redelivered boolean NOT NULL DEFAULT false,
      lease_owner text
    )`,
    // Only free rows are indexed for the claim: claimed rows leave the index, so it stays as small as the backlog.
    `CREATE INDEX IF NOT EXISTS ${prefix}messages_ready ON ${t.messages} (queue, priority DESC, seq) WHERE lease_owner IS NULL`,
    `CREATE INDEX IF NOT EXISTS ${prefix}messages_leased ON ${t.messages} (lease_owner) WHERE lease_owner IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS ${t.records} (kind text NOT NULL, rkey text NOT NULL, spec text NOT NULL, PRIMARY KEY (kind, rkey))`,
    `CREATE TABLE IF NOT EXISTS ${t.owners} (owner text PRIMARY KEY, lease_until bigint NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${t.consumers} (queue text NOT NULL, owner text NOT NULL, count integer NOT NULL, PRIMARY KEY (queue, owner))`,
    `CREATE TABLE IF NOT EXISTS ${t.stacks} (name text PRIMARY KEY, state text, holder text, token text, lock_until bigint)`,
  ];
}
