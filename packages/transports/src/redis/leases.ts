/**
 * A store's leases on what it holds: a liveness key that expires when the process stops renewing it, and
 * the `unacked_index` scores of its held messages, moved to "now" at each renewal, so that neither Wakame's
 * restore nor kombu's visibility-timeout restore takes them while the process runs.
 *
 * kombu's layout has one liveness key and one index for the whole database. The cluster layout has both per
 * queue (a restore script may only touch its queue's slot), so a renewal writes each queue the process holds
 * messages of or consumes, one single-slot pipeline per queue, all sent at once.
 *
 * @module
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { StoreKeys } from './keys.js';
import { chunks, SETTLE_CHUNK } from './write-batcher.js';

export interface LeaseHolder {
  readonly owner: string;
  readonly leaseMs: number;
  /** The messages held now. */
  readonly held: Iterable<{ readonly tag: string; readonly queue: string }>;
  /** The queues consumed here (their consumer counts count only while the owner's key lives). */
  readonly queues: Iterable<[string, number]>;
}

/** Renews the liveness key(s) and held scores of `holder`. */
export async function renewLeases(redis: Redis, keys: StoreKeys, holder: LeaseHolder): Promise<void> {
  const now = (Date.now() / 1000).toFixed(6);
  // Restore scope → a queue of it and the tags held there (kombu's layout: one scope, '').
  const scopes = new Map<string, { queue: string; tags: string[] }>();
  const scopeOf = (queue: string) => {
    const scope = keys.scope(queue);
    let entry = scopes.get(scope);
    if (!entry) {
      entry = { queue, tags: [] };
      scopes.set(scope, entry);
    }
    return entry;
  };
  if (keys.kombu) scopeOf('');
  for (const { tag, queue } of holder.held) scopeOf(queue).tags.push(tag);
  for (const [queue] of holder.queues) scopeOf(queue);
  const alive = `${hostname()}:${process.pid}`;
  await Promise.all(
    [...scopes.values()].map(({ queue, tags }) => {
      const tx = redis.pipeline().set(keys.owner(holder.owner, queue), alive, 'PX', holder.leaseMs);
      const index = keys.held(queue)[1];
      for (const part of chunks(tags, SETTLE_CHUNK)) tx.zadd(index, 'XX', ...part.flatMap((tag) => [now, tag]));
      return tx.exec();
    }),
  );
}

/** Deletes a closing store's liveness keys (one `DEL` per key: they may be in different slots). */
export async function dropOwner(redis: Redis, keys: StoreKeys, owner: string, queues: Iterable<string>): Promise<void> {
  const doomed = new Set<string>();
  for (const queue of keys.kombu ? [''] : queues) doomed.add(keys.owner(owner, queue));
  await Promise.all([...doomed].map((key) => redis.del(key)));
}
