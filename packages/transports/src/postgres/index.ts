/**
 * PostgreSQL transport (virtual), on `pg`: the database is the broker. Messages are rows claimed with
 * `FOR UPDATE SKIP LOCKED`; consumers wake on `LISTEN/NOTIFY`; exchanges, bindings, policies and
 * stack records are tables too, so every process on the database routes the same way.
 *
 * URL: `postgres://[user[:password]@]host[:5432]/database[?options]` (`postgresql://` too). Options:
 * - `schema=wakame`: the schema of the tables (created when missing); @defaultValue `public`
 * - `prefix=wakame_`: put before every table name, so several brokers share one schema;
 * - `lease=30000`: ms before a stopped process's claimed messages are restored (it renews while alive);
 * - `sslmode=disable|require|verify-ca|verify-full`: libpq's meanings; certificates (`ca`, `cert`,
 *   `key`) in the connection's `transportOptions`;
 * - `pool_max=10`: connections in the pool;
 * - `layout=kombu`: share kombu's SQLAlchemy tables (`kombu_queue`, `kombu_message` in `schema`) with Python
 *   services on kombu's `sqla+postgresql://` transport, instead of Wakame's tables (see the README); then
 *   `poll_min=5`, `poll_max=200` set the poll of kombu's table (kombu sends no notifications).
 *
 * An application with its own `pg.Pool` passes it as `transportOptions.pool`; the transport then uses
 * it (and one extra client of the same settings for `LISTEN`) and never ends it.
 *
 * Tables (`<prefix>messages`, `records`, `owners`, `consumers`, `stacks`, `schema`) are created or
 * migrated on connect, under an advisory lock. Latency: a message from another process is announced
 * by `NOTIFY` when its row commits (sub-millisecond on one host).
 *
 * | exchange types | priority | TTL | dead-letter | persistence | cross-process |
 * |----------------|----------|-----|-------------|-------------|---------------|
 * | direct, topic, fanout, headers (+ exchange-to-exchange) | yes | yes | yes | yes | yes |
 *
 * @module @wakame/transports/postgres
 */
import type { BrokerUrl, Transport, TransportFactory, TransportOptions } from '@wakame/core/spi';
import { InvalidArgumentError } from '@wakame/core/spi';
import pg from 'pg';
import { pgKombuSql } from '../internal/sql/kombu-sql.js';
import { kombuSqlTransport, sqlLayout } from '../internal/sql/kombu-transport.js';
import { identifierOption, integerOption, sqlTransport, sqlUrlOptions } from '../internal/sql/sql-transport.js';
import { PgDialect } from './pg-dialect.js';

export { SqlStore, type SqlStoreOptions } from '../internal/sql/sql-store.js';
export { DEFAULT_SQL_PREFIX } from '../internal/sql/sql-transport.js';
export { PgDialect } from './pg-dialect.js';

/** The schema used when the URL names none. */
export const DEFAULT_PG_SCHEMA = 'public';

/** `transportOptions` the PostgreSQL transport reads (besides the TLS material). */
export interface PostgresTransportOptions {
  /** The application's pool, used instead of one of the transport's own (and never ended by it). */
  readonly pool?: pg.Pool;
}

/** The factory the `postgres` and `postgresql` URL schemes resolve to. */
export const postgresTransport: TransportFactory = (url: BrokerUrl, options: TransportOptions): Transport => {
  if (url.path === '')
    throw new InvalidArgumentError(`${url.scheme}:// URL names no database, e.g. postgres://host/app`);
  const sql = sqlUrlOptions(url, options);
  const layout = sqlLayout(url);
  const schema = identifierOption(url, 'schema', DEFAULT_PG_SCHEMA);
  const given = (options.extra as PostgresTransportOptions).pool;
  const pool = given ?? new pg.Pool(poolConfig(url, options, sql.tls));
  // An idle client that fails (the server restarted) is dropped by the pool; without a listener it would crash the process.
  if (!given) pool.on('error', () => undefined);
  const dialect = new PgDialect(pool, { schema, prefix: sql.prefix }, given === undefined);
  const identity = `postgres://${url.hostname}:${url.port ?? 5432}/${url.path}/${schema}/${sql.prefix}`;
  if (layout === 'kombu') {
    const kombu = pgKombuSql(dialect, schema, sql.prefix);
    return kombuSqlTransport(dialect, kombu, url, options, sql, `${identity}/kombu`);
  }
  return sqlTransport(dialect, url, options, sql, identity);
};

function poolConfig(url: BrokerUrl, options: TransportOptions, tls: SqlTlsOptions): pg.PoolConfig {
  const max = url.query.pool_max === undefined ? 10 : Number(url.query.pool_max);
  if (!Number.isInteger(max) || max < 2) {
    throw new InvalidArgumentError(
      `${url.scheme}:// option pool_max must be an integer of at least 2, got '${url.query.pool_max}'`,
    );
  }
  return {
    host: url.hostname || 'localhost',
    port: url.port ?? 5432,
    database: url.path,
    ...(url.username !== undefined ? { user: url.username } : {}),
    ...(url.password !== undefined ? { password: url.password } : {}),
    ssl: tls ?? false,
    max: integerOption(url, 'pool_max', 10, 2),
    connectionTimeoutMillis: options.connectTimeoutMs,
    application_name: 'wakame',
  };
}

type SqlTlsOptions = ReturnType<typeof sqlUrlOptions>['tls'];
