/**
 * Who must look at which queue, and when: the store's change listeners (the transport's dispatcher),
 * the queues consumed in this process (whose keys the {@link KeyWatcher} watches), and the reaction
 * to Redis's key-change notifications: a queue's list changed → its consumers look; a topology key
 * changed (Wakame's revision, a kombu binding set) → the topology revision moves and every consumer
 * looks again (it may have lost its queue).
 */
import type { StoreKeys } from './keys.js';
import type { Epoch, RedisTopology } from './redis-topology.js';

/** What tells the store about other clients' writes: key-change tracking, or the cluster layout's signals. */
export interface ChangeFeed {
  /** Whether it works; when false the store polls. */
  readonly supported: boolean;
  /** Starts, or restarts after a reconnect. */
  start(): Promise<void>;
  /** Follows a key prefix or channel (from {@link StoreKeys.watched}). */
  add(watched: string): Promise<void>;
  delete(watched: string): Promise<void>;
  /** Tells other processes that this one wrote to `queue`'s lists (a no-op where Redis tells them itself). */
  queueWritten(queue: string): void;
  /** Tells other processes that this one changed the topology. */
  topologyWritten(): void;
}

export class Wakeups {
  readonly #listeners = new Set<(queue: string) => void>();
  /** Consumers per queue in this process; their queues' keys are watched. */
  readonly #consumed = new Map<string, number>();
  #lastPolledRevision: string | null = null;

  constructor(
    private readonly keys: StoreKeys,
    private readonly topology: RedisTopology,
    private readonly epoch: Epoch,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The watcher is created after this object (it reports to {@link changed}). */
  watcher: ChangeFeed | undefined;

  listen(listener: (queue: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A consumer of `queue` started here: watch its keys until the returned function is called. */
  consume(queue: string): () => void {
    const count = this.#consumed.get(queue) ?? 0;
    this.#consumed.set(queue, count + 1);
    if (count === 0) this.watcher?.add(this.keys.watched(queue)).catch(this.onError);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#consumed.get(queue) ?? 1) - 1;
      if (left > 0) {
        this.#consumed.set(queue, left);
        return;
      }
      this.#consumed.delete(queue);
      this.watcher?.delete(this.keys.watched(queue)).catch(this.onError);
    };
  }

  /** Queues consumed in this process, with how many consumers each. */
  consumers(): Iterable<[string, number]> {
    return this.#consumed.entries();
  }

  /** This process wrote to `queue`: its consumers here look, and other processes are told where Redis does not. */
  notify(queue: string): void {
    this.#local(queue);
    this.watcher?.queueWritten(queue);
  }

  #local(queue: string): void {
    for (const listener of this.#listeners) listener(queue);
  }

  /** Every consumed queue may have new messages (after a reconnect, a flush, as a safety net). */
  all(): void {
    for (const queue of this.#consumed.keys()) this.#local(queue);
  }

  /** Redis reported `keys` changed by another client; `undefined` means a FLUSHDB/FLUSHALL. */
  changed(keys: readonly string[] | undefined): void {
    if (keys === undefined) {
      this.topology.forgetBindingSets();
      this.epoch.value++;
      this.all();
      return;
    }
    let topologyChanged = false;
    for (const key of keys) {
      if (key === this.keys.revision || (this.keys.kombu && key.startsWith(this.keys.bindingPrefix))) {
        if (key !== this.keys.revision) this.topology.noteBindingSet(key);
        topologyChanged = true;
        continue;
      }
      const queue = this.keys.queueOf(key);
      if (queue !== undefined && this.#consumed.has(queue)) this.#local(queue);
    }
    if (topologyChanged) {
      this.epoch.value++;
      // Redis groups notifications by prefix, not by time: a deleted queue's lists may be reported
      // before the topology change, so consumers look again now that the topology moved.
      this.all();
    }
  }

  /** Without key tracking: the revision is polled, and every consumer looks on each poll. */
  polled(revision: string | null): void {
    if (revision !== this.#lastPolledRevision) {
      this.#lastPolledRevision = revision;
      this.epoch.value++;
    }
    this.all();
  }
}
