/**
 * The ZooKeeper store: queues of sequential znodes (see `layout.ts`), claims as in `claims.ts`,
 * wake-ups from watches (`queue-cursor.ts`), topology and stack records in znodes of their own.
 *
 * @module
 */
import type {
  Claimed,
  QueueSpec,
  StackStateStore,
  StoredMessage,
  StoreFeatures,
  StoreOutcome,
  TopologyStore,
  TransportStatus,
  VirtualStore,
} from '@wakame/core/spi';
import { PayloadTooLargeError } from '@wakame/core/spi';
import { BlobChunks } from './blobs.js';
import { EntryClaims, type EntryReceipt } from './claims.js';
import { encodeEntry } from './entry-codec.js';
import { deliveredMarker, type ZkLayout, type ZkLayoutName, zkLayout } from './layout.js';
import { QueueCursor } from './queue-cursor.js';
import { refileEntries } from './refile.js';
import { CreateMode, isZkCode, ZK, ZkSession, type ZkSessionOptions } from './session.js';
import { ZkStacks } from './zk-stacks.js';
import { ZkTopology } from './zk-topology.js';

/** Options of {@link ZooKeeperStore}. */
export interface ZooKeeperStoreOptions {
  readonly session: ZkSessionOptions;
  readonly layout: ZkLayoutName;
  /** The root znode (`/` or `/a/b`), from the URL's path. */
  readonly root: string;
  /** Largest entry (message data) written; ZooKeeper's own limit (`jute.maxbuffer`) is about 1 MiB. */
  readonly maxNodeBytes: number;
  /** Names the ensemble and root, for sharing per-broker machinery between store instances. */
  readonly identity: string;
  /** Failures with no caller (re-registering after a session expiry). */
  readonly onError?: (error: unknown) => void;
}

/** The default bound on an entry's data: under ZooKeeper's default `jute.maxbuffer` with room for the request. */
export const DEFAULT_MAX_NODE_BYTES = 1_000_000;

const FEATURES: StoreFeatures = Object.freeze({ priority: true, persistence: true, crossProcess: true });

export class ZooKeeperStore implements VirtualStore {
  readonly kind = 'zookeeper';
  readonly features = FEATURES;
  readonly identity: string;
  readonly topology: TopologyStore;
  readonly #topology: ZkTopology;
  readonly stacks: StackStateStore;
  readonly #session: ZkSession;
  readonly #layout: ZkLayout;
  readonly #claims: EntryClaims;
  readonly #blobs: BlobChunks;
  readonly #cursors = new Map<string, QueueCursor>();
  readonly #listeners = new Set<(queue: string) => void>();
  /** Consumer registrations (path → live), registered again in a new session. */
  readonly #consumers = new Set<string>();
  /** Moves when the session expires: claims of an earlier generation are gone. */
  #generation = 0;
  /** Claims not settled yet, which close() returns. */
  readonly #held = new Set<EntryReceipt>();
  /** Settles under way, which close() waits for. */
  readonly #settling = new Set<Promise<void>>();
  /** getMany calls under way, which close() waits for. */
  readonly #claiming = new Set<Promise<Claimed[]>>();
  #closing = false;

