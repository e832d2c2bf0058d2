/**
 * MariaDB/MySQL transport (virtual), on `mysql2`: the database is the broker, with the same tables
 * and semantics as the PostgreSQL transport (one SQL store serves both). Needs `SKIP LOCKED`:
 * MariaDB 10.6+ or MySQL 8.0+.
 *
 * URL: `mysql://[user[:password]@]host[:3306]/database[?options]` (`mariadb://` too). Options:
 * - `prefix=wakame_`: put before every table name, so several brokers share one database;
 * - `lease=30000`: ms before a stopped process's claimed messages are restored (it renews while alive);
 * - `sslmode=disable|require|verify-ca|verify-full` (or MySQL's `ssl-mode=REQUIRED|VERIFY_CA|VERIFY_IDENTITY`);
 *   certificates (`ca`, `cert`, `key`) in the connection's `transportOptions`;
 * - `pool_max=10`: connections in the pool;
 * - `poll_min=5`, `poll_max=200`: the wake-up poll, in ms (see below);
 * - `layout=kombu`: share kombu's SQLAlchemy tables (`kombu_queue`, `kombu_message`) with Python services on
 *   kombu's `sqla+mysql+pymysql://` transport, instead of Wakame's tables (see the README).
 *
 * An application with its own `mysql2/promise` pool passes it as `transportOptions.pool`; the
 * transport uses it and never ends it.
 *
 * Latency: these servers have no notifications, so consumers learn of another process's messages by
 * a poll: one indexed probe per consumed queue, every 5 ms after activity, doubling to every 200 ms
 * while idle. A message from another process waits at most `poll_max` (about `poll_min` while traffic
 * flows); messages published in the same process wake its consumers at once.
 *
 * | exchange types | priority | TTL | dead-letter | persistence | cross-process |
 * |----------------|----------|-----|-------------|-------------|---------------|
 * | direct, topic, fanout, headers (+ exchange-to-exchange) | yes | yes | yes | yes | yes |
 *
 * @module @wakame/transports/mysql
 */
import type { BrokerUrl, Transport, TransportFactory, TransportOptions } from '@wakame/core/spi';
import { InvalidArgumentError } from '@wakame/core/spi';
import mysql from 'mysql2/promise';
import { mysqlKombuSql } from '../internal/sql/kombu-sql.js';
import { kombuSqlTransport, sqlLayout } from '../internal/sql/kombu-transport.js';
import { integerOption, sqlTransport, sqlUrlOptions } from '../internal/sql/sql-transport.js';
import { MysqlDialect } from './mysql-dialect.js';

export { DEFAULT_SQL_PREFIX } from '../internal/sql/sql-transport.js';
export { MysqlDialect } from './mysql-dialect.js';

/** `transportOptions` the MariaDB/MySQL transport reads (besides the TLS material). */
export interface MysqlTransportOptions {
  /** The application's pool, used instead of one of the transport's own (and never ended by it). */
  readonly pool?: mysql.Pool;
}

/** The factory the `mysql` and `mariadb` URL schemes resolve to. */
export const mysqlTransport: TransportFactory = (url: BrokerUrl, options: TransportOptions): Transport => {
  if (url.path === '') throw new InvalidArgumentError(`${url.scheme}:// URL names no database, e.g. mysql://host/app`);
  const sql = sqlUrlOptions(url, options);
  const layout = sqlLayout(url);
  const given = (options.extra as MysqlTransportOptions).pool;
  const pool =
    given ??
    mysql.createPool({
      host: url.hostname || 'localhost',
      port: url.port ?? 3306,
      database: url.path,
      ...(url.username !== undefined ? { user: url.username } : {}),
      ...(url.password !== undefined ? { password: url.password } : {}),
      ...(sql.tls ? { ssl: sql.tls as mysql.SslOptions } : {}),
      connectionLimit: integerOption(url, 'pool_max', 10, 2),
      connectTimeout: options.connectTimeoutMs,
      charset: 'utf8mb4',
      supportBigNumbers: true,
    });
  const dialect = new MysqlDialect(pool, sql.prefix, given === undefined);
  const identity = `mysql://${url.hostname}:${url.port ?? 3306}/${url.path}/${sql.prefix}`;
  if (layout === 'kombu') {
    return kombuSqlTransport(dialect, mysqlKombuSql(dialect, sql.prefix), url, options, sql, `${identity}/kombu`);
  }
  return sqlTransport(dialect, url, options, sql, identity, {
    minMs: integerOption(url, 'poll_min', 5, 1),
    maxMs: integerOption(url, 'poll_max', 200, 1),
  });
};
