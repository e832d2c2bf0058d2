/**
 * kombu's two tables, written as kombu's SQLAlchemy models create them, and the few statements on them
 * that PostgreSQL and MariaDB/MySQL write differently. The rest of the kombu layout (`kombu-store.ts`)
 * is dialect-neutral and runs through the {@link SqlDialect} of the database.
 *
 * kombu's models (`kombu/transport/sqlalchemy/models.py`, kombu 5.2, SQLAlchemy 1.4):
 * - `kombu_queue (id, name VARCHAR(200) UNIQUE)`;
 * - `kombu_message (id, visible BOOLEAN, timestamp DATETIME, payload TEXT NOT NULL, version SMALLINT NOT NULL,
 *   queue_id → kombu_queue.id)`, with indexes on `timestamp`, `(timestamp, id)` and `visible`.
 * Both ids come from `Sequence('queue_id_sequence')` / `Sequence('message_id_sequence')` where the database
 * has sequences (PostgreSQL, MariaDB 10.3+), so the columns have no default and every insert must draw
 * `nextval` itself; on MySQL SQLAlchemy makes them AUTO_INCREMENT instead. `version` is SQLAlchemy's
 * optimistic-lock counter: every update must move it, or a stale kombu session would overwrite the row.
 *
 * Wakame's one addition is a side table, `<prefix>kombu_claims (message_id, owner)`: which owner (see
 * `sql-owners.ts`) holds which invisible message. It has no foreign key to `kombu_message` on purpose:
 * kombu's purge deletes rows without knowing of it, and must not fail.
 *
 * @module
 */
import type { SqlDialect, SqlExecutor, SqlRow } from './dialect.js';

/** kombu's tables and Wakame's claims table, by qualified name. */
export interface KombuTables {
  readonly queue: string;
  readonly message: string;
  readonly claims: string;
}

/** What the kombu layout writes differently per database. */
export interface KombuSql {
  readonly tables: KombuTables;
  /** The largest payload kombu's `payload` column holds (bytes), where it is small (MySQL `TEXT`). */
  readonly maxPayloadBytes: number | undefined;
  /** Creates what is missing: kombu's tables as kombu would, and the claims table. Safe to run again. */
  create(session: SqlExecutor): Promise<void>;
  /** `INSERT` of a queue (parameter: its name), doing nothing when it exists. */
  readonly insertQueue: string;
  /** `INSERT` of `n` visible messages (parameters: payload, queue id per row), as kombu's `_put` writes one. */
  insertMessages(n: number): string;
  /** kombu's `onupdate=datetime.now` of the `timestamp` column: the database's local time. */
  readonly now: string;
  /**
   * Claims up to `max` visible messages of queue `queueId` for `owner`, oldest first, skipping rows others
   * hold locked: each is made invisible (as kombu's `_get` does, `timestamp` and `version` moved) and gets a
   * claims row, in one transaction. @returns the claimed rows' `id` and `payload`.
   */
  claim(queueId: number, max: number, owner: string): Promise<readonly SqlRow[]>;
}

/** The `SET` of an update of kombu rows: moves SQLAlchemy's version counter (wrapping within SMALLINT). */
export const BUMP_VERSION = 'version = MOD(version, 32767) + 1';

const repeat = (n: number, row: string): string => Array.from({ length: n }, () => row).join(', ');

/** kombu's tables in PostgreSQL schema `schema` (the Python side reaches it through its `search_path`). */
export function pgKombuSql(executor: SqlExecutor, schema: string, prefix: string): KombuSql {
  const t: KombuTables = {
    queue: `${schema}.kombu_queue`,
    message: `${schema}.kombu_message`,
    claims: `${schema}.${prefix}kombu_claims`,
  };
  const now = 'LOCALTIMESTAMP';
  return {
    tables: t,
    maxPayloadBytes: undefined,
    now,
    async create(session) {
      for (const statement of [
        `CREATE SCHEMA IF NOT EXISTS ${schema}`,
        `CREATE SEQUENCE IF NOT EXISTS ${schema}.queue_id_sequence`,
        `CREATE SEQUENCE IF NOT EXISTS ${schema}.message_id_sequence`,
        `CREATE TABLE IF NOT EXISTS ${t.queue} (id INTEGER NOT NULL, name VARCHAR(200), PRIMARY KEY (id), UNIQUE (name))`,
        `CREATE TABLE IF NOT EXISTS ${t.message} (id INTEGER NOT NULL, visible BOOLEAN, "timestamp" TIMESTAMP WITHOUT TIME ZONE, ` +
          'payload TEXT NOT NULL, version SMALLINT NOT NULL, queue_id INTEGER, PRIMARY KEY (id), ' +
          `CONSTRAINT "FK_kombu_message_queue" FOREIGN KEY (queue_id) REFERENCES ${t.queue} (id))`,
        `CREATE INDEX IF NOT EXISTS ix_kombu_message_timestamp ON ${t.message} ("timestamp")`,
        `CREATE INDEX IF NOT EXISTS ix_kombu_message_timestamp_id ON ${t.message} ("timestamp", id)`,
        `CREATE INDEX IF NOT EXISTS ix_kombu_message_visible ON ${t.message} (visible)`,
        `CREATE TABLE IF NOT EXISTS ${t.claims} (message_id INTEGER PRIMARY KEY, owner TEXT NOT NULL)`,
        `CREATE INDEX IF NOT EXISTS ${prefix}kombu_claims_owner ON ${t.claims} (owner)`,
      ]) {
        await session.query(statement);
      }
    },
    insertQueue: `INSERT INTO ${t.queue} (id, name) VALUES (nextval('${schema}.queue_id_sequence'), ?) ON CONFLICT (name) DO NOTHING`,
    insertMessages: (n) =>
      `INSERT INTO ${t.message} (id, visible, "timestamp", payload, version, queue_id) VALUES ` +
      repeat(n, `(nextval('${schema}.message_id_sequence'), TRUE, NULL, ?, 1, ?)`),
    // One statement: the claim, its claims rows and the reply commit together.
    async claim(queueId, max, owner) {
      const sql =
        `WITH c AS (UPDATE ${t.message} SET visible = FALSE, "timestamp" = ${now}, ${BUMP_VERSION} ` +
        `WHERE id IN (SELECT id FROM ${t.message} WHERE queue_id = ? AND visible = TRUE ORDER BY id LIMIT ? ` +
        'FOR UPDATE SKIP LOCKED) RETURNING id, payload), ' +
        `w AS (INSERT INTO ${t.claims} (message_id, owner) SELECT id, ? FROM c ` +
        'ON CONFLICT (message_id) DO UPDATE SET owner = EXCLUDED.owner) SELECT id, payload FROM c';
      return (await executor.query(sql, [queueId, max, owner])).rows;
    },
  };
}