  /** @param session - The session to use (tests pass one they can expire); by default one of `options.session`. */
  constructor(
    private readonly options: ZooKeeperStoreOptions,
    session = new ZkSession(options.session),
  ) {
    this.identity = options.identity;
    this.#session = session;
    this.#layout = zkLayout(options.layout, options.root);
    this.#blobs = new BlobChunks(this.#session, this.#layout, options.maxNodeBytes);
    this.#claims = new EntryClaims(this.#session, this.#layout, this.#blobs, (error) => this.options.onError?.(error));
    this.#topology = new ZkTopology(this.#session, this.#layout.topology);
    this.topology = this.#topology;
    this.stacks = new ZkStacks(this.#session, this.#layout.stacks, this.#layout.stackLocks);
  }

  async open(signal?: AbortSignal): Promise<void> {
    await this.#session.open(signal);
    await this.#session.mkdirp(this.#layout.meta);
    await this.#topology.open();
    this.#session.onExpiry(() => this.#expired());
  }

  /**
   * Returns what this store still holds before the session ends: claims still on their way when the
   * connection closed are released, not left to the session's end (in kombu's layout a claim deleted the
   * entry, so nothing else would bring it back; in Wakame's, a release also spares it the `redelivered` flag).
   */
  async close(): Promise<void> {
    this.#closing = true;
    while (this.#claiming.size > 0) await Promise.allSettled([...this.#claiming]);
    await Promise.allSettled([...this.#held].map((r) => this.settle(r, 'release')));
    // Settles under way (a requeue, a release) are answered first: once close() resolves, the broker has them.
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
    // Ending the session deletes its ephemeral nodes: any claim still there is free for others at once.
    await this.#session.close();
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    return this.#session.onStatus(listener);
  }

  async createQueue(name: string): Promise<void> {
    await this.#session.mkdirp(this.#layout.queue(name));
    if (this.#layout.name === 'wakame') await this.#session.mkdirp(this.#layout.claims(name));
  }

  async deleteQueue(name: string): Promise<number> {
    const path = this.#layout.queue(name);
    const entries = await this.#entries(name);
    const removed = await Promise.all(entries.map((e) => this.#removeEntry(`${path}/${e}`)));
    await this.#session.removeIfThere(path);
    if (this.#layout.name === 'wakame') {
      await this.#removeTree(this.#layout.claims(name));
      await this.#removeTree(this.#layout.blobs(name));
    }
    this.#cursors.get(name)?.reset();
    this.#notify(name);
    return removed.filter(Boolean).length;
  }

  async put(queue: string, message: StoredMessage): Promise<void> {
    let data = encodeEntry(this.#layout.name, message);
    const limit = this.options.maxNodeBytes;
    // kombu reads one znode per message: there a larger one cannot be written at all.
    if (data.length > limit && this.#layout.name === 'kombu') {
      throw new PayloadTooLargeError(data.length, limit, 'kombu-layout ZooKeeper entry (message in its envelope)');
    }
    const blob = data.length > limit ? await this.#blobs.write(queue, message.body) : undefined;
    if (blob) data = encodeEntry('wakame', message, blob);
    if (data.length > limit) throw new PayloadTooLargeError(data.length, limit, 'ZooKeeper entry header');
    // kombu orders every queue by each message's own priority (its virtual channel knows no queue maximum):
    // in its layout the name says that one, so kombu's consumers see the order kombu's producers would give.
    const priority = this.#layout.name === 'kombu' ? (message.properties.priority ?? 0) : message.priority;
    const prefix = `${this.#layout.queue(queue)}/${this.#layout.entryPrefix(priority)}`;
    try {
      await this.#session.create(prefix, data, CreateMode.PERSISTENT_SEQUENTIAL);
    } catch (error) {
      if (blob) await this.#blobs.remove(queue, blob).catch(() => undefined);
      // The queue was deleted meanwhile: the message goes nowhere, as on RabbitMQ.
      if (isZkCode(error, ZK.NO_NODE)) return;
      throw error;
    }
  }

  async get(queue: string): Promise<Claimed | undefined> {
    return (await this.getMany(queue, 1))[0];
  }

  /** Claims up to `max` entries, trying as many at once as are wanted (one round trip per batch). */
  getMany(queue: string, max: number): Promise<Claimed[]> {
    if (this.#closing) return Promise.resolve([]);
    const claiming = this.#getMany(queue, max);
    this.#claiming.add(claiming);
    return claiming.finally(() => this.#claiming.delete(claiming));
  }

  async #getMany(queue: string, max: number): Promise<Claimed[]> {
    const cursor = this.#cursor(queue);
    const generation = this.#generation;
    const out: Claimed[] = [];
    let missed = false;
    while (out.length < max) {
      const names = await cursor.next(max - out.length, missed);
      if (names.length === 0) break;
      const results = await Promise.all(names.map((n) => this.#claims.claim(queue, n, generation)));
      missed = results.every((r) => r.kind !== 'claimed');
      if (results.filter((r) => r.kind === 'taken').length >= 2) cursor.inStep();
      results.forEach((result, i) => {
        const name = names[i] as string;
        if (result.kind === 'claimed') {
          this.#held.add(result.receipt);
          out.push({ message: result.message, receipt: result.receipt });
          return;
        }
        cursor.mine.delete(name);
        if (result.kind === 'taken' && result.claimPath) void cursor.skipTaken(name, result.claimPath);
      });
    }
    return out;
  }

  async settle(receipt: unknown, outcome: StoreOutcome): Promise<void> {
    const r = receipt as EntryReceipt;
    if (r.settled) return;
    r.settled = true;
    this.#held.delete(r);
    const cursor = this.#cursors.get(r.queue);
    const settling = this.#claims.settle(r, outcome, this.#generation);
    this.#settling.add(settling);
    try {
      await settling;
    } finally {
      this.#settling.delete(settling);
      // Only now: a read of the names while the ack was on its way must not offer the entry again.
      cursor?.mine.delete(r.entry);
    }
    if (outcome !== 'ack') {
      // Back at its place in the queue: our own consumers may take it again.
      cursor?.invalidate();
      this.#notify(r.queue);
    }
  }

  /** Replaces the queue's record, then re-files its ready entries under it (see `refile.ts`). */
  async reconfigureQueue(_from: QueueSpec, to: QueueSpec): Promise<void> {
    await this.#topology.putQueue(to);
    await refileEntries(this.#session, this.#layout, to);
    this.#cursors.get(to.name)?.invalidate();
    this.#notify(to.name);
  }

  async purge(queue: string): Promise<number> {
    const entries = await this.#entries(queue);
    const cursor = this.#cursor(queue);
    const generation = this.#generation;
    const purged = await Promise.all(
      entries
        .filter((e) => !cursor.mine.has(e))
        .map(async (e) => {
          // Read (the header says where a large body's chunks are, which go with the entry).
          const result = await this.#claims.claim(queue, e, generation);
          if (result.kind !== 'claimed') return false;
          await this.#claims.settle(result.receipt, 'ack', generation);
          return true;
        }),
    );
    cursor.invalidate();
    return purged.filter(Boolean).length;
  }

  async size(queue: string): Promise<number> {
    const [entries, claims] = await Promise.all([
      this.#session.exists(this.#layout.queue(queue)),
      this.#layout.name === 'wakame' ? this.#session.exists(this.#layout.claims(queue)) : undefined,
    ]);
    return Math.max(0, (entries?.numChildren ?? 0) - (claims?.numChildren ?? 0));
  }

  watch(listener: (queue: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  addConsumer(queue: string, tag: string): () => void {
    const path = `${this.#layout.consumers(queue)}/${encodeURIComponent(tag).replace(/\./g, '%2E')}`;
    this.#consumers.add(path);
    this.#register(path);
    return () => {
      if (!this.#consumers.delete(path)) return;
      this.#session.removeIfThere(path).catch((error: unknown) => this.options.onError?.(error));
    };
  }

  async consumerCount(queue: string): Promise<number> {
    return (await this.#session.exists(this.#layout.consumers(queue)))?.numChildren ?? 0;
  }

  #register(path: string): void {
    const parent = path.slice(0, path.lastIndexOf('/'));
    this.#session
      .mkdirp(parent)
      .then(() => this.#session.create(path, undefined, CreateMode.EPHEMERAL))
      .catch((error: unknown) => {
        if (!isZkCode(error, ZK.NODE_EXISTS)) this.options.onError?.(error);
      });
  }

  /** A new session replaced an expired one: its claims, watches and consumer nodes are gone. */
  #expired(): void {
    this.#generation++;
    for (const cursor of this.#cursors.values()) cursor.reset();
    for (const path of this.#consumers) this.#register(path);
    this.#topology.open().catch((error: unknown) => this.options.onError?.(error));
    for (const queue of this.#cursors.keys()) this.#notify(queue);
  }

  #cursor(queue: string): QueueCursor {
    let cursor = this.#cursors.get(queue);
    if (!cursor) {
      cursor = new QueueCursor(this.#session, this.#layout, queue, () => this.#notify(queue));
      this.#cursors.set(queue, cursor);
    }
    return cursor;
  }

  async #entries(queue: string): Promise<string[]> {
    try {
      const children = await this.#session.getChildren(this.#layout.queue(queue));
      return children.filter((c) => this.#layout.priorityOf(c) !== undefined);
    } catch (error) {
      if (isZkCode(error, ZK.NO_NODE)) return [];
      throw error;
    }
  }

  /** Removes an entry (with its `delivered` marker in the Wakame layout); false when it was gone. */
  async #removeEntry(path: string): Promise<boolean> {
    if (this.#layout.name === 'wakame') await this.#session.removeIfThere(deliveredMarker(path));
    return this.#session.removeIfThere(path);
  }

  /** Removes `path` and everything under it (claims of other sessions too: any session may delete them). */
  async #removeTree(path: string): Promise<void> {
    const children = await this.#session.getChildren(path).catch((error: unknown) => {
      if (isZkCode(error, ZK.NO_NODE)) return [];
      throw error;
    });
    await Promise.all(children.map((c) => this.#removeTree(`${path}/${c}`)));
    await this.#session.removeIfThere(path);
  }

  #notify(queue: string): void {
    for (const listener of this.#listeners) listener(queue);
  }
}
