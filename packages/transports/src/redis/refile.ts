/**
 * A queue's ready messages re-filed under the priorities of its new record, in one script (see
 * `lua/refile.lua`): a `maxPriority` change made in place.
 *
 * @module
 */
import type { QueueSpec } from '@wakame/core/spi';
import type { StoreKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/**
 * Re-files `to`'s lists. kombu's layout writes the new record and moves the revision in the same script; the
 * cluster layout's records are in another hash slot, so the script leaves them alone (KEYS[1..2] stand in,
 * untouched) and the caller writes the record after (a push in between files by the old record, which delays
 * nothing but its order).
 */
export async function refileQueue(redis: ScriptedRedis, keys: StoreKeys, to: QueueSpec): Promise<void> {
  const lists = keys.lists(to.name);
  const [records, revision] = keys.kombu ? [keys.queues, keys.revision] : [lists[0] as string, lists[0] as string];
  await redis.wakameREFILE(
    2 + lists.length,
    records,
    revision,
    ...lists,
    to.name,
    keys.kombu ? JSON.stringify(to) : '',
    to.maxPriority ?? '',
    ...keys.steps,
  );
}
