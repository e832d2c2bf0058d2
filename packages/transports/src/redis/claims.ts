/**
 * What a store holds: claiming messages (one atomic script per batch, see `lua/claim.lua`), the receipts
 * of the messages claimed and not yet settled, and settling them through the {@link WriteBatcher}. Kept
 * apart from the store, which owns the connections, the timers and the topology.
 *
 * @module
 */
import type { Claimed, ClaimOptions, StoreOutcome } from '@wakame/core/spi';
import { bodyOfRecord, EnvelopeError, elementOfRecord, markRedelivered } from '../internal/kombu-envelope.js';
import { readClaimReply } from './claim-reply.js';
import { guarded } from './client.js';
import type { StoreKeys } from './keys.js';
import type { ScriptedRedis } from './scripts.js';
import type { Receipt } from './store-options.js';
import type { WriteBatcher } from './write-batcher.js';

export interface ClaimsContext {
  readonly redis: ScriptedRedis;
  readonly keys: StoreKeys;
  readonly owner: string;
  readonly writes: WriteBatcher;
  /** The queue-effective priority of a message read from `queue`'s list of kombu step `step`. */
  readonly priorityOf: (queue: string, step: number) => number;
  /** `queue` is in use (queue expiry). */
  readonly touch: (queue: string) => void;
  readonly report: (error: unknown) => void;
}

export class Claims {
  /** The messages claimed and not settled yet, by tag: their leases are renewed. */
  readonly held = new Map<string, Receipt>();
  /** Queues claimed from: where leases may be in the cluster layout (one lease hash per queue). */
  readonly claimedFrom = new Set<string>();
  /** Claims sent and not yet recorded in {@link held}. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #seq = 0;

  constructor(private readonly c: ClaimsContext) {}

  /** Resolves once every claim sent so far has recorded its messages as held (or failed). */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Claims up to `max` messages of `queue` in one atomic script (highest priority first). With
   * `maxBodyBytes`, the script measures each body in Redis and returns a message whose body is over it
   * without its body (`withheldBodyBytes`); the body stays in `unacked` with the rest of the message.
   */
  claim(queue: string, max: number, options: ClaimOptions): Promise<Claimed[]> {
    // Tracked until its messages are recorded as held: a resync must not take them for lost claims.
    const claim = this.#claim(queue, max, options);
    this.#inFlight.add(claim);
    const forget = () => void this.#inFlight.delete(claim);
    claim.then(forget, forget);
    return claim;
  }

  async #claim(queue: string, max: number, options: ClaimOptions): Promise<Claimed[]> {
    const { keys: k, redis } = this.c;
    const lists = k.lists(queue);
    this.c.touch(queue);
    this.claimedFrom.add(queue);
    const bound = options.maxBodyBytes;
    const reply = (await guarded(
      redis.wakameCLAIM(
        4 + lists.length,
        ...k.held(queue),
        k.corrupt(queue),
        ...lists,
        this.c.owner,
        (Date.now() / 1000).toFixed(6),
        max,
        ...(bound !== undefined && Number.isFinite(bound) ? [bound] : []),
      ),
    )) as [number, ...(number | string)[]];
    if (reply[0] > 0) {
      this.c.report(
        new EnvelopeError(
          `${reply[0]} element(s) of queue '${queue}' were not kombu envelopes: moved to ${k.corrupt(queue)}`,
        ),
      );
    }
    const claimed: Claimed[] = [];
    for (const { index, raw, message } of readClaimReply(reply, (i) => this.c.priorityOf(queue, k.steps[i - 1] ?? 0))) {
      const list = lists[index - 1] as string;
      const receipt: Receipt = { tag: message.id, list, queue, raw, message, seq: ++this.#seq };
      this.held.set(receipt.tag, receipt);
      claimed.push({ message, receipt });
    }
    return claimed;
  }

  settle(receipt: unknown, outcome: StoreOutcome): Promise<void> {
    const r = receipt as Receipt;
    this.held.delete(r.tag);
    if (outcome === 'ack') return this.c.writes.ack(r.queue, r.tag);
    const mark = outcome === 'requeue' && !r.message.redelivered;
    if (r.raw === undefined) return this.#requeueWithheld(r, mark);
    const raw = mark ? markRedelivered(r.raw) : r.raw;
    return this.c.writes.requeue({ tag: r.tag, list: r.list, queue: r.queue, raw, seq: r.seq });
  }

  /** The body of a message claimed without it (over the bound), read from `unacked` for a dead-lettered copy. */
  async readBody(receipt: unknown): Promise<Buffer> {
    const r = receipt as Receipt;
    const record = await guarded(this.c.redis.hget(this.c.keys.held(r.queue)[0], r.tag));
    return record === null ? Buffer.alloc(0) : bodyOfRecord(record);
  }

  /**
   * Requeues a message claimed without its body: the element is rebuilt from its `unacked` record (the
   * only time the client holds such a body, and only when it goes back to its queue). Gone from
   * `unacked` means another process restored it after the lease ran out: nothing to do.
   */
  async #requeueWithheld(r: Receipt, mark: boolean): Promise<void> {
    const record = await guarded(this.c.redis.hget(this.c.keys.held(r.queue)[0], r.tag));
    if (record === null) return;
    const raw = elementOfRecord(record, mark);
    await this.c.writes.requeue({ tag: r.tag, list: r.list, queue: r.queue, raw, seq: r.seq });
  }
}
