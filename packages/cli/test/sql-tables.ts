/**
 * Cleanup for tests that run the SQL transports: their tables (created on connect) dropped by prefix.
 *
 * @module
 */
import { createRequire } from 'node:module';

/** The drivers are the transports package's (the CLI does not depend on them): loaded from there. */
const driver = createRequire(new URL('../../transports/package.json', import.meta.url));

/** What the cleanup uses of either driver's connection. */
interface SqlClient {
  connect?(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

/** Drops the tables the SQL transports made under `prefix` in the database of `url`. */
export async function dropSqlTables(url: string, prefix: string): Promise<void> {
  const tables = ['messages', 'records', 'owners', 'consumers', 'stacks', 'schema'].map((t) => prefix + t);
  if (url.startsWith('postgres')) {
    const pg = driver('pg') as { Client: new (config: { connectionString: string }) => SqlClient };
    const client = new pg.Client({ connectionString: url });
    await client.connect?.();
    await client.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`).finally(() => client.end());
    return;
  }
  const mysql = driver('mysql2/promise') as { createConnection(url: string): Promise<SqlClient> };
  const conn = await mysql.createConnection(url);
  await conn.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`).finally(() => conn.end());
}