/**
 * kombu's tables in the MariaDB/MySQL database of the connection. MariaDB (10.3+) gets SQLAlchemy's
 * sequences, MySQL AUTO_INCREMENT ids; which one tables made by someone else use is read from the
 * schema when they are opened.
 */
export function mysqlKombuSql(dialect: SqlDialect, prefix: string): KombuSql {
  const t: KombuTables = { queue: 'kombu_queue', message: 'kombu_message', claims: `${prefix}kombu_claims` };
  const now = 'NOW()';
  let sequences = false;
  return {
    tables: t,
    // kombu's `payload` is TEXT: 65 535 bytes. A longer one would fail the insert (strict mode) or be cut.
    maxPayloadBytes: 65_535,
    now,
    async create(session) {
      const { rows } = await session.query('SELECT VERSION() AS v');
      const mariadb = String(rows[0]?.v ?? '').includes('MariaDB');
      const id = mariadb ? 'INTEGER NOT NULL' : 'INTEGER NOT NULL AUTO_INCREMENT';
      const statements = [
        `CREATE TABLE IF NOT EXISTS ${t.queue} (id ${id}, name VARCHAR(200), PRIMARY KEY (id), UNIQUE KEY name (name)) ENGINE=InnoDB`,
        `CREATE TABLE IF NOT EXISTS ${t.message} (id ${id}, visible BOOL, \`timestamp\` DATETIME, payload TEXT NOT NULL, ` +
          'version SMALLINT NOT NULL, queue_id INTEGER, PRIMARY KEY (id), KEY ix_kombu_message_timestamp_id (`timestamp`, id), ' +
          'KEY ix_kombu_message_visible (visible), KEY ix_kombu_message_timestamp (`timestamp`), ' +
          `CONSTRAINT FK_kombu_message_queue FOREIGN KEY (queue_id) REFERENCES ${t.queue} (id)) ENGINE=InnoDB`,
        `CREATE TABLE IF NOT EXISTS ${t.claims} (message_id INTEGER NOT NULL PRIMARY KEY, owner VARCHAR(128) NOT NULL, ` +
          'KEY owner (owner)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
      ];
      if (mariadb) {
        // SQLAlchemy's own sequences (START 1, CACHE 1000): its next run draws from the same ones.
        statements.unshift(
          'CREATE SEQUENCE IF NOT EXISTS queue_id_sequence',
          'CREATE SEQUENCE IF NOT EXISTS message_id_sequence',
        );
      }
      for (const statement of statements) await session.query(statement);
      const found = await session.query(
        'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ' +
          "AND TABLE_NAME = 'message_id_sequence' AND TABLE_TYPE = 'SEQUENCE'",
      );
      sequences = Number(found.rows[0]?.n) > 0;
    },
    get insertQueue() {
      return sequences
        ? `INSERT IGNORE INTO ${t.queue} (id, name) VALUES (NEXTVAL(queue_id_sequence), ?)`
        : `INSERT IGNORE INTO ${t.queue} (name) VALUES (?)`;
    },
    insertMessages: (n) =>
      sequences
        ? `INSERT INTO ${t.message} (id, visible, \`timestamp\`, payload, version, queue_id) VALUES ` +
          repeat(n, '(NEXTVAL(message_id_sequence), TRUE, NULL, ?, 1, ?)')
        : `INSERT INTO ${t.message} (visible, \`timestamp\`, payload, version, queue_id) VALUES ` +
          repeat(n, '(TRUE, NULL, ?, 1, ?)'),
    // No UPDATE … RETURNING: lock, update and record in one short transaction.
    claim(queueId, max, owner) {
      return dialect.transaction(async (tx) => {
        const { rows } = await tx.query(
          `SELECT id, payload FROM ${t.message} WHERE queue_id = ? AND visible = TRUE ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
          [queueId, max],
        );
        if (rows.length === 0) return rows;
        const ids = rows.map((r) => r.id);
        const marks = ids.map(() => '?').join(', ');
        await tx.query(
          `UPDATE ${t.message} SET visible = FALSE, \`timestamp\` = ${now}, ${BUMP_VERSION} WHERE id IN (${marks})`,
          ids,
        );
        await tx.query(
          `INSERT INTO ${t.claims} (message_id, owner) VALUES ${repeat(ids.length, '(?, ?)')} ` +
            'ON DUPLICATE KEY UPDATE owner = VALUES(owner)',
          ids.flatMap((id) => [id, owner]),
        );
        return rows;
      });
    },
  };
}
