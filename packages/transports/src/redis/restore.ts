/**
 * Returns in-flight messages of stopped consumers to their queues, paged, from any process.
 *
 * A message a Wakame process holds comes back when its owner's liveness key expired (the process
 * died or hung): it returns to the exact list it was claimed from, marked redelivered. A message a
 * kombu consumer holds has no owner; as kombu itself would, it comes back after kombu's visibility
 * timeout, routed again through the `_kombu.binding.*` sets with kombu's own rules.
 *
 * In the cluster layout each queue keeps its own in-flight records and owner liveness keys in its slot, so
 * a run restores queue by queue (one restore scope per queue, each script on the node holding that queue):
 * the dead process's messages come back whichever node it or the restorer talk to.
 */
import type { ExchangeType } from '@wakame/core/spi';
import type { Redis } from 'ioredis';
import { markRedelivered, pythonJson } from '../internal/kombu-envelope.js';
import { parseBindingMember, SEP, type StoreKeys, stepFor } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

export interface RestoreOptions {
  readonly leaseMs: number;
  readonly visibilityTimeoutMs: number;
  /** The persisted type of an exchange, when Wakame knows it. */
  readonly exchangeType: (name: string) => Promise<ExchangeType | undefined>;
}

const PAGE = 200;
/** Bound on pages per run, so one run cannot monopolise Redis; the next run continues. */
const MAX_PAGES = 20;

/** @returns the queues that received restored messages. */
export async function restoreExpiredLeases(
  r: ScriptedRedis,
  keys: StoreKeys,
  options: RestoreOptions,
): Promise<Set<string>> {
  const restoredTo = new Set<string>();
  // kombu's layout: one scope for every queue; the cluster layout: every queue with a record is a scope.
  const scopes = keys.kombu ? [''] : await r.hkeys(keys.queues);
  for (const scope of scopes) await restoreScope(r, keys, scope, options, restoredTo);
  return restoredTo;
}

async function restoreScope(
  r: ScriptedRedis,
  keys: StoreKeys,
  scope: string,
  options: RestoreOptions,
  restoredTo: Set<string>,
): Promise<void> {
  const redis: Redis = r;
  const [unacked, index, leases] = keys.held(scope);
  const now = Date.now();
  const leaseCutoff = ((now - options.leaseMs) / 1000).toFixed(6);
  const visibilityCutoff = ((now - options.visibilityTimeoutMs) / 1000).toFixed(6);
  let offset = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const found = (await r.wakameRESTORABLE(
      3,
      unacked,
      index,
      leases,
      leaseCutoff,
      visibilityCutoff,
      offset,
      PAGE,
      keys.owner('', scope),
    )) as string[];
    let skipped = 0;
    for (let i = 0; i < found.length; i += 3) {
      const [tag, record, lease] = [found[i] as string, found[i + 1] as string, found[i + 2] as string];
      const [envelope, exchange, routingKey] = JSON.parse(record) as [Record<string, unknown>, string, string];
      const element = markRedelivered(JSON.stringify(envelope));
      let targets: string[];
      let ownerKey = '';
      if (lease !== '') {
        const owner = lease.slice(0, lease.indexOf(SEP));
        ownerKey = keys.owner(owner, scope);
        targets = [lease.slice(lease.indexOf(SEP) + SEP.length)];
      } else {
        // Only a kombu consumer holds a message without a lease, and no kombu peer shares a cluster.
        targets = keys.kombu ? await kombuRoute(redis, keys, exchange, routingKey, envelope, options) : [];
      }
      if (targets.length === 0) {
        skipped++;
        continue;
      }
      const done = await r.wakameRESTORE(
        3,
        unacked,
        index,
        leases,
        tag,
        lease,
        ownerKey,
        ...targets.flatMap((list) => [list, element]),
      );
      if (done === 1) for (const list of targets) restoredTo.add(keys.queueOf(list) ?? list);
      else skipped++;
    }
    // Candidates that stay (unroutable, or their owner came back) shift the next page.
    offset += skipped;
    if (found.length / 3 < PAGE) break;
  }
}

/**
 * After a reconnect: claims whose reply was lost with the connection are held in Redis under `owner`
 * but unknown to it (not in `held`), so they would be renewed forever; they go back to their lists,
 * unflagged (they were never delivered). @returns the queues they went back to.
 */
export async function restoreLostClaims(
  redis: ScriptedRedis,
  keys: StoreKeys,
  owner: string,
  held: ReadonlyMap<string, unknown>,
  /** The queues this owner claimed from (the cluster layout keeps the leases per queue). */
  queues: Iterable<string>,
  /**
   * Resolves once the claims in flight now have recorded their messages in `held`: a claim whose reply is
   * on its way has its leases written already (the scan may see them), and they are not lost.
   */
  settled: () => Promise<unknown>,
): Promise<Set<string>> {
  const restoredTo = new Set<string>();
  const scopes = new Map<string, string>();
  for (const queue of keys.kombu ? [''] : queues) scopes.set(keys.scope(queue), queue);
  const mine = `${owner}${SEP}`;
  for (const queue of scopes.values()) {
    const [unacked, index, leases] = keys.held(queue);
    const found = await leasesOf(redis, leases, mine);
    await settled();
    for (const [tag, lease] of found) {
      if (held.has(tag)) continue;
      const record = await redis.hget(unacked, tag);
      if (record === null) continue;
      const list = lease.slice(mine.length);
      const element = pythonJson((JSON.parse(record) as unknown[])[0]);
      const args = [unacked, index, leases, tag, lease, '', list, element];
      if ((await redis.wakameRESTORE(3, ...args)) === 1) restoredTo.add(keys.queueOf(list) ?? list);
    }
  }
  return restoredTo;
}

/**
 * The leases in `leases` whose value starts with `mine` (`<owner><SEP>`), as tag → lease. The whole hash is
 * scanned (`HSCAN` matches field names, and the owner is in the value): this runs only after a reconnect,
 * while keeping a per-owner set instead would cost a write on every claim and every ack.
 */
async function leasesOf(redis: Redis, leases: string, mine: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, entries] = await redis.hscan(leases, cursor, 'COUNT', 1000);
    for (let i = 0; i < entries.length; i += 2) {
      const lease = entries[i + 1] as string;
      if (lease.startsWith(mine)) found.set(entries[i] as string, lease);
    }
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** The lists kombu's `_lookup` would send a message to (kombu's restore re-routes, it does not remember the queue). */
async function kombuRoute(
  redis: Redis,
  keys: StoreKeys,
  exchange: string,
  routingKey: string,
  envelope: Record<string, unknown>,
  options: RestoreOptions,
): Promise<string[]> {
  const props = (envelope.properties ?? {}) as Record<string, unknown>;
  const priority = typeof props.priority === 'number' ? props.priority : 0;
  const step = stepFor(priority, keys.steps);
  if (exchange === '') return [keys.list(routingKey, step)];
  const type = await options.exchangeType(exchange);
  const queues = new Set<string>();
  for (const member of await redis.smembers(keys.binding(exchange))) {
    const m = parseBindingMember(member);
    if (!m) continue;
    let match: boolean;
    if (type === 'fanout') match = true;
    else if (m.pattern !== '' || type === 'topic') match = safeRegex(m.pattern).test(routingKey);
    else match = m.routingKey === routingKey;
    if (match) queues.add(m.queue);
  }
  return [...queues].map((q) => keys.list(q, step));
}

/** kombu's stored pattern is a Python regex; it runs as a JS one without the `u` flag (kombu escapes `-`). */
function safeRegex(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch {
    return /$^/;
  }
}
