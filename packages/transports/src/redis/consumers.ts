/**
 * Consumer counts across processes: each process keeps its count per queue in the queue's
 * `_wakame.consumers.<queue>` hash under its owner name, and only owners whose liveness key is alive
 * count (in the cluster layout both keys are in the queue's slot, so the probe is one pipeline to one node) (a crashed process stops counting, and its field is dropped when seen).
 *
 * @module
 */
import type { Redis } from 'ioredis';
import type { StoreKeys } from './keys.js';

/** Consumers of `queue` across every process whose lease is alive. */
export async function countConsumers(redis: Redis, keys: StoreKeys, queue: string): Promise<number> {
  const counts = await redis.hgetall(keys.consumers(queue));
  const owners = Object.keys(counts).filter((owner) => Number(counts[owner]) > 0);
  if (owners.length === 0) return 0;
  const probe = redis.pipeline();
  for (const owner of owners) probe.exists(keys.owner(owner, queue));
  const alive = (await probe.exec()) ?? [];
  let total = 0;
  const dead: string[] = [];
  for (const [i, owner] of owners.entries()) {
    if (alive[i]?.[1] === 1) total += Number(counts[owner]);
    else dead.push(owner);
  }
  // A lapsed owner's counters go (a process that comes back re-registers its consumers on resync).
  if (dead.length > 0) await redis.hdel(keys.consumers(queue), ...dead);
  return total;
}
