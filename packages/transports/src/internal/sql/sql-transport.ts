/**
 * What the PostgreSQL and MariaDB/MySQL transport factories share: the URL options every SQL store
 * takes (`prefix`, `lease`, `sslmode`) and lifting a dialect to a {@link VirtualTransport}.
 *
 * @module
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { BrokerUrl, Transport, TransportOptions } from '@wakame/core/spi';
import { InvalidArgumentError, VirtualTransport } from '@wakame/core/spi';
import { type TlsOptions, tlsConnectOptions } from '../tls.js';
import { IDENTIFIER_PATTERN, type SqlDialect } from './dialect.js';
import { SqlStore } from './sql-store.js';
import type { PollerOptions } from './wakeups.js';

/** The table prefix used when the URL gives none. */
export const DEFAULT_SQL_PREFIX = 'wakame_';

/** URL options common to the SQL transports. */
export interface SqlUrlOptions {
  readonly prefix: string;
  readonly leaseMs: number | undefined;
  /** TLS settings for the driver; undefined for a plain connection. */
  readonly tls: TlsConnectionOptions | undefined;
}

/** Reads `prefix`, `lease` and `sslmode` (libpq's values) from `url`, refusing what would be misread. */
export function sqlUrlOptions(url: BrokerUrl, options: TransportOptions): SqlUrlOptions {
  const q = url.query;
  const prefix = q.prefix ?? DEFAULT_SQL_PREFIX;
  if (!IDENTIFIER_PATTERN.test(prefix)) {
    throw new InvalidArgumentError(
      `${url.scheme}:// option prefix must be lower-case letters, digits and '_' (not starting with a digit, at most 40), got '${prefix}'`,
    );
  }
  return { prefix, leaseMs: leaseOf(url), tls: tlsOf(url, options.extra as TlsOptions) };
}

/** `name` checked as an unquoted identifier (a schema name). */
export function identifierOption(url: BrokerUrl, name: string, fallback: string): string {
  const value = url.query[name] ?? fallback;
  if (!IDENTIFIER_PATTERN.test(value)) {
    throw new InvalidArgumentError(
      `${url.scheme}:// option ${name} must be lower-case letters, digits and '_' (not starting with a digit, at most 40), got '${value}'`,
    );
  }
  return value;
}

/** The integer option `name` of `url` (at least `min`), or `fallback` when absent. */
export function integerOption(url: BrokerUrl, name: string, fallback: number, min: number): number {
  const text = url.query[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(
      `${url.scheme}:// option ${name} must be an integer of at least ${min}, got '${text}'`,
    );
  }
  return value;
}

/** A transport over `dialect`'s tables; `identity` names them without credentials. */
export function sqlTransport(
  dialect: SqlDialect,
  url: BrokerUrl,
  options: TransportOptions,
  sql: SqlUrlOptions,
  identity: string,
  poll?: PollerOptions,
): Transport {
  let onError: (error: unknown) => void = () => {};
  const store = new SqlStore(dialect, {
    identity,
    where: `${url.scheme} database '${url.path}' on ${url.hostname}:${url.port ?? ''} (tables ${dialect.tables.messages}, …)`,
    ...(sql.leaseMs !== undefined ? { leaseMs: sql.leaseMs } : {}),
    ...(poll ? { poll } : {}),
    onError: (error) => onError(error),
  });
  const transport = new VirtualTransport(store, {
    onError: (error) => onError(error),
    vhost: url.vhost,
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
  });
  // Background work that fails (a renewal, a sweep while the database is away) is retried by its timer.
  onError = () => {};
  return transport;
}

function leaseOf(url: BrokerUrl): number | undefined {
  const text = url.query.lease;
  if (text === undefined) return undefined;
  const lease = Number(text);
  if (!Number.isInteger(lease) || lease < 100) {
    throw new InvalidArgumentError(
      `${url.scheme}:// option lease must be an integer of at least 100 ms, got '${text}'`,
    );
  }
  return lease;
}

/**
 * libpq's `sslmode`: `disable` (the default here), `require` (encrypted, the certificate not
 * checked), `verify-ca` (the chain checked, not the name), `verify-full`. `allow` and `prefer` mean
 * "TLS if the server offers it", a fallback neither driver makes: they are refused rather than
 * silently taken as one or the other. Certificates come from the connection's `transportOptions`.
 */
function tlsOf(url: BrokerUrl, extra: TlsOptions): TlsConnectionOptions | undefined {
  const mode = url.query.sslmode ?? url.query['ssl-mode']?.toLowerCase().replace('_', '-') ?? 'disable';
  switch (mode) {
    case 'disable':
      return undefined;
    case 'require':
      return { ...tlsConnectOptions(url, extra), rejectUnauthorized: false };
    case 'verify-ca':
      return { ...tlsConnectOptions(url, extra), checkServerIdentity: () => undefined };
    case 'verify-full':
    case 'verify-identity':
      return tlsConnectOptions(url, extra);
    default:
      throw new InvalidArgumentError(
        `${url.scheme}:// option sslmode must be disable, require, verify-ca or verify-full (allow and prefer fall back to plain text, which neither driver does), got '${mode}'`,
      );
  }
}
