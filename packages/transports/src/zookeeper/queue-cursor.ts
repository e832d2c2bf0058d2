/**
 * A process's view of one queue's entries: the sorted names not tried yet, refreshed only when a
 * watch said the queue changed. Watches replace polling:
 *
 * - a child watch on the queue znode fires when an entry is added (or removed): the names are stale;
 * - an `exists` watch on another consumer's claim node fires when that claim ends (ack, requeue, its
 *   session's death): the entry may be free again.
 *
 * Either one marks the cursor stale and calls `changed`, which wakes the queue's consumers. ZooKeeper
 * watches fire once, so each is registered again only when the names are next read.
 *
 * @module
 */
import type { ZkLayout } from './layout.js';
import { isZkCode, ZK, type ZkSession } from './session.js';

/** How many batches ahead a consumer in step with others may start (see `#start`). */
const SPREAD_BATCHES = 8;

export class QueueCursor {
  /** Entry names not tried since the last read, in delivery order. */
  #names: string[] = [];
  #stale = true;
  /** The child watch is registered and has not fired. */
  #watching = false;
  /** Entries seen claimed by another consumer, each with a watch on its claim node. */
  readonly #taken = new Set<string>();
  /** Entries this process is claiming or holds: never tried again while so. */
  readonly mine = new Set<string>();
  #reading: Promise<void> | undefined;
  /** An entry came back to the head (a requeue, a claim that ended): the names in hand are no longer first. */
  #headChanged = false;
  /** Several names of the last batch were taken by others: consumers are reading the list in step. */
  #inStep = false;

  constructor(
    private readonly session: ZkSession,
    private readonly layout: ZkLayout,
    readonly queue: string,
    private readonly changed: () => void,
  ) {}

  /**
   * Up to `max` names to try next, in order, taken off the list and added to {@link QueueCursor.mine}
   * (so concurrent callers try others); the caller removes those it did not get. `wantFresh`: the
   * names in hand just failed (others took them), so wait for a pending read instead of trying more.
   */
  async next(max: number, wantFresh = false): Promise<string[]> {
    // While the watches are quiet nothing new arrived: the list in hand is all there is to try. Once
    // they spoke, the list is read again; names still in hand are tried meanwhile rather than wait a
    // round trip (a message that overtakes them by priority is seen one read later).
    if (this.#stale && (this.#names.length === 0 || wantFresh || this.#headChanged)) {
      // A read already on its way may have been sent before the change: then one more.
      await this.#read();
      if (this.#stale) await this.#read();
    } else if (this.#stale) {
      this.#read().catch(() => undefined);
    }
    const names = this.#names.splice(this.#start(max), max);
    for (const n of names) this.mine.add(n);
    return names;
  }

  /** Several names of the batch just tried were taken by other consumers. */
  inStep(): void {
    this.#inStep = true;
  }

  /**
   * Where to take the next names from: the head, unless consumers are in step (they all read the same
   * list, and would keep trying the same names together while one of them wins every time). Then a
   * random place among the next few batches *of the head's priority*: priority order holds, and FIFO
   * within a priority loosens only between competing consumers, which never had it strictly.
   */
  #start(max: number): number {
    if (!this.#inStep) return 0;
    this.#inStep = false;
    const head = this.#names[0];
    if (head === undefined) return 0;
    const prefix = head.slice(0, head.lastIndexOf('-') + 1);
    const window = Math.min(this.#names.length, max * SPREAD_BATCHES);
    let same = 0;
    while (same < window && (this.#names[same] as string).startsWith(prefix)) same++;
    return same <= max ? 0 : Math.floor(Math.random() * (same - max + 1));
  }

  /** Another consumer holds `entry`: skip it until its claim node (`claimPath`) goes. */
  async skipTaken(entry: string, claimPath: string): Promise<void> {
    if (this.#taken.has(entry)) return;
    this.#taken.add(entry);
    const freed = (): void => {
      if (!this.#taken.delete(entry)) return;
      this.#stale = true;
      this.#headChanged = true;
      this.changed();
    };
    try {
      const stat = await this.session.exists(claimPath, freed);
      // Released between our attempt and the watch: free now (the watch waits for a creation, harmless).
      if (!stat) freed();
    } catch {
      freed();
    }
  }

  /** Forget everything (the session expired: its watches are gone); the next claim reads afresh. */
  reset(): void {
    this.#names = [];
    this.#taken.clear();
    this.mine.clear();
    this.#watching = false;
    this.#stale = true;
  }

  /** Something of ours changed the queue (a requeue): read the names again on the next claim. */
  invalidate(): void {
    this.#stale = true;
    this.#headChanged = true;
  }

  #read(): Promise<void> {
    this.#reading ??= this.#readNames().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #readNames(): Promise<void> {
    this.#stale = false;
    this.#headChanged = false;
    const watcher = this.#watching
      ? undefined
      : (): void => {
          this.#watching = false;
          this.#stale = true;
          this.changed();
        };
    this.#watching = true;
    let children: string[];
    try {
      children = await this.session.getChildren(this.layout.queue(this.queue), watcher);
    } catch (error) {
      this.#watching = false;
      this.#names = [];
      // A missing queue has nothing to deliver; read again next time (it may be declared meanwhile).
      this.#stale = true;
      if (isZkCode(error, ZK.NO_NODE)) return;
      throw error;
    }
    const entries = children.filter(
      (c) => this.layout.priorityOf(c) !== undefined && !this.#taken.has(c) && !this.mine.has(c),
    );
    // Names sort as delivery order: the priority part first (inverted), then ZooKeeper's sequence.
    this.#names = entries.sort();
  }
}
