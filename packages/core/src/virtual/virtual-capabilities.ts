/**
 * What a virtual transport can do, derived from its store: the virtual layer supplies routing, TTL,
 * length limits and dead-lettering for every store, and the store's features and optional methods
 * decide the rest (priorities, persistence, byte limits, queue expiry, policies, queue migration).
 *
 * @module
 */
import type { Capabilities } from '../transport/spi.js';
import type { VirtualStore } from './store.js';

/**
 * The policy keys the virtual transport honours on `store`: none where the store keeps no policies;
 * else TTL, length limits, overflow and dead-lettering, with `max-length-bytes` only where the store
 * counts bytes (a key accepted but not enforced would be a limit silently lost). `expires` is left out
 * everywhere: queue expiry is the store's own (Redis arms it from the queue record when the queue is
 * declared), and no store yet re-arms it when a policy changes.
 */
export function virtualPolicyKeys(store: VirtualStore): ReadonlySet<string> {
  if (!store.topology.putPolicy || !store.topology.deletePolicy) return new Set();
  return new Set([
    'message-ttl',
    'max-length',
    ...(store.sizeBytes ? ['max-length-bytes'] : []),
    'overflow',
    'dead-letter-exchange',
    'dead-letter-routing-key',
  ]);
}

/** The capabilities of a {@link VirtualTransport} over `store`. */
export function virtualCapabilities(store: VirtualStore): Capabilities {
  const policyKeys = virtualPolicyKeys(store);
  return Object.freeze({
    exchangeTypes: new Set(['direct', 'topic', 'fanout', 'headers'] as const),
    exchangeToExchange: true,
    priority: store.features.priority,
    messageTtl: true,
    queueExpires: store.features.queueExpires ?? false,
    maxLength: true,
    maxLengthBytes: store.sizeBytes !== undefined,
    deadLetter: true,
    alternateExchange: true,
    confirms: true,
    mandatory: true,
    persistence: store.features.persistence,
    crossProcess: store.features.crossProcess,
    queueTypes: new Set(['classic'] as const),
    heartbeats: false,
    ...(policyKeys.size > 0 ? { brokerEntities: new Set(['policy', 'operator-policy'] as const), policyKeys } : {}),
    queueMigration: store.reconfigureQueue !== undefined,
    transactionalPublish: store.features.transactionalPut ?? false,
  });
}
