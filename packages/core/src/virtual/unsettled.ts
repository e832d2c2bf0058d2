/**
 * The virtual transport's settle tokens and the list of its unsettled deliveries. The list is
 * intrusive (each handle links to its neighbours), so a delivery joins and leaves it without the
 * hashing a `Set` does: both happen once per message on the in-memory hot path.
 *
 * @module
 */
import type { Subscription } from './dispatcher.js';
import type { Claimed } from './store.js';

/** The transport's settle token for one delivery. */
export class Handle {
  settled: boolean;
  /** Neighbours in the {@link UnsettledList}, while the delivery is in it. */
  prev: Handle | undefined = undefined;
  next: Handle | undefined = undefined;

  constructor(
    readonly owner: object,
    readonly sub: Subscription | undefined,
    readonly queue: string,
    readonly claimed: Claimed,
    settled: boolean,
  ) {
    this.settled = settled;
  }
}

/** Deliveries not settled yet, in delivery order. */
export class UnsettledList {
  /** The latest delivery; the list is walked from here, backwards (see drainLatestFirst). */
  #tail: Handle | undefined;

  add(h: Handle): void {
    h.prev = this.#tail;
    h.next = undefined;
    if (this.#tail) this.#tail.next = h;
    this.#tail = h;
  }

  /** Removes `h`, which must be in this list. */
  delete(h: Handle): void {
    if (h.prev) h.prev.next = h.next;
    if (h.next) h.next.prev = h.prev;
    else this.#tail = h.prev;
    h.prev = undefined;
    h.next = undefined;
  }

  /** Empties the list, returning its deliveries latest first. */
  drainLatestFirst(): Handle[] {
    const out: Handle[] = [];
    for (let h = this.#tail; h !== undefined; h = h.prev) out.push(h);
    for (const h of out) {
      h.prev = undefined;
      h.next = undefined;
    }
    this.#tail = undefined;
    return out;
  }
}
