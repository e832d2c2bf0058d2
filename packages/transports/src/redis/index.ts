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
 *   `sentinel_password=` authenticates to them. An unknown master name fails the connect.
 *
 * Fanout exchanges deliver a durable copy to each bound queue. kombu's PUB/SUB fanout (nothing stored,
 * only connected consumers receive; what Celery's broadcast and remote control use) is the explicit
 * mode `arguments: { 'x-redis-fanout': 'pubsub' }` on the exchange.
 *
 * Redis Cluster is refused: kombu's layout puts a queue, `unacked` and `unacked_index` in different
 * hash slots, and the atomic claim needs them in one.
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
import { connectClient, createRedisClient } from './client.js';
import { DEFAULT_PRIORITY_STEPS } from './keys.js';
import { RedisStore, type RedisStoreOptions } from './redis-store.js';

export { decodeEnvelope, encodeEnvelope, pythonJson } from '../internal/kombu-envelope.js';
export type { TlsOptions } from '../internal/tls.js';
export { DEFAULT_COMMAND_TIMEOUT_MS, RedisCommandError, type RedisTransportOptions } from './client.js';
export { kombuPriority, kombuTopicPattern, RedisKeys, SEP } from './keys.js';
export { FANOUT_MODE_ARGUMENT, PUBSUB_MODE } from './pubsub-fanout.js';
export { RedisStore, type RedisStoreOptions } from './redis-store.js';
export { type Epoch, RedisTopology } from './redis-topology.js';

/** The factory the `redis` and `rediss` URL schemes resolve to. */
export const redisTransport: TransportFactory = (url: BrokerUrl, options: TransportOptions): Transport => {
  const q = url.query;
  if (q.cluster !== undefined) {
    throw new InvalidArgumentError(
      "redis:// option cluster is not supported: kombu's key layout spreads one queue's keys over several hash slots, " +
        'and claiming a message atomically needs them in one',
    );
  }
  const storeOptions: RedisStoreOptions = {
    identity: `${url.scheme}://${url.hostname}:${url.port ?? 6379}/${url.db}/${q.keyprefix ?? ''}`,
    keyPrefix: q.keyprefix ?? '',
    db: url.db,
    prioritySteps: q.priority_steps === undefined ? DEFAULT_PRIORITY_STEPS : parseSteps(q.priority_steps),
    ...optionalMs('lease', q.lease, 100, 'leaseMs'),
    ...optionalMs('visibility_timeout', q.visibility_timeout, 1_000, 'visibilityTimeoutMs'),
    onError: retriedLater,
    connect: (client) => connectClient(client, url),
  };
  const command = createRedisClient(url, options, 'command');
  const events = createRedisClient(url, options, 'events');
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
