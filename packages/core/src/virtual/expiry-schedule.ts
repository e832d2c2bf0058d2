/**
 * Timers for TTL expiry in virtual stores. Stores keep no timers, so something in the process has to
 * look at a queue's head when its first message expires. One schedule is shared by every transport of
 * a store, so that expiry, and the dead-lettering it triggers, does not depend on the connection that
 * published staying open.
 *
 * @module
 */
import type { VirtualStore } from './store.js';

/** Sweeps the head of a queue: dead-letters what expired and re-arms for the next head. */
export type Sweeper = (queue: string) => Promise<void>;

// Keyed on the topology store: it is the one object every client of a broker shares in this process
// (store objects may be per-connection wrappers).
const schedules = new WeakMap<VirtualStore['topology'], ExpirySchedule>();
const named = new Map<string, ExpirySchedule>();

/**
 * When to look at which queue for expired messages, shared by every transport of one store in this
 * process. RabbitMQ dead-letters an expired message whoever published it and whether or not anyone
 * consumes; so the timers must outlive the connection that published: any live transport of the
 * store runs the sweep, and a sweep that finds no live transport waits for the next one to connect.
 */
export class ExpirySchedule {
  readonly #due = new Map<string, { at: number; timer: NodeJS.Timeout | undefined }>();
  readonly #sweepers = new Set<Sweeper>();

  /** The schedule of `store` (created on first use). */
  static of(store: VirtualStore): ExpirySchedule {
    if (store.identity !== undefined) {
      const key = `${store.kind}:${store.identity}`;
      const schedule = named.get(key) ?? new ExpirySchedule();
      named.set(key, schedule);
      return schedule;
    }
    const schedule = schedules.get(store.topology) ?? new ExpirySchedule();
    schedules.set(store.topology, schedule);
    return schedule;
  }

  /** A transport offers to sweep; overdue queues are swept at once. Returns the leave function. */
  join(sweeper: Sweeper): () => void {
    this.#sweepers.add(sweeper);
    for (const [queue, entry] of this.#due) if (entry.timer === undefined) this.#start(queue, entry.at);
    return () => {
      this.#sweepers.delete(sweeper);
    };
  }

  /** Makes sure `queue` is swept at `at` (epoch ms) or earlier. */
  arm(queue: string, at: number): void {
    const current = this.#due.get(queue);
    if (current && current.at <= at && current.timer !== undefined) return;
    if (current?.timer) clearTimeout(current.timer);
    this.#start(queue, Math.min(at, current?.at ?? at));
  }

  #start(queue: string, at: number): void {
    const timer = setTimeout(() => this.#fire(queue), Math.max(0, at - Date.now()) + 1);
    // Expiry must not keep alive a process that has nothing else to do.
    timer.unref();
    this.#due.set(queue, { at, timer });
  }

  #fire(queue: string): void {
    const entry = this.#due.get(queue);
    const sweeper = this.#sweepers.values().next().value as Sweeper | undefined;
    if (!sweeper) {
      if (entry) entry.timer = undefined;
      return;
    }
    this.#due.delete(queue);
    void sweeper(queue);
  }
}
