/**
 * Turns the publishes, acks and requeues of one event-loop turn into one round of Redis calls: one
 * `LPUSH` per list (all its new elements), one ack script and one requeue script per 500 tags. A busy
 * consumer acks hundreds of messages per turn, so this is what lets it pass the one-round-trip-per-
 * message bound kombu's pattern is stuck at.
 */

import { redisError } from './client.js';
import type { StoreKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/** Most tags per settle script call (Lua's `unpack` limit, and a reply of reasonable size). */
export const SETTLE_CHUNK = 500;

/** A message going back to the front of its list. */
export interface Requeue {
  readonly tag: string;
  readonly list: string;
  readonly queue: string;
  /** The element to push (marked redelivered or not). */
  readonly raw: string;
  /** Claim order: requeued messages keep it. */
  readonly seq: number;
}

interface Batch {
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export class WriteBatcher {
  #puts = new Map<string, { queue: string; raws: string[]; batch: Batch }>();
  /** Tags to ack per restore scope (all queues share one in kombu's layout; one per queue on a cluster). */
  #acks: { scopes: Map<string, { queue: string; tags: string[] }>; batch: Batch } | undefined;
  #requeues: { items: Requeue[]; batch: Batch } | undefined;
  #scheduled = false;

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: StoreKeys,
    /** A queue received messages (its consumers in this process should look). */
    private readonly notify: (queue: string) => void,
    private readonly onError: (error: unknown) => void,
    /** Replicas a push waits for (`WAIT`), see {@link ReplicaWait}; none by default. */
    private readonly replicas: ReplicaWait = { count: 0, timeoutMs: 0 },
  ) {}

  /** Appends `raw` to `list` (the back of the line); resolves once Redis stored it. */
  push(queue: string, list: string, raw: string): Promise<void> {
    let pending = this.#puts.get(list);
    if (!pending) {
      pending = { queue, raws: [], batch: batch() };
      this.#puts.set(list, pending);
      this.#schedule();
    }
    pending.raws.push(raw);
    return pending.batch.done;
  }

  ack(queue: string, tag: string): Promise<void> {
    this.#acks ??= { scopes: new Map(), batch: batch() };
    const scope = this.keys.scope(queue);
    let pending = this.#acks.scopes.get(scope);
    if (!pending) {
      pending = { queue, tags: [] };
      this.#acks.scopes.set(scope, pending);
    }
    pending.tags.push(tag);
    this.#schedule();
    return this.#acks.batch.done;
  }

  requeue(item: Requeue): Promise<void> {
    this.#requeues ??= { items: [], batch: batch() };
    this.#requeues.items.push(item);
    this.#schedule();
    return this.#requeues.batch.done;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.flush().catch(this.onError);
    });
  }

  /** One list's new elements; with replicas to wait for, `WAIT` follows on the same node (a pipeline). */
  async #store(list: string, raws: string[]): Promise<void> {
    if (this.replicas.count === 0) {
      await this.redis.lpush(list, ...raws);
      return;
    }
    const results = await this.redis
      .pipeline()
      .lpush(list, ...raws)
      .wait(this.replicas.count, this.replicas.timeoutMs)
      .exec();
    const error = results?.[0]?.[0];
    if (error) throw error;
  }

  /** Sends everything pending now. */
  async flush(): Promise<void> {
    const puts = this.#puts;
    const acks = this.#acks;
    const requeues = this.#requeues;
    this.#puts = new Map();
    this.#acks = undefined;
    this.#requeues = undefined;
    const k = this.keys;
    const work: Promise<unknown>[] = [];
    for (const [list, { queue, raws, batch }] of puts) {
      work.push(
        this.#store(list, raws).then(() => {
          batch.resolve();
          this.notify(queue);
        }, batch.reject),
      );
    }
    if (acks) {
      const calls = [...acks.scopes.values()].flatMap(({ queue, tags }) => {
        const heads = k.held(queue);
        return chunks(tags, SETTLE_CHUNK).map((part) => this.redis.wakameACK(3, ...heads, ...part));
      });
      work.push(Promise.all(calls).then(acks.batch.resolve, acks.batch.reject));
    }
    if (requeues) {
      // RPUSH puts each at the front: push the latest claimed first so the earliest is consumed first.
      const ordered = requeues.items.sort((a, b) => b.seq - a.seq);
      const byScope = new Map<string, Requeue[]>();
      for (const r of ordered) {
        const scope = k.scope(r.queue);
        const items = byScope.get(scope);
        if (items) items.push(r);
        else byScope.set(scope, [r]);
      }
      const calls = [...byScope.values()].flatMap((items) => {
        const heads = k.held((items[0] as Requeue).queue);
        return chunks(items, SETTLE_CHUNK).map((part) =>
          this.redis.wakameREQUEUE(3, ...heads, ...part.flatMap((r) => [r.tag, r.list, r.raw])),
        );
      });
      const queues = new Set(ordered.map((r) => r.queue));
      work.push(
        Promise.all(calls).then(() => {
          requeues.batch.resolve();
          for (const q of queues) this.notify(q);
        }, requeues.batch.reject),
      );
    }
    await Promise.all(work);
  }
}

/**
 * `wait_replicas`: a publish resolves once `count` replicas acknowledged it too, or `timeoutMs` passed. Redis
 * replicates asynchronously: without it, a master killed right after a push may take the push with it, since
 * the replica promoted in its place never received it. `WAIT` blocks only the connection that pushed; a shard
 * without a live replica (just failed over) costs each push `timeoutMs` and is then confirmed as stored.
 */
export interface ReplicaWait {
  readonly count: number;
  readonly timeoutMs: number;
}

function batch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = (error) => rej(redisError(error));
  });
  // A batch nobody awaits (a fire-and-forget settle) must not become an unhandled rejection.
  done.catch(() => undefined);
  return { done, resolve, reject };
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
