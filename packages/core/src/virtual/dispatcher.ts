/**
 * The delivery loop of the virtual transport: which subscription gets the next message of which
 * queue, and when to look again. Stores only claim messages; fairness between consumers, prefetch
 * windows, queue order and polling for stores that cannot signal new messages are handled here,
 * once, for every store.
 *
 * @module
 */
import { SETTLED } from '../internal/settled.js';
import type { ConsumeRequest, DeliverySink } from '../transport/spi.js';
import type { Claimed } from './store.js';

/** One consumption: a set of queues sharing a prefetch window. */
export interface Subscription {
  readonly request: ConsumeRequest;
  readonly sink: DeliverySink;
  /** Unsettled deliveries; never above `request.prefetch` when that is set. */
  inflight: number;
  cancelled: boolean;
  /** Where round-robin resumes. */
  cursor: number;
  readonly releaseConsumers: (() => void)[];
  /** A batch claim sent before the previous batch was handed over (batch-claiming stores only). */
  readAhead?: ReadAhead | undefined;
}

/** Messages being claimed for a subscription ahead of delivery: they count against its prefetch window. */
interface ReadAhead {
  readonly index: number;
  readonly size: number;
  readonly claims: Promise<Claimed[]>;
}

/** What the dispatcher needs from its transport. */
export interface DispatchHost {
  /** Claims the next live message of `queue` (expired ones are dead-lettered on the way). */
  claim(queue: string): Claimed | undefined | Promise<Claimed | undefined>;
  /**
   * Claims up to `max` live messages of `queue` in one step; present when the store claims in
   * batches, used when a subscription has room for more than one message.
   */
  claimMany?(queue: string, max: number): Promise<Claimed[]>;
  /** Hands a claimed message to the subscription. */
  deliver(sub: Subscription, queueIndex: number, claimed: Claimed): void | Promise<void>;
  /** Reports an error that has no caller to go to. */
  report(error: unknown): void;
  /** Called on each poll tick (stores without change notifications), before draining. */
  poll?(): void;
}

/** Resolves in the event loop's next turn, after pending I/O and timers. */
function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Deliveries in one drain run before it yields to the event loop, so a deep queue never starves I/O and timers. */
const DELIVERIES_PER_TURN = 256;
/** Most messages claimed in one batch (a subscription without prefetch still claims in bounded steps). */
const MAX_BATCH = 256;

/**
 * Moves messages from queues to subscriptions. One drain loop at a time; each round gives every
 * subscription with room at most one message, so consumers of one queue share it fairly, and a
 * slow consumer's full prefetch window never blocks the others.
 *
 * It runs when something may have changed: a subscription started, a message was settled, or the
 * store signalled new messages. Stores that cannot signal are polled on a timer while anyone consumes.
 */
