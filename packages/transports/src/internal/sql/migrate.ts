/**
 * Brings a store's tables to the current schema version when it opens. Every open runs this, so
 * it must be cheap when nothing is to do and safe when several processes open at once: the whole
 * check-and-migrate runs under the dialect's database-wide lock (an advisory lock on PostgreSQL,
 * `GET_LOCK` on MariaDB/MySQL), so one process migrates and the others then find the work done.
 * Each migration's statements are idempotent (`IF NOT EXISTS`), and the version row moves only after
 * they all ran: an open interrupted half-way is finished by the next one.
 *
 * @module
 */
import type { SqlDialect, SqlExecutor } from './dialect.js';

/** The name/value rows of the schema table. */
export const VERSION_ROW = 'version';
export const REVISION_ROW = 'revision';

/** Runs the migrations `dialect` has beyond the stored version; returns the version now in place. */
export async function migrate(dialect: SqlDialect, lockName: string): Promise<number> {
  const latest = dialect.migrations.length;
  return dialect.withLock(lockName, async (session) => {
    const current = await storedVersion(session, dialect);
    if (current > latest) {
      // A newer Wakame migrated these tables: running on them could misread its rows.
      throw new Error(
        `the tables ${dialect.tables.schema} are at schema version ${current}, newer than this Wakame knows (${latest}): upgrade Wakame`,
      );
    }
    for (let version = current; version < latest; version++) {
      for (const statement of dialect.migrations[version] ?? []) await session.query(statement);
      await session.query(dialect.upsert(dialect.tables.schema, ['name'], ['name', 'value'], ['value']), [
        VERSION_ROW,
        version + 1,
      ]);
    }
    // Every change of the topology bumps this row: it must exist before the first one.
    await session.query(dialect.insertIgnore(dialect.tables.schema, ['name', 'value']), [REVISION_ROW, 0]);
    return latest;
  });
}

/** 0 when the schema table does not exist yet (a fresh prefix). */
async function storedVersion(session: SqlExecutor, dialect: SqlDialect): Promise<number> {
  try {
    const { rows } = await session.query(`SELECT value FROM ${dialect.tables.schema} WHERE name = ?`, [VERSION_ROW]);
    return rows.length === 0 ? 0 : Number(rows[0]?.value);
  } catch {
    // The first migration creates the table; a query on a missing table fails in every dialect.
    return 0;
  }
}
