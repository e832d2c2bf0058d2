/**
 * What the SQL store core needs from a database, and nothing more: an executor for `?`-placeholder
 * statements, transactions, and the handful of statements PostgreSQL and MariaDB/MySQL write
 * differently (DDL, upserts, the claim, notifications, the migration lock). The store logic
 * (`sql-store.ts`, `sql-topology.ts`, `sql-stacks.ts`) is written once against this interface, so a
 * dialect is a translation table, not a second store (drizzle's per-dialect push is the pitfall).
 *
 * @module
 */

/** A result row: column name to driver value. */
export type SqlRow = Readonly<Record<string, unknown>>;

/** What a statement returned. */
export interface SqlResult {
  readonly rows: readonly SqlRow[];
  /** Rows inserted, updated or deleted. */
  readonly affected: number;
}

/** Runs statements written with `?` placeholders (the dialect rewrites them where it must). */
export interface SqlExecutor {
  query(sql: string, params?: readonly unknown[]): Promise<SqlResult>;
}

/** The tables of one store, by their qualified names (schema and prefix applied). */
export interface SqlTables {
  /** One row per stored message copy. */
  readonly messages: string;
  /** Topology records: exchanges, queues, bindings, policies. */
  readonly records: string;
  /** Live store instances (owners of claims), each with a lease. */
  readonly owners: string;
  /** Consumers per queue and owner, so that other processes see consumer counts. */
  readonly consumers: string;
  /** Stack state documents and apply locks. */
  readonly stacks: string;
  /** Name/value rows: the schema `version` and the topology `revision`. */
  readonly schema: string;
}

/** The parts of a claim statement; the dialect assembles them its way. */
export interface ClaimStatement {
  /** The columns to return (SQL expressions with aliases), for the claimed rows. */
  readonly columns: string;
  readonly queue: string;
  readonly max: number;
  readonly owner: string;
  /** Parameters the `columns` expressions use, before the others. */
  readonly columnParams: readonly unknown[];
}

/** How a driver failure should surface: see `errors.ts`. */
export type SqlErrorKind = 'connection' | 'access' | 'missing-database' | 'timeout';

export interface SqlDialect extends SqlExecutor {
  /** `'postgres'` or `'mysql'`: the transport kind. */
  readonly kind: string;
  readonly tables: SqlTables;
  /**
   * Forward migrations: entry `i` takes the schema from version `i` to `i + 1`. Each statement must be
   * safe to run again (an interrupted migration is finished by the next open).
   */
  readonly migrations: readonly (readonly string[])[];
  /** SQL for the database clock in epoch milliseconds (leases use one clock, whatever the hosts' clocks say). */
  readonly nowMs: string;
  /**
   * A predicate that is always true and, as a side effect, lets the statement's transaction commit
   * without waiting for its log flush (PostgreSQL `synchronous_commit = off`), for settles whose loss
   * in a database crash means a redelivery, never a lost message. Absent: commits as configured.
   */
  readonly relaxedCommit?: string;
  /** Driver error codes (SQLSTATE, errno or Node's `code`) and what they mean. */
  readonly errorCodes: Readonly<Record<string, SqlErrorKind>>;
  /**
   * An executor on the application's own open transaction: `handle` is its client or connection of
   * this dialect's driver, on which the application began a transaction. What runs on it commits or
   * rolls back with the application's work. Absent: the dialect cannot publish in one.
   * @throws `InvalidArgumentError` when `handle` is not a client of this driver (a pool, another
   *   driver's connection): checked before anything is sent, so a wrong handle never waits on anything
   * @throws `InvalidOperationError` when the client has no transaction open
   */
  inTransaction?(handle: unknown): SqlExecutor;
  /** Runs `fn` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` while holding the database-wide lock `name` (an advisory lock, `GET_LOCK`), so that
   * concurrent opens migrate one at a time. `fn` runs on the connection holding the lock.
   */
  withLock<T>(name: string, fn: (session: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * `INSERT … ON CONFLICT/DUPLICATE KEY` updating `update` columns of the row whose `keys` match;
   * `values` are the SQL expressions inserted (`?` for each column unless given).
   */
  upsert(
    table: string,
    keys: readonly string[],
    columns: readonly string[],
    update: readonly string[],
    values?: readonly string[],
  ): string;
  /** `INSERT` that does nothing (affects no row) when the key exists. */
  insertIgnore(table: string, columns: readonly string[]): string;
  /**
   * Claims up to `max` free messages of a queue for `owner` (highest priority first, FIFO within one),
   * skipping rows other claimers hold locked, and returns the claimed rows in any order.
   */
  claim(statement: ClaimStatement): Promise<readonly SqlRow[]>;
  /**
   * `statement` (an INSERT or UPDATE of the messages table) made to also tell other processes that the
   * queues of the rows it wrote may have ready messages, atomically with it where the database can
   * (PostgreSQL: `pg_notify` in the same statement). Without notifications: `statement` unchanged.
   */
  notifying(statement: string): string;
  /** Notifies other processes with `payload` as part of transaction `tx` (no-op without notifications). */
  notify(tx: SqlExecutor, payload: string): Promise<void>;
  /**
   * Starts listening for the payloads of {@link SqlDialect.notifying} and {@link SqlDialect.notify}
   * (reconnecting by itself; `onReconnect` after each reconnect, when some may have been missed).
   * Absent: the database has no notifications and the store polls.
   */
  listen?(onPayload: (payload: string) => void, onReconnect: () => void): Promise<() => Promise<void>>;
  /** Closes the connections the dialect opened (not a pool the application passed in). */
  close(): Promise<void>;
}

/** The tables of a store, each name made by `qualify` from its base name. */
export function sqlTables(qualify: (table: string) => string): SqlTables {
  return {
    messages: qualify('messages'),
    records: qualify('records'),
    owners: qualify('owners'),
    consumers: qualify('consumers'),
    stacks: qualify('stacks'),
    schema: qualify('schema'),
  };
}

/** Node's socket failures, which both drivers pass through as `code`. */
export const NETWORK_ERROR_CODES: Readonly<Record<string, SqlErrorKind>> = Object.freeze({
  ECONNREFUSED: 'connection',
  ECONNRESET: 'connection',
  ENOTFOUND: 'connection',
  EHOSTUNREACH: 'connection',
  ETIMEDOUT: 'connection',
  EPIPE: 'connection',
});

/** `INSERT INTO table (columns) VALUES (values)`, `?` for each value unless given. */
export function insertInto(table: string, columns: readonly string[], values?: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${(values ?? columns.map(() => '?')).join(', ')})`;
}

/** Placeholders `?, ?, …` for `n` values. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/** Prefixes and schemas become table names unquoted: letters, digits and `_` only, kept short. */
export const IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]{0,39}$/;
