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
}

/** What the dispatcher needs from its transport. */
export interface DispatchHost {
  /** Claims the next live message of `queue` (expired ones are dead-lettered on the way). */
  claim(queue: string): Claimed | undefined | Promise<Claimed | undefined>;
  /** Hands a claimed message to the subscription. */
  deliver(sub: Subscription, queueIndex: number, claimed: Claimed): void | Promise<void>;
  /** Reports an error that has no caller to go to. */
  report(error: unknown): void;
  /** Called on each poll tick (stores without change notifications), before draining. */
  poll?(): void;
}

/** Deliveries in one drain run before it yields to the event loop, so a deep queue never starves I/O and timers. */
const DELIVERIES_PER_TURN = 256;

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
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#run().catch((error: unknown) => this.host.report(error));
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#pollTimer);
    for (const sub of this.subscriptions) sub.cancelled = true;
    this.subscriptions.clear();
  }

  async #run(): Promise<void> {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    try {
      do {
        this.#again = false;
        let progress = true;
        let delivered = 0;
        while (progress && !this.#stopped) {
          progress = false;
          for (const sub of this.subscriptions) {
            if (sub.cancelled) continue;
            const { prefetch, noAck } = sub.request;
            if (!noAck && prefetch > 0 && sub.inflight >= prefetch) continue;
            if (await this.#deliverOne(sub)) {
              progress = true;
              delivered++;
            }
          }
          if (delivered >= DELIVERIES_PER_TURN) {
            delivered = 0;
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        }
      } while (this.#again && !this.#stopped);
    } finally {
      this.#running = false;
    }
    this.#armPoll();
  }

  async #deliverOne(sub: Subscription): Promise<boolean> {
    const { queues, order } = sub.request;
    const n = queues.length;
    const start = order === 'priority' ? 0 : sub.cursor % n;
    for (let k = 0; k < n; k++) {
      const index = (start + k) % n;
      // Awaiting only real promises keeps in-memory stores free of a microtask hop per message.
      const pending = this.host.claim(queues[index] as string);
      const claimed = pending instanceof Promise ? await pending : pending;
      if (claimed === undefined) continue;
      if (sub.cancelled) {
        // Cancelled while we were claiming: the host hands it back untouched (index -1).
        await this.host.deliver(sub, -1, claimed);
        return false;
      }
      sub.cursor = index + 1;
      const delivered = this.host.deliver(sub, index, claimed);
      if (delivered instanceof Promise) await delivered;
      return true;
    }
    return false;
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
