/**
 * Redis transport (virtual), on ioredis, in kombu's key layout and envelope: Python services using
 * kombu or Celery share queues with Wakame in both directions.
 *
 * URL: `redis://[[user]:password@]host[:port][/db][?options]`, `rediss://` for TLS (certificates in the
 * connection's `transportOptions`: `ca`, `cert`, `key`, `passphrase`, `servername`, see
 * {@link RedisTransportOptions}). Options:
 * - `keyprefix=pfx:`: kombu's `global_keyprefix`;
 * - `lease=30000`: ms before a stopped process's in-flight messages are restored (it renews while alive);
 * - `visibility_timeout=3600000`: ms before messages held by a *kombu* consumer are restored (kombu's option);
 * - `priority_steps=0,3,6,9`: kombu's `priority_steps`, which must match the kombu peers';
 * - `sentinel=<master name>`: the host is a Redis Sentinel; `sentinels=h2:26379,h3:26379` adds more and
 *   `sentinel_password=` authenticates to them. An unknown master name fails the connect. After a failover
 *   the client follows the promoted master, and the `reconnected` status names it;
 * - `cluster=true`: the host is a Redis Cluster node (`nodes=h2:7002,h3:7003` adds more seeds), used with
 *   Wakame's cluster key layout (see `cluster-keys.ts`); no database number;
 * - `wait_replicas=1`: a publish resolves only once that many replicas have it too (`WAIT`, at most
 *   `wait_ms=500` ms), so a master's crash right after cannot take a confirmed message with it;
 * - `layout=kombu|wakame`: the key layout. `kombu` (the default without `cluster`) is kombu's, byte for byte;
 *   `wakame` (the default and the only choice with `cluster=true`) keeps each queue's keys in one hash slot.
 *   `layout=wakame` also works on one Redis (no kombu peers can share its queues).
 *
 * Fanout exchanges deliver a durable copy to each bound queue. kombu's PUB/SUB fanout (nothing stored,
 * only connected consumers receive; what Celery's broadcast and remote control use) is the explicit
 * mode `arguments: { 'x-redis-fanout': 'pubsub' }` on the exchange.
 *
 * kombu's layout cannot run on Redis Cluster (it puts a queue, `unacked` and `unacked_index` in different hash
 * slots, and the atomic claim needs them in one): a cluster node reached with it, or `cluster=true` with
 * `layout=kombu`, fails the connect once with {@link RedisClusterError} (not retriable), saying to use
 * `?cluster=true`. On a cluster, claims, acks and restores are one script per queue on the queue's node;
 * consumers are woken by `PUBLISH` on per-queue channels (see `cluster-signals.ts`).
 *
 * Priorities: Wakame's higher-is-sooner 0..9 maps to kombu's lower-is-sooner 9..0 (`9 - p`), stored
 * in kombu's sub-queue lists `<queue>\x06\x16<step>` (steps 0/3/6/9 by default, so 10 levels fold
 * into 4, FIFO within one).
 *
 * | exchange types | priority | TTL | dead-letter | persistence | cross-process |
 * |----------------|----------|-----|-------------|-------------|---------------|
 * | direct, topic, fanout, headers (+ exchange-to-exchange) | 4 steps | yes | yes | as Redis persists | yes |
 *
 * @module @wakame/transports/redis
 */
import type { BrokerUrl, Transport, TransportFactory, TransportOptions } from '@wakame/core/spi';
import { InvalidArgumentError, VirtualTransport } from '@wakame/core/spi';
import {
  connectClient,
  connectedAddress,
  createRedisClient,
  KOMBU_ON_CLUSTER_ADVICE,
  RedisClusterError,
} from './client.js';
import { createClusterClient } from './cluster-client.js';
import { DEFAULT_PRIORITY_STEPS } from './keys.js';
import { RedisStore, type RedisStoreOptions } from './redis-store.js';

export { decodeEnvelope, encodeEnvelope, pythonJson } from '../internal/kombu-envelope.js';
export type { TlsOptions } from '../internal/tls.js';
export {
  CELERY_TASK_META_PREFIX,
  CeleryRedisResultBackend,
  type CeleryRedisResultBackendOptions,
  DEFAULT_CELERY_RESULT_EXPIRES_SECONDS,
} from './celery-result-backend.js';
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  KOMBU_ON_CLUSTER_ADVICE,
  RedisClusterError,
  RedisCommandError,
  type RedisTransportOptions,
} from './client.js';
export { ClusterKeys, hashSlot } from './cluster-keys.js';
export { kombuPriority, kombuTopicPattern, RedisKeys, SEP, type StoreKeys } from './keys.js';
export { FANOUT_MODE_ARGUMENT, PUBSUB_MODE } from './pubsub-fanout.js';
export { RedisStore, type RedisStoreOptions } from './redis-store.js';
export { type Epoch, RedisTopology } from './redis-topology.js';
export type { ReplicaWait } from './write-batcher.js';

