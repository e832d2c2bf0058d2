/**
 * ioredis clients for one Redis URL. The first connect fails fast with a typed error (a wrong port
 * or password is a user mistake, not something to retry forever); once connected, ioredis reconnects
 * with the connection's recovery policy and resends what was in flight.
 */
import type { BrokerUrl, TransportOptions } from '@wakame/core/spi';
import {
  AccessRefusedError,
  ConnectionError,
  InvalidArgumentError,
  TimeoutError,
  TransportError,
  WakameError,
} from '@wakame/core/spi';
import { Redis, type RedisOptions } from 'ioredis';
import { type TlsOptions, tlsConnectOptions } from '../internal/tls.js';

/** Transport-specific options, passed as `transportOptions` of the connection. */
export interface RedisTransportOptions extends TlsOptions {
  /**
   * How long an operation waits for Redis, including through an outage, before it fails with
   * `TimeoutError` (it may still take effect once Redis is back: delivery is at least once).
   * @defaultValue `30_000`
   */
  readonly commandTimeoutMs?: number;
}

/** @defaultValue of {@link RedisTransportOptions.commandTimeoutMs} */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

const firstErrors = new WeakMap<Redis, Error>();
const AUTH_FAILURE = /WRONGPASS|NOAUTH|invalid password|invalid username-password/i;

/** Creates a lazily connecting client; `connect()` it (errors come back typed from {@link connectClient}). */
export function createRedisClient(url: BrokerUrl, options: TransportOptions, role: 'command' | 'events'): Redis {
  const recovery = options.recovery ?? {};
  let connected = false;
  const common: RedisOptions = {
    lazyConnect: true,
    username: url.username,
    password: url.password,
    connectTimeout: options.connectTimeoutMs,
    connectionName: `wakame-${role}-${process.pid}`,
    // Off: auto-pipelining holds a command until the next tick, so a claim sent ahead would only
    // leave after the batch being delivered (no overlap). Writes are batched by WriteBatcher instead.
    enableAutoPipelining: false,
    // The key watcher re-subscribes the events connection itself, after asking for its new id.
    autoResubscribe: role === 'command',
    maxRetriesPerRequest: null,
    // Subscriptions never answer; everything else is bounded, so nothing waits forever on a dead Redis.
    ...(role === 'command'
      ? { commandTimeout: (options.extra as RedisTransportOptions).commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS }
      : {}),
    ...(url.tls ? { tls: tlsConnectOptions(url, options.extra as RedisTransportOptions) } : {}),
    retryStrategy: (attempt) => backoff(attempt),
  };
  const backoff = (attempt: number): number | null => {
    if (!connected) return null;
    if (attempt > (recovery.maxAttempts ?? Number.POSITIVE_INFINITY)) return null;
    const base = Math.min((recovery.initialDelayMs ?? 100) * 2 ** (attempt - 1), recovery.maxDelayMs ?? 5_000);
    return Math.round(base * (1 - (recovery.jitter ?? 0.5) * Math.random()));
  };
  const sentinel = url.query.sentinel;
  const client =
    sentinel !== undefined
      ? new Redis({
          ...common,
          name: sentinel,
          db: url.db,
          sentinels: [
            { host: url.hostname, port: url.port ?? 26379 },
            ...(url.query.sentinels ?? '')
              .split(',')
              .filter(Boolean)
              .map((hp) => parseHostPort(hp)),
          ],
          sentinelPassword: url.query.sentinel_password,
          // An unknown master name or no sentinel answering fails the first connect (no endless retry).
          sentinelRetryStrategy: (attempt) => backoff(attempt),
        })
      : new Redis({ ...common, host: url.hostname, port: url.port ?? 6379, db: url.db });
  client.once('ready', () => {
    connected = true;
  });
  // ioredis prints unhandled 'error' events to the console; failures reach callers as rejections.
  // The first one is kept: a refused login closes the socket, and connect() then only says "closed".
  client.on('error', (error: Error) => {
    if (!connected) rememberFirstError(client, error);
  });
  return client;
}

/** Keeps the first error a client met before its first connect: what {@link connectClient} reports. */
export function rememberFirstError(client: Redis, error: Error): void {
  if (!firstErrors.has(client)) firstErrors.set(client, error);
}

/**
 * Connects, turning ioredis's errors into Wakame's (no credentials in the message). `cluster`: whether the
 * URL asked for Redis Cluster; a cluster node reached without it is refused once, with advice.
 */
export async function connectClient(client: Redis, url: BrokerUrl, cluster = false): Promise<void> {
  const where = `${url.hostname}:${url.port ?? 6379}`;
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    const cause = firstErrors.get(client) ?? error;
    firstErrors.delete(client);
    const text = cause instanceof Error ? cause.message : String(cause);
    if (AUTH_FAILURE.test(text)) {
      throw new AccessRefusedError(`redis at ${where} refused the credentials: ${text.replace(/\s+/g, ' ')}`);
    }
    throw (
      clusterConnectError(text, where) ?? new ConnectionError(`cannot connect to redis at ${where}: ${text}`, { cause })
    );
  }
  if (cluster) return;
  try {
    await refuseClusterNode(client, where);
  } catch (error) {
    client.disconnect();
    throw error;
  }
}

