/**
 * `?layout=kombu` on `postgres://` and `mysql://` URLs: the transport over kombu's SQLAlchemy tables
 * (`kombu-store.ts`) instead of Wakame's own. The rest of the URL means what it means for the SQL
 * transports (`schema`, `prefix` for Wakame's side tables, `lease`, `sslmode`, `pool_max`), plus the
 * poll of kombu's table (`poll_min`, `poll_max`), which PostgreSQL needs here too: kombu publishes no
 * notifications.
 *
 * @module
 */
import type { BrokerUrl, Transport, TransportOptions } from '@wakame/core/spi';
import { InvalidArgumentError, VirtualTransport } from '@wakame/core/spi';
import type { SqlDialect } from './dialect.js';
import type { KombuSql } from './kombu-sql.js';
import { KombuStore } from './kombu-store.js';
import { integerOption, type SqlUrlOptions } from './sql-transport.js';

/** The table layouts a SQL URL can name. */
export type SqlLayout = 'wakame' | 'kombu';

/** The URL's `layout` option: Wakame's tables (the default) or kombu's. */
export function sqlLayout(url: BrokerUrl): SqlLayout {
  const layout = url.query.layout ?? 'wakame';
  if (layout !== 'wakame' && layout !== 'kombu') {
    throw new InvalidArgumentError(`${url.scheme}:// option layout must be wakame or kombu, got '${layout}'`);
  }
  return layout;
}

/** A transport over kombu's tables reached through `dialect`; `identity` names them without credentials. */
export function kombuSqlTransport(
  dialect: SqlDialect,
  kombu: KombuSql,
  url: BrokerUrl,
  options: TransportOptions,
  sql: SqlUrlOptions,
  identity: string,
): Transport {
  const store = new KombuStore(dialect, kombu, {
    identity,
    where: `${url.scheme} database '${url.path}' on ${url.hostname}:${url.port ?? ''} (kombu tables ${kombu.tables.message}, …)`,
    ...(sql.leaseMs !== undefined ? { leaseMs: sql.leaseMs } : {}),
    poll: { minMs: integerOption(url, 'poll_min', 5, 1), maxMs: integerOption(url, 'poll_max', 200, 1) },
    // Background work that fails (a renewal, a sweep while the database is away) is retried by its timer.
    onError: () => {},
  });
  return new VirtualTransport(store, {
    onError: () => {},
    vhost: url.vhost,
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
  });
}
