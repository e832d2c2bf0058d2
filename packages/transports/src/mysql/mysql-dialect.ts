/**
 * The MariaDB/MySQL {@link SqlDialect} on `mysql2/promise`: a pool, `GET_LOCK` for migrations, and
 * the claim as a short transaction (`SELECT … FOR UPDATE SKIP LOCKED`, then `UPDATE … WHERE seq IN`),
 * since neither server has `UPDATE … RETURNING`. SKIP LOCKED needs MariaDB 10.6 or MySQL 8.0.
 *
 * There are no notifications: the store polls (see `wakeups.ts`), and `notifying`/`notify` leave
 * statements as they are.
 *
 * Statements go through `query` (text protocol, values escaped by the driver), not `execute`: IN lists
 * of every length would each become a server-side prepared statement, and servers cap their number.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import {
  type ClaimStatement,
  insertInto,
  NETWORK_ERROR_CODES,
  placeholders,
  type SqlDialect,
  type SqlErrorKind,
  type SqlExecutor,
  type SqlResult,
  type SqlRow,
  type SqlTables,
  sqlTables,
} from '../internal/sql/dialect.js';
import { mysqlTransactionConnection } from './mysql-transaction.js';

const ERROR_CODES: Readonly<Record<string, SqlErrorKind>> = Object.freeze({
  ...NETWORK_ERROR_CODES,
  PROTOCOL_CONNECTION_LOST: 'connection',
  ER_CON_COUNT_ERROR: 'connection',
  ER_SERVER_SHUTDOWN: 'connection',
  ER_ACCESS_DENIED_ERROR: 'access',
  ER_DBACCESS_DENIED_ERROR: 'access',
  ER_BAD_DB_ERROR: 'missing-database',
  ER_LOCK_WAIT_TIMEOUT: 'timeout',
});

/** How long an open waits for another process's migration (s). */
const LOCK_WAIT_S = 60;

export class MysqlDialect implements SqlDialect {
  readonly kind = 'mysql';
  readonly tables: SqlTables;
  readonly migrations: readonly (readonly string[])[];
  readonly nowMs = 'CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)';
  readonly errorCodes = ERROR_CODES;
  readonly #pool: Pool;
  readonly #ownPool: boolean;

  constructor(pool: Pool, prefix: string, ownPool: boolean) {
    this.#pool = pool;
    this.#ownPool = ownPool;
    this.tables = sqlTables((table) => `${prefix}${table}`);
    this.migrations = [migration1(this.tables)];
  }

  query(sql: string, params: readonly unknown[] = []): Promise<SqlResult> {
    return retryDeadlocks(() => run(this.#pool, sql, params));
  }

  /**
   * Runs `fn` in a transaction; one that InnoDB chose as a deadlock victim (rolled back whole) is run
   * again, which is safe because every transaction of the store can be repeated from the start.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return retryDeadlocks(() => this.#transactionOnce(fn));
  }

  async #transactionOnce<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const conn = await this.#pool.getConnection();
    try {
      await conn.beginTransaction();
      const result = await fn({ query: (sql, params = []) => run(conn, sql, params) });
      await conn.commit();
      conn.release();
      return result;
    } catch (error) {
      // A connection whose ROLLBACK fails is broken: destroyed, not returned to the pool.
      await conn.rollback().then(
        () => conn.release(),
        () => conn.destroy(),
      );
      throw error;
    }
  }

  /** Statements on the application's connection, inside its transaction (see `mysql-transaction.ts`). */
  inTransaction(handle: unknown): SqlExecutor {
    const connection = mysqlTransactionConnection(handle);
    return { query: (sql, params = []) => run(connection, sql, params) };
  }

  async withLock<T>(name: string, fn: (session: SqlExecutor) => Promise<T>): Promise<T> {
    // Lock names are at most 64 characters: a hash of the name keeps any prefix within it.
    const lock = `wakame_${createHash('sha256').update(name).digest('hex').slice(0, 40)}`;
    const conn = await this.#pool.getConnection();
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [lock, LOCK_WAIT_S]);
      if (Number(rows[0]?.got) !== 1) {
        throw new Error(`another process held the migration lock of ${this.tables.schema} for ${LOCK_WAIT_S} s`);
      }
      try {
        return await fn({ query: (sql, params = []) => run(conn, sql, params) });
      } finally {
        await conn.query('SELECT RELEASE_LOCK(?)', [lock]);
      }
    } finally {
      conn.release();
    }
  }