/** Where `client` is connected now (`host:port`), e.g. the master a Sentinel named after a failover. */
export function connectedAddress(client: Redis): string | undefined {
  const stream = (client as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
  return stream?.remoteAddress !== undefined && stream.remotePort !== undefined
    ? `${stream.remoteAddress}:${stream.remotePort}`
    : undefined;
}

/** One `host:port` of the `sentinels` or `nodes` option. */
export function parseHostPort(text: string, option = 'sentinels', defaultPort = 26379): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const port = colon >= 0 ? Number(text.slice(colon + 1)) : defaultPort;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new InvalidArgumentError(`redis:// option ${option} takes host:port pairs, got '${text}'`);
  }
  return { host: colon >= 0 ? text.slice(0, colon) : text, port };
}

/** Connectivity failures as ioredis and Node report them. */
const CONNECTIVITY =
  /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|MaxRetriesPerRequest/;

/** A Redis failure as one of Wakame's errors (the original as `cause`); Wakame's own pass through. */
export function redisError(error: unknown): Error {
  if (error instanceof WakameError) return error;
  const text = error instanceof Error ? error.message : String(error);
  if (/Command timed out/.test(text))
    return new TimeoutError(`redis did not answer in time: ${text}`, { cause: error });
  if (CONNECTIVITY.test(text)) return new ConnectionError(`the connection to redis failed: ${text}`, { cause: error });
  if (AUTH_FAILURE.test(text))
    return new AccessRefusedError(`redis refused the credentials: ${text}`, { cause: error });
  if (isClusterReply(text)) {
    return new RedisClusterError(`redis answered as a Redis Cluster node (${text}). ${KOMBU_ON_CLUSTER_ADVICE}`, {
      cause: error,
    });
  }
  return new RedisCommandError(`redis refused a command: ${text}`, { cause: error });
}

/** Redis answered a command with an error (a full memory, a read-only replica, a broken script). */
export class RedisCommandError extends TransportError {
  override readonly name = 'RedisCommandError';
  override readonly code = 'ERR_REDIS_COMMAND';
  override readonly retriable = false;
}

/** `promise`, with its failure turned into a Wakame error. */
export function guarded<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((error: unknown) => {
    throw redisError(error);
  });
}

/**
 * The URL or the server cannot work as asked on Redis Cluster: a cluster reached with kombu's layout (one
 * queue's keys span hash slots), `?cluster=true` on a server without cluster mode, or a database number.
 * Not retriable: connecting again gives the same answer.
 */
export class RedisClusterError extends TransportError {
  override readonly name = 'RedisClusterError';
  override readonly code = 'ERR_REDIS_CLUSTER';
  override readonly retriable = false;
}

/** What to do about a cluster reached with kombu's layout. */
export const KOMBU_ON_CLUSTER_ADVICE =
  "kombu's key layout (the default, shared with Python kombu/Celery) spreads one queue's keys over several hash " +
  "slots and cannot run on Redis Cluster. Add ?cluster=true to the URL for Wakame's cluster layout (Python " +
  'kombu/Celery cannot share those queues), or point the URL at a single Redis or a Sentinel group.';

/** The connect error of a server without cluster mode reached with `?cluster=true`, typed; else undefined. */
export function clusterConnectError(text: string, where: string): RedisClusterError | undefined {
  if (/cluster support disabled/i.test(text)) {
    return new RedisClusterError(
      `redis at ${where} is not a Redis Cluster node (cluster support disabled): drop ?cluster=true from the URL`,
    );
  }
  if (/SELECT is not allowed in cluster mode/i.test(text)) {
    return new RedisClusterError(`redis at ${where} is a Redis Cluster node. ${KOMBU_ON_CLUSTER_ADVICE}`);
  }
  return undefined;
}

/**
 * Refuses a cluster node reached without `?cluster=true`: found by `INFO cluster` right after connecting,
 * so the connect fails once with advice, instead of every later script failing with CROSSSLOT or MOVED.
 * A server that refuses `INFO` (an ACL) is let through; the first cross-slot reply then says the same.
 */
export async function refuseClusterNode(client: Redis, where: string): Promise<void> {
  const info = await client.info('cluster').catch(() => '');
  if (/^cluster_enabled:1/m.test(info)) {
    throw new RedisClusterError(`redis at ${where} is a Redis Cluster node. ${KOMBU_ON_CLUSTER_ADVICE}`);
  }
}

/** A command refused because it spans slots or belongs to another node: a cluster reached without `?cluster=true`. */
export function isClusterReply(text: string): boolean {
  return /^(CROSSSLOT|MOVED|ASK) /.test(text) || /CROSSSLOT/.test(text);
}
