/**
 * The Lua scripts behind every state change of a message. Each runs atomically in Redis, which is
 * what kombu lacks: its consumer `BRPOP`s a message and records it as unacked in a second round
 * trip, so a crash in between loses the message. Here pop and record are one step, and so are
 * settle and restore (a message is never both in a queue and in `unacked`).
 *
 * Common keys: 1 `unacked` (hash tag → `[envelope, exchange, routing_key]`, kombu's shape),
 * 2 `unacked_index` (zset tag → time, kombu's shape; Wakame renews the score while it holds a message,
 * so kombu's own visibility-timeout restore leaves it alone too), 3 `_wakame.leases` (tag →
 * `<owner><SEP><list>`). What one owner holds is read from the leases (only after a reconnect), so a claim
 * writes three keys per message and an ack deletes from three.
 *
 * The scripts themselves are in `lua/<name>.lua` (see `lua.ts`), each read once when this module loads.
 */
import type { Redis } from 'ioredis';
import { loadLua } from './lua.js';

/**
 * Claims up to ARGV[3] messages from KEYS[5..] in order (a queue's priority lists, kombu's first
 * step first). ARGV: 1 owner, 2 now in seconds (kombu's `time.time()`), 3 max, 4 (optional) the
 * receiver's body bound in bytes. KEYS[4] receives elements that are not kombu envelopes. Returns
 * `[moved_aside, listIndex, element, …]`; a message whose body is over the bound is claimed all
 * the same but comes back as `-listIndex, bodyBytes, element without its body`: the body never leaves
 * Redis (the envelope starts with the body, as kombu and Wakame write it, and a base64 body's size
 * follows from its length, so it is measured without decoding anything).
 *
 * Cost matters here (it bounds a consumer's throughput), hence: one `RPOP count` per list, one
 * variadic write per key for the whole batch, and the tag, exchange and routing key read from the
 * tail kombu and Wakame both write (`… "delivery_info": {…}, "priority": n, "body_encoding": …,
 * "delivery_tag": "…"}}`) with a pattern; only other shapes pay for a JSON decode.
 */
export const CLAIM = loadLua('claim');

/** Acknowledges the tags in ARGV: the message is gone for good. Returns how many were still held. */
export const ACK = loadLua('ack');

/**
 * Returns held messages to the front of their lists (RPUSH: consumed next). ARGV is triples of
 * tag, list key, element. A tag no longer held (restored by another process after the lease ran out)
 * is skipped, so a message is never queued twice. Returns how many went back.
 */
export const REQUEUE = loadLua('requeue');

/**
 * Finds in-flight messages that may be restored, oldest first. ARGV: 1 lease cutoff (seconds; a
 * Wakame holder renews its scores, so an older one stopped), 2 visibility cutoff (for messages a
 * kombu consumer holds: kombu never renews, so only its visibility timeout applies), 3 offset,
 * 4 page size, 5 owner-key prefix. A Wakame-held message qualifies only when its owner's liveness key
 * is gone too. Index entries whose record vanished (a half-finished kombu ack) are cleaned up.
 * Returns `[tag, unacked record, lease or '', …]`.
 */
export const RESTORABLE = loadLua('restorable');

/**
 * Restores one message found by {@link RESTORABLE}, if nothing changed meanwhile. ARGV: 1 tag,
 * 2 the lease seen ('' for none), 3 the owner's liveness key ('' to skip the check), then pairs of
 * list key and element. Returns 1 when restored.
 */
export const RESTORE = loadLua('restore');

/**
 * Deletes an expiring queue whose use marker lapsed (its record and its lists), atomically with the
 * check, so a redeclaration (which sets the marker) in the meantime keeps it. KEYS: 1 the marker,
 * 2 the queue records, 3 the revision counter, 4.. the queue's lists; ARGV: 1 the queue. Returns 1
 * when it deleted.
 */
export const EXPIRE_QUEUE = loadLua('expire-queue');

/**
 * Pushes a message received on a PUB/SUB channel into a queue once, however many processes consume
 * that queue. KEYS: 1 the once-only marker, 2 the list; ARGV: 1 the element, 2 the marker's life (ms).
 */
export const DELIVER_ONCE = loadLua('deliver-once');

/** Deletes every list in KEYS and returns how many elements they held. */
export const PURGE = loadLua('purge');

/** Total length of the lists in KEYS. */
export const SIZE = loadLua('size');

/**
 * Replaces a queue's record and re-files its ready messages under the priorities the new record gives
 * them, atomically (a `maxPriority` change made in place). KEYS: 1 the queue records, 2 the revision
 * counter, 3.. the queue's lists; ARGV: 1 the queue, 2 the record, 3 the new maxPriority ('' for
 * none), 4.. the steps. Returns how many elements changed list.
 */
export const REFILE = loadLua('refile');

type Script = (...args: (string | number)[]) => Promise<unknown>;

/** A client with the scripts above defined as commands (`EVALSHA`, falling back to `EVAL` once). */
export type ScriptedRedis = Redis & {
  wakameCLAIM: Script;
  wakameACK: Script;
  wakameREQUEUE: Script;
  wakameRESTORABLE: Script;
  wakameRESTORE: Script;
  wakamePURGE: Script;
  wakameSIZE: Script;
  wakameEXPIREQUEUE: Script;
  wakameDELIVERONCE: Script;
  wakameREFILE: Script;
};

/** Defines every script on `redis` (idempotent). */
export function defineScripts(redis: Redis): ScriptedRedis {
  const scripts = {
    CLAIM,
    ACK,
    REQUEUE,
    RESTORABLE,
    RESTORE,
    PURGE,
    SIZE,
    EXPIREQUEUE: EXPIRE_QUEUE,
    DELIVERONCE: DELIVER_ONCE,
    REFILE,
  };
  for (const [name, lua] of Object.entries(scripts)) {
    if (!(`wakame${name}` in redis)) redis.defineCommand(`wakame${name}`, { lua });
  }
  return redis as ScriptedRedis;
}