/** The factory the `redis` and `rediss` URL schemes resolve to. */
export const redisTransport: TransportFactory = (url: BrokerUrl, options: TransportOptions): Transport => {
  const q = url.query;
  const cluster = flag('cluster', q.cluster);
  const layout = q.layout ?? (cluster ? 'wakame' : 'kombu');
  if (layout !== 'kombu' && layout !== 'wakame') {
    throw new InvalidArgumentError(`redis:// option layout is 'kombu' or 'wakame', got '${layout}'`);
  }
  if (cluster && layout === 'kombu')
    throw new RedisClusterError(`redis:// with cluster=true and layout=kombu: ${KOMBU_ON_CLUSTER_ADVICE}`);
  if (!cluster && q.nodes !== undefined) throw new InvalidArgumentError('redis:// option nodes needs cluster=true');
  const storeOptions: RedisStoreOptions = {
    identity: `${url.scheme}://${url.hostname}:${url.port ?? 6379}/${url.db}/${q.keyprefix ?? ''}`,
    keyPrefix: q.keyprefix ?? '',
    layout,
    db: url.db,
    prioritySteps: q.priority_steps === undefined ? DEFAULT_PRIORITY_STEPS : parseSteps(q.priority_steps),
    ...optionalMs('lease', q.lease, 100, 'leaseMs'),
    ...optionalMs('visibility_timeout', q.visibility_timeout, 1_000, 'visibilityTimeoutMs'),
    ...replicaWait(q.wait_replicas, q.wait_ms),
    onError: retriedLater,
    connect: (client) => connectClient(client, url, cluster),
    // No credentials: a URL for events and `connection.url`, naming the server reached (a Sentinel's master).
    connectedUrl: () =>
      cluster
        ? `${url.scheme}://${url.hostname}:${url.port ?? 6379}?cluster=true`
        : `${url.scheme}://${connectedAddress(command) ?? `${url.hostname}:${url.port ?? 6379}`}/${url.db}`,
  };
  const create = cluster ? createClusterClient : createRedisClient;
  const command = create(url, options, 'command');
  const events = create(url, options, 'events');
  // A body over the connection's bound is left in Redis: the claim script measures it and returns the rest.
  return new VirtualTransport(new RedisStore(command, events, storeOptions), {
    onError: retriedLater,
    vhost: url.vhost,
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
  });
};

/**
 * Background work (lease renewal, restore, a wake-up) that fails while Redis is away is retried by its
 * timer or by the reconnect; the connection learns of the outage itself through status events.
 */
function retriedLater(_error: unknown): void {}

function replicaWait(count: string | undefined, ms: string | undefined): Pick<RedisStoreOptions, 'waitReplicas'> {
  if (count === undefined) {
    if (ms !== undefined) throw new InvalidArgumentError('redis:// option wait_ms needs wait_replicas');
    return {};
  }
  const n = Number(count);
  if (!Number.isInteger(n) || n < 0 || n > 16) {
    throw new InvalidArgumentError(`redis:// option wait_replicas must be an integer from 0 to 16, got '${count}'`);
  }
  const { timeoutMs = 500 } = optionalMs('wait_ms', ms, 1, 'timeoutMs');
  return { waitReplicas: { count: n, timeoutMs } };
}

function flag(name: string, text: string | undefined): boolean {
  if (text === undefined || text === 'false' || text === '0') return false;
  if (text === 'true' || text === '1' || text === '') return true;
  throw new InvalidArgumentError(`redis:// option ${name} is true or false, got '${text}'`);
}

function parseSteps(text: string): number[] {
  const steps = text.split(',').map((s) => Number(s.trim()));
  const valid =
    steps.length > 0 &&
    steps[0] === 0 &&
    steps.every((s, i) => Number.isInteger(s) && s >= 0 && s <= 9 && (i === 0 || s > (steps[i - 1] as number)));
  if (!valid) {
    throw new InvalidArgumentError(
      `redis:// option priority_steps must be increasing integers from 0 to 9 starting with 0, e.g. 0,3,6,9; got '${text}'`,
    );
  }
  return steps;
}

function optionalMs<K extends string>(
  name: string,
  text: string | undefined,
  min: number,
  key: K,
): Partial<Record<K, number>> {
  if (text === undefined) return {};
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(`redis:// option ${name} must be an integer of at least ${min} ms, got '${text}'`);
  }
  return { [key]: value } as Partial<Record<K, number>>;
}