export class Dispatcher {
  readonly subscriptions = new Set<Subscription>();
  #scheduled = false;
  #running = false;
  #again = false;
  #stopped = false;
  #pollTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: DispatchHost,
    /** Poll interval for stores without change notifications; 0 disables polling. */
    private readonly pollIntervalMs: number,
  ) {}

  add(sub: Subscription): void {
    this.subscriptions.add(sub);
    this.schedule();
  }

  remove(sub: Subscription): void {
    sub.cancelled = true;
    this.subscriptions.delete(sub);
    this.#abandonReadAhead(sub);
  }

  /**
   * Resolves once messages claimed ahead for removed subscriptions are back in their queues, and the drain run
   * under way (if any) is over: a claim it sent before the stop returns after it, and its messages must be
   * released before the store closes (a store whose claim removes the message has no lease to bring it back).
   */
  async drained(): Promise<void> {
    while (this.#releasing.size > 0 || this.#run) await Promise.all([...this.#releasing, this.#run]);
  }

  /** The asynchronous drain run under way. */
  #run: Promise<void> | undefined;

  readonly #releasing = new Set<Promise<void>>();

  /** A read-ahead nobody will deliver: its messages go back untouched when the claim returns. */
  #abandonReadAhead(sub: Subscription): void {
    const ahead = sub.readAhead;
    if (!ahead) return;
    sub.readAhead = undefined;
    const releasing = ahead.claims
      .then(async (claimed) => {
        for (const c of claimed) await this.host.deliver(sub, -1, c);
      })
      .catch((error: unknown) => this.host.report(error))
      .finally(() => this.#releasing.delete(releasing));
    this.#releasing.add(releasing);
  }

  /** Whether any live subscription consumes `queue`. */
  consumes(queue: string): boolean {
    for (const sub of this.subscriptions) if (sub.request.queues.includes(queue)) return true;
    return false;
  }

  schedule(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    // A reaction on a settled promise rather than queueMicrotask, which wraps every callback in an
    // AsyncResource: this runs once per publish on in-memory stores.
    void SETTLED.then(this.#tick);
  }

  /** One drain run, scheduled; for stores that claim synchronously it usually finishes without a promise. */
  readonly #tick = (): void => {
    this.#scheduled = false;
    if (this.#running || this.#stopped) return;
    this.#running = true;
    let rest: Promise<void> | undefined;
    try {
      rest = this.host.claimMany ? this.#runAsync() : this.#runNow();
    } catch (error) {
      this.#failed(error);
      return;
    }
    if (rest === undefined) this.#ran();
    else this.#run = rest.then(this.#ran, this.#failed);
  };

  readonly #ran = (): void => {
    this.#running = false;
    this.#run = undefined;
    this.#armPoll();
  };

  readonly #failed = (error: unknown): void => {
    this.#running = false;
    this.#run = undefined;
    this.host.report(error);
  };

  readonly #continue = (): Promise<void> => this.#runAsync();

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#pollTimer);
    for (const sub of this.subscriptions) {
      sub.cancelled = true;
      this.#abandonReadAhead(sub);
    }
    this.subscriptions.clear();
  }

  /**
   * The drain loop for stores that claim and deliver synchronously (in memory), without an async frame:
   * undefined once it is done; a promise when it has to wait (an expired head being dead-lettered, a turn
   * yielded to the event loop), the run then going on in {@link Dispatcher.#runAsync}.
   */
  #runNow(): Promise<void> | undefined {
    do {
      this.#again = false;
      let progress = true;
      let delivered = 0;
      while (progress && !this.#stopped) {
        progress = false;
        for (const sub of this.subscriptions) {
          if (!this.#hasRoom(sub)) continue;
          const one = this.#deliverOne(sub);
          if (one instanceof Promise) return one.then(this.#continue);
          if (one) {
            progress = true;
            delivered++;
          }
        }
        if (delivered >= DELIVERIES_PER_TURN) return nextTurn().then(this.#continue);
      }
    } while (this.#again && !this.#stopped);
    return undefined;
  }

  /** Whether `sub` may take another delivery now: live, and its prefetch window not full. */
  #hasRoom(sub: Subscription): boolean {
    if (sub.cancelled) return false;
    const { prefetch, noAck } = sub.request;
    return noAck || prefetch <= 0 || sub.inflight < prefetch;
  }

  /** The drain loop: each round gives every subscription with room at most one message (or one batch). */
  async #runAsync(): Promise<void> {
    do {
      this.#again = false;
      let progress = true;
      let delivered = 0;
      while (progress && !this.#stopped) {
        progress = false;
        for (const sub of this.subscriptions) {
          if (!this.#hasRoom(sub)) continue;
          const claimMany = this.host.claimMany;
          let count: number;
          if (claimMany) count = await this.#deliverBatch(sub, this.#batchRoom(sub), claimMany);
          else {
            // Only real promises are awaited: no microtask hop per synchronous delivery or empty look.
            const one = this.#deliverOne(sub);
            count = (one instanceof Promise ? await one : one) ? 1 : 0;
          }
          if (count > 0) {
            progress = true;
            delivered += count;
          }
        }
        if (delivered >= DELIVERIES_PER_TURN) {
          delivered = 0;
          await nextTurn();
        }
      }
    } while (this.#again && !this.#stopped);
  }

  /** The smallest claim worth a round trip while `sub` still has messages in hand: a quarter window. */
  #worthwhileBatch(sub: Subscription): number {
    const { prefetch, noAck } = sub.request;
    if (noAck || prefetch === 0) return 1;
    return Math.min(Math.ceil(prefetch / 4), MAX_BATCH);
  }

  /** How many messages one claim may take for `sub`. */
  #batchRoom(sub: Subscription): number {
    const { prefetch, noAck } = sub.request;
    // At most half the window per claim: while one batch is being handled the next is on its way,
    // so a store behind a network round trip works while the consumer does.
    if (noAck || prefetch === 0) return MAX_BATCH;
    const ahead = sub.readAhead?.size ?? 0;
    return Math.min(prefetch - sub.inflight - ahead, Math.ceil(prefetch / 2), MAX_BATCH);
  }

  async #deliverBatch(
    sub: Subscription,
    room: number,
    claimMany: (queue: string, max: number) => Promise<Claimed[]>,
  ): Promise<number> {
    const ahead = sub.readAhead;
    if (ahead) {
      sub.readAhead = undefined;
      const claimed = await ahead.claims;
      if (claimed.length > 0) return this.#handOver(sub, ahead.index, claimed, ahead.size, claimMany);
    }
    // Each claim is a round trip: wait for a worthwhile batch while messages are still being handled
    // (their settles reschedule the dispatcher); claim whatever fits once none are.
    if (room < 1 || (room < this.#worthwhileBatch(sub) && sub.inflight > 0)) return 0;
    const { queues, order } = sub.request;
    const n = queues.length;
    const start = order === 'priority' ? 0 : sub.cursor % n;
    for (let k = 0; k < n; k++) {
      const index = (start + k) % n;
      const claimed = await claimMany(queues[index] as string, room);
      if (claimed.length > 0) return this.#handOver(sub, index, claimed, room, claimMany);
    }
    return 0;
  }

  /**
   * Delivers a claimed batch. A full batch says the queue has more: the next claim is sent first, so
   * it travels and runs in the store while this batch is handled (the window still bounds both).
   */
  async #handOver(
    sub: Subscription,
    index: number,
    claimed: Claimed[],
    requested: number,
    claimMany: (queue: string, max: number) => Promise<Claimed[]>,
  ): Promise<number> {
    if (sub.cancelled) {
      for (const c of claimed) await this.host.deliver(sub, -1, c);
      return 0;
    }
    sub.cursor = index + 1;
    if (claimed.length === requested && !this.#stopped) {
      const { prefetch, noAck, queues } = sub.request;
      const left = noAck || prefetch === 0 ? MAX_BATCH : prefetch - sub.inflight - claimed.length;
      const next = Math.min(left, this.#batchRoom(sub));
      if (next > 0) {
        const claims = claimMany(queues[index] as string, next).catch((error: unknown) => {
          this.host.report(error);
          return [];
        });
        sub.readAhead = { index, size: next, claims };
      }
    }
    for (const c of claimed) {
      const delivered = this.host.deliver(sub, index, c);
      if (delivered instanceof Promise) await delivered;
    }
    return claimed.length;
  }

  /** Delivers the next message for `sub`; synchronous while the host's claim and delivery are. */
  #deliverOne(sub: Subscription): boolean | Promise<boolean> {
    const { queues, order } = sub.request;
    const n = queues.length;
    const start = order === 'priority' ? 0 : sub.cursor % n;
    for (let k = 0; k < n; k++) {
      const index = (start + k) % n;
      const pending = this.host.claim(queues[index] as string);
      if (pending instanceof Promise) return this.#deliverClaimed(sub, index, pending, start, k + 1);
      if (pending === undefined) continue;
      return this.#handOne(sub, index, pending);
    }
    return false;
  }

  /** {@link Dispatcher.#deliverOne} once a claim turned out asynchronous: waits for it, then goes on from the `k`th queue. */
  async #deliverClaimed(
    sub: Subscription,
    index: number,
    pending: Promise<Claimed | undefined>,
    start: number,
    k: number,
  ): Promise<boolean> {
    const claimed = await pending;
    if (claimed !== undefined) {
      const handed = this.#handOne(sub, index, claimed);
      return handed instanceof Promise ? await handed : handed;
    }
    const { queues } = sub.request;
    const n = queues.length;
    for (; k < n; k++) {
      const i = (start + k) % n;
      const next = await this.host.claim(queues[i] as string);
      if (next === undefined) continue;
      const handed = this.#handOne(sub, i, next);
      return handed instanceof Promise ? await handed : handed;
    }
    return false;
  }

  #handOne(sub: Subscription, index: number, claimed: Claimed): boolean | Promise<boolean> {
    if (sub.cancelled) {
      // Cancelled while we were claiming: the host hands it back untouched (index -1).
      const released = this.host.deliver(sub, -1, claimed);
      return released instanceof Promise ? released.then(() => false) : false;
    }
    sub.cursor = index + 1;
    const delivered = this.host.deliver(sub, index, claimed);
    return delivered instanceof Promise ? delivered.then(() => true) : true;
  }

  #armPoll(): void {
    if (this.pollIntervalMs <= 0 || this.#stopped || this.subscriptions.size === 0) return;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = setTimeout(() => {
      this.host.poll?.();
      this.schedule();
    }, this.pollIntervalMs);
  }
}
