/**
 * Redis Cluster: the ioredis `Cluster` clients of a `redis://host:port?cluster=true` URL (seeds: the URL's
 * host plus `nodes=h:p,h:p`). The typed refusals (kombu's layout on a cluster) are in `client.ts`.
 *
 * @module
 */
import type { BrokerUrl, TransportOptions } from '@wakame/core/spi';
import { InvalidArgumentError } from '@wakame/core/spi';
import { Cluster, type Redis } from 'ioredis';
import { type TlsOptions, tlsConnectOptions } from '../internal/tls.js';
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  parseHostPort,
  RedisClusterError,
  type RedisTransportOptions,
  rememberFirstError,
} from './client.js';

/** How long ioredis waits between tries of a command whose node went away (a failover in progress). */
const FAILOVER_RETRY_MS = 250;

/**
 * A lazily connecting `Cluster` for `url`, typed as `Redis`: the store uses only commands both share
 * (single-slot scripts, pipelines and transactions, PUB/SUB), and ioredis routes each by its keys' slot.
 */
export function createClusterClient(url: BrokerUrl, options: TransportOptions, role: 'command' | 'events'): Redis {
  if (url.db !== 0) {
    throw new RedisClusterError(
      `redis:// with cluster=true takes no database number (Redis Cluster has only database 0), got /${url.db}`,
    );
  }
  if (url.query.sentinel !== undefined) {
    throw new InvalidArgumentError('redis:// options cluster and sentinel exclude each other');
  }
  const recovery = options.recovery ?? {};
  const extra = options.extra as RedisTransportOptions & TlsOptions;
  const commandTimeout = extra.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  let connected = false;
  const seeds = [
    { host: url.hostname, port: url.port ?? 6379 },
    ...(url.query.nodes ?? '')
      .split(',')
      .filter(Boolean)
      .map((hp) => parseHostPort(hp, 'nodes', 6379)),
  ];
  const cluster = new Cluster(seeds, {
    lazyConnect: true,
    enableAutoPipelining: false,
    scaleReads: 'master',
    // A master that dies is replaced by its replica after the cluster's node timeout; commands for its slots
    // are tried again (with a slot refresh) for as long as one command may take, instead of failing at once.
    retryDelayOnFailover: FAILOVER_RETRY_MS,
    retryDelayOnClusterDown: FAILOVER_RETRY_MS,
    retryDelayOnTryAgain: FAILOVER_RETRY_MS,
    maxRedirections: Math.ceil(commandTimeout / FAILOVER_RETRY_MS) + 16,
    // Before the first connect, no retry: a wrong address fails the connect with a typed error.
    clusterRetryStrategy: (attempt) => {
      if (!connected || attempt > (recovery.maxAttempts ?? Number.POSITIVE_INFINITY)) return null;
      const base = Math.min((recovery.initialDelayMs ?? 100) * 2 ** (attempt - 1), recovery.maxDelayMs ?? 5_000);
      return Math.round(base * (1 - (recovery.jitter ?? 0.5) * Math.random()));
    },
    redisOptions: {
      username: url.username,
      password: url.password,
      connectTimeout: options.connectTimeoutMs,
      connectionName: `wakame-${role}-${process.pid}`,
      maxRetriesPerRequest: null,
      // Subscriptions are renewed by ioredis: classic PUB/SUB needs no per-connection id here.
      autoResubscribe: true,
      ...(role === 'command' ? { commandTimeout } : {}),
      ...(url.tls ? { tls: tlsConnectOptions(url, extra) } : {}),
    },
  });
  cluster.once('ready', () => {
    connected = true;
  });
  const client = cluster as unknown as Redis;
  // Failures reach callers as rejections; an unhandled 'error' event would only be printed by ioredis. A
  // node's own refusal (no cluster mode, wrong password) is kept: the connect itself only says "None of
  // startup nodes is available".
  cluster.on('error', () => {});
  cluster.on('node error', (error: Error) => {
    if (!connected) rememberFirstError(client, error);
  });
  return client;
}