  upsert(
    table: string,
    keys: readonly string[],
    columns: readonly string[],
    update: readonly string[],
    values?: readonly string[],
  ): string {
    // The key columns are implied by the table's primary key.
    void keys;
    const set = update.map((c) => `${c} = VALUES(${c})`).join(', ');
    return `${insertInto(table, columns, values)} ON DUPLICATE KEY UPDATE ${set}`;
  }

  insertIgnore(table: string, columns: readonly string[]): string {
    return insertInto(table, columns).replace('INSERT INTO', 'INSERT IGNORE INTO');
  }

  claim(c: ClaimStatement): Promise<readonly SqlRow[]> {
    const m = this.tables.messages;
    return this.transaction(async (tx) => {
      const { rows } = await tx.query(
        `SELECT ${c.columns} FROM ${m} WHERE queue = ? AND lease_owner IS NULL ` +
          'ORDER BY priority DESC, seq LIMIT ? FOR UPDATE SKIP LOCKED',
        [...c.columnParams, c.queue, c.max],
      );
      if (rows.length === 0) return rows;
      const seqs = rows.map((r) => r.seq);
      await tx.query(`UPDATE ${m} SET lease_owner = ? WHERE seq IN (${placeholders(seqs.length)})`, [c.owner, ...seqs]);
      return rows;
    });
  }

  notifying(statement: string): string {
    return statement;
  }

  async notify(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#ownPool) await this.#pool.end();
  }
}

/** Attempts at a statement or transaction that InnoDB keeps choosing as a deadlock victim. */
const DEADLOCK_ATTEMPTS = 5;

/**
 * Concurrent claims (`FOR UPDATE SKIP LOCKED`), batched acks and inserts on one index can deadlock
 * in InnoDB, which then rolls the victim back entirely (`ER_LOCK_DEADLOCK`, 1213): the documented
 * remedy is to run it again. Only the store's own statements are retried, never an application's
 * transaction (`inTransaction`), which the application must redo itself.
 */
export async function retryDeadlocks<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (n >= DEADLOCK_ATTEMPTS || (error as { code?: unknown }).code !== 'ER_LOCK_DEADLOCK') throw error;
    }
  }
}

async function run(on: Pool | PoolConnection, sql: string, params: readonly unknown[]): Promise<SqlResult> {
  const [result] = await on.query(sql, params as unknown[]);
  if (Array.isArray(result)) return { rows: result as RowDataPacket[], affected: 0 };
  return { rows: [], affected: (result as ResultSetHeader).affectedRows };
}

/**
 * Version 1: the tables. Names and queues compare byte for byte (`utf8mb4_bin`), as AMQP names do.
 * The claim index leads with `lease_owner` after the queue: free rows (NULL) are one range of it.
 */
function migration1(t: SqlTables): string[] {
  const table = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';
  return [
    `CREATE TABLE IF NOT EXISTS ${t.schema} (name VARCHAR(64) NOT NULL PRIMARY KEY, value BIGINT NOT NULL) ${table}`,
    `CREATE TABLE IF NOT EXISTS ${t.messages} (
      seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      queue VARCHAR(255) NOT NULL,
      msg_id VARCHAR(255) NOT NULL,
      priority INT NOT NULL DEFAULT 0,
      wanted_priority INT NULL,
      body LONGBLOB NOT NULL,
      body_size INT NOT NULL,
      properties JSON NOT NULL,
      exchange VARCHAR(255) NOT NULL,
      routing_key VARCHAR(255) NOT NULL,
      expires_at BIGINT NULL,
      redelivered BOOLEAN NOT NULL DEFAULT FALSE,
      lease_owner VARCHAR(128) NULL,
      KEY ready (queue, lease_owner, priority DESC, seq),
      KEY leased (lease_owner)
    ) ${table}`,
    `CREATE TABLE IF NOT EXISTS ${t.records} (kind VARCHAR(16) NOT NULL, rkey CHAR(64) NOT NULL, spec LONGTEXT NOT NULL, PRIMARY KEY (kind, rkey)) ${table}`,
    `CREATE TABLE IF NOT EXISTS ${t.owners} (owner VARCHAR(128) NOT NULL PRIMARY KEY, lease_until BIGINT NOT NULL) ${table}`,
    `CREATE TABLE IF NOT EXISTS ${t.consumers} (queue VARCHAR(255) NOT NULL, owner VARCHAR(128) NOT NULL, count INT NOT NULL, PRIMARY KEY (queue, owner)) ${table}`,
    `CREATE TABLE IF NOT EXISTS ${t.stacks} (name VARCHAR(128) NOT NULL PRIMARY KEY, state LONGTEXT NULL, holder TEXT NULL, token VARCHAR(64) NULL, lock_until BIGINT NULL) ${table}`,
  ];
}
