/**
 * A {@link VirtualStore} in a directory, shared by every process that opens it.
 *
 * Layout (format 2, `format.ts`): `queues/<queue>/batches/<bucket>/<batch file>` holds ready
 * messages, many to a file: the puts of one event-loop turn to one queue and priority are one file
 * (`batch-writer.ts`), so a publish costs a share of one write, one rename and, with fsync, two
 * fsyncs. Buckets are per priority and second, and names sort by priority, then time, writer and
 * index, so listings are delivery order and none grows with the depth of the queue: a claim lists one
 * bucket, and the store holds the names of one bucket, never the queue. Consumers claim a file by
 * renaming it into `claims/` (atomic: one process wins), keep what their prefetch window asks for
 * and write the rest back (`claims.ts`).
 *
 * Crashes: each process records a lease (`owners/<owner>.json`: pid and expiry) and renews it; a
 * claim goes back to its queue only when its owner's lease expired and the pid is gone, less the
 * records its ack log says were acked. Unreadable files are moved to `corrupt/` and reported, never
 * delivered or fatal.
 */
import { randomBytes } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  Claimed,
  ClaimOptions,
  QueueSpec,
  StackStateStore,
  StoredMessage,
  StoreFeatures,
  StoreOutcome,
  VirtualStore,
} from '@wakame/core/spi';
import { type BatchRecord, parseBatchName, priorityOfKey } from './batch-file.js';
import { BatchWriter } from './batch-writer.js';
import { type ClaimedFile, Claims, type Receipt } from './claims.js';
import { ensureFormat } from './format.js';
import { isAlive } from './process-files.js';
import { refileQueue } from './refile.js';
import { FileStacks } from './stacks.js';
import { TopologyFile } from './topology-file.js';

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /** fsync each batch file and its directory before its publishes resolve. @defaultValue false */
  readonly fsync?: boolean;
  /** How long a crashed process's claims are held before they are restored (ms). @defaultValue 30_000 */
  readonly leaseMs?: number;
  /** Where problems with no caller go (corrupt files). */
  readonly onError?: (error: unknown) => void;
}

/** A queue's listing in use: its buckets, and the names of the bucket being claimed from. */
interface Listing {
  readonly buckets: string[];
  nextBucket: number;
  bucket: string;
  names: string[];
  next: number;
  readonly at: number;
}

/** How long a listing is trusted for messages other processes add. */
const LISTING_TTL_MS = 100;
/** An empty bucket older than this is removed when a listing finds it (writers recreate one they need). */
const BUCKET_KEEP_MS = 2_000;

const FEATURES: StoreFeatures = Object.freeze({ priority: true, persistence: true, crossProcess: true });
const SAFETY_POLL_MS = 1_000;

export class FileStore implements VirtualStore {
  readonly kind = 'file';
  readonly identity: string;
  readonly features = FEATURES;
  readonly topology: TopologyFile;
  /** State documents and apply locks of `wakame apply`, under `stacks/`. */
  readonly #stacks: FileStacks;

  /** State documents and apply locks of `wakame apply` (see {@link StackStateStore}). */
  get stacks(): StackStateStore {
    return this.#stacks;
  }
  readonly #root: string;
  readonly #owner = `${process.pid}-${randomBytes(4).toString('hex')}`;
  readonly #options: FileStoreOptions;
  readonly #listeners = new Set<(queue: string) => void>();
  readonly #listings = new Map<string, Listing>();
  readonly #writer: BatchWriter;
  readonly #claims: Claims;
  readonly #watchers = new Map<string, FSWatcher>();
  #polling: NodeJS.Timeout | undefined;
  #timers: NodeJS.Timeout[] = [];

  constructor(root: string, options: FileStoreOptions = {}) {
    this.#root = root;
    this.identity = root;
    this.#options = options;
    this.topology = new TopologyFile(root);
    // Same lease as the claims: a crashed apply's lock lapses as soon as its messages come back.
    this.#stacks = new FileStacks(root, {
      ...(options.fsync !== undefined ? { fsync: options.fsync } : {}),
      leaseMs: this.#leaseMs,
      onError: (error) => this.#report(error),
    });
    const fsync = options.fsync ?? false;
    this.#writer = new BatchWriter({
      fsync,
      owner: this.#owner,
      batchesDir: (queue) => join(this.#queueDir(queue), 'batches'),
      written: (queue) => this.#changed(queue),
    });
    this.#claims = new Claims({
      owner: this.#owner,
      fsync,
      queueDir: (queue) => this.#queueDir(queue),
      returned: (queue) => this.#changed(queue),
      corrupt: (path, error) => this.#setAside(path, error),
    });
  }

  get #leaseMs(): number {
    return this.#options.leaseMs ?? 30_000;
  }

  async open(): Promise<void> {
    for (const dir of ['queues', 'owners', 'corrupt']) await mkdir(join(this.#root, dir), { recursive: true });
    await this.#renewLease();
    await ensureFormat(this.#root, this.#owner, () => this.#liveOwners());
    const renew = setInterval(() => void this.#renewLease().catch(this.#report), this.#leaseMs / 3);
    const restore = setInterval(() => void this.restoreExpired().catch(this.#report), this.#leaseMs / 2);
    renew.unref();
    restore.unref();
    this.#timers.push(renew, restore);
    await this.restoreExpired();
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    clearInterval(this.#polling);
    this.#polling = undefined;
    await this.#writer.drain();
    await this.#stacks.close();
    await rm(join(this.#root, 'owners', `${this.#owner}.json`), { force: true });
  }

  async createQueue(name: string): Promise<void> {
    for (const dir of ['batches', 'claims']) await mkdir(join(this.#queueDir(name), dir), { recursive: true });
  }

  async deleteQueue(name: string): Promise<number> {
    const count = await this.size(name);
    this.#watchers.get(name)?.close();
    this.#watchers.delete(name);
    await rm(this.#queueDir(name), { recursive: true, force: true });
    this.#listings.delete(name);
    this.#notify(name);
    return count;
  }

  put(queue: string, message: StoredMessage): Promise<void> {
    return this.#writer.put(queue, message);
  }

  async get(queue: string, options: ClaimOptions = {}): Promise<Claimed | undefined> {
    return (await this.getMany(queue, 1, options))[0];
  }

  /**
   * Claims up to `max` messages, in delivery order, from as few files as hold them. With
   * `maxBodyBytes`, a body over it is not read: the message comes with `withheldBodyBytes`.
   */
  async getMany(queue: string, max: number, options: ClaimOptions = {}): Promise<Claimed[]> {
    this.#watchQueue(queue);
    const claimed: Claimed[] = [];
    let relisted = false;
    while (claimed.length < max) {
      const next = await this.#nextFile(queue);
      if (!next) {
        // The listing is used up: one fresh look at the directory before saying the queue is empty.
        if (relisted || claimed.length > 0) break;
        relisted = true;
        this.#listings.delete(queue);
        continue;
      }
      const file = await this.#claims.claim(queue, next.bucket, next.name, max - claimed.length, options.maxBodyBytes);
      if (file) for (let i = 0; i < file.records.length; i++) claimed.push(this.#claimed(file, i));
    }
    return claimed;
  }

  #claimed(file: ClaimedFile, index: number): Claimed {
    const record = file.records[index] as BatchRecord;
    const { header } = record;
    const message: StoredMessage = {
      id: header.id,
      body: record.body,
      properties: header.properties,
      exchange: header.exchange,
      routingKey: header.routingKey,
      // The key's priority, not the properties': re-filing a queue (refile.ts) re-keys, and never rewrites headers.
      priority: priorityOfKey(file.name.key),
      expiresAt: header.expiresAt ?? undefined,
      redelivered: header.redelivered === true,
    };
    const receipt: Receipt = { file, index, settled: false };
    return { message: record.withheld ? { ...message, withheldBodyBytes: record.bodyBytes } : message, receipt };
  }

  /**
   * The next file to try to claim. A listing is reused across claims (listing for every claim would
   * make a backlog quadratic); it is dropped when this store adds to the queue, when it is used up,
   * and after {@link LISTING_TTL_MS} (other writers).
   */
  async #nextFile(queue: string): Promise<{ bucket: string; name: string } | undefined> {
    let listing = this.#listings.get(queue);
    if (!listing || Date.now() - listing.at >= LISTING_TTL_MS) {
      const buckets = await this.#list(join(this.#queueDir(queue), 'batches'));
      if (!buckets) {
        this.#listings.delete(queue);
        return undefined;
      }
      listing = { buckets, nextBucket: 0, bucket: '', names: [], next: 0, at: Date.now() };
      this.#listings.set(queue, listing);
    }
    for (;;) {
      if (listing.next < listing.names.length)
        return { bucket: listing.bucket, name: listing.names[listing.next++] as string };
      if (listing.nextBucket >= listing.buckets.length) return undefined;
      const bucket = listing.buckets[listing.nextBucket++] as string;
      const dir = join(this.#queueDir(queue), 'batches', bucket);
      const names = (await this.#list(dir)) ?? [];
      if (names.length === 0 && isOldBucket(bucket)) await rmdir(dir).catch(() => undefined);
      listing.bucket = bucket;
      listing.names = names;
      listing.next = 0;
    }
  }

  /** A directory's entries, sorted, without temporary files; undefined when it is missing. */
  async #list(dir: string): Promise<string[] | undefined> {
    try {
      return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
    } catch {
      return undefined;
    }
  }

  settle(receipt: unknown, outcome: StoreOutcome): Promise<void> {
    return this.#claims.settle(receipt as Receipt, outcome);
  }

  /** The body of a claimed message whose body the claim left unread (for a dead-lettered copy). */
  readBody(receipt: unknown): Promise<Buffer> {
    return this.#claims.readBody(receipt as Receipt);
  }

  /**
   * The new record first (publishes from then on file under `to`'s priorities), then every ready
   * message re-filed under its new priority (see `refile.ts`: each file claimed, then written back).
   */
  async reconfigureQueue(_from: QueueSpec, to: QueueSpec): Promise<void> {
    await this.topology.putQueue(to);
    await refileQueue(this.#claims, to.name, join(this.#queueDir(to.name), 'batches'), to.maxPriority);
    this.#changed(to.name);
  }

  async purge(queue: string): Promise<number> {
    let removed = 0;
    await this.#eachFile(queue, async (path, count) => {
      try {
        await unlink(path);
        removed += count;
      } catch {
        // claimed by a consumer in between: not ready any more
      }
    });
    this.#listings.delete(queue);
    return removed;
  }

  async size(queue: string): Promise<number> {
    let size = 0;
    await this.#eachFile(queue, (_path, count) => {
      size += count;
    });
    return size;
  }

  /** Calls `visit` with each ready batch file of `queue` and how many records its name says it holds. */
  async #eachFile(queue: string, visit: (path: string, count: number) => void | Promise<void>): Promise<void> {
    const batches = join(this.#queueDir(queue), 'batches');
    for (const bucket of (await this.#list(batches)) ?? []) {
      for (const name of (await this.#list(join(batches, bucket))) ?? []) {
        const parsed = parseBatchName(name);
        // A file of another name counts as one: a claim will move it aside.
        await visit(join(batches, bucket, name), parsed ? parsed.count : 1);
      }
    }
  }

  /**
   * File-system notifications for the queues being consumed (each queue's `batches/` directory is
   * watched from its first claim: every batch is written there before it moves into its bucket), with
   * a slow poll behind them: notifications can be lost, and some file systems have none. Node's
   * recursive watch is not used: on Linux it re-lists the whole tree on every change.
   */
  watch(listener: (queue: string) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#polling) {
      this.#polling = setInterval(() => void this.#notifyAll(), SAFETY_POLL_MS);
      this.#polling.unref();
    }
    return () => this.#listeners.delete(listener);
  }

  #watchQueue(queue: string): void {
    if (this.#watchers.has(queue) || this.#listeners.size === 0) return;
    try {
      const watcher = watch(join(this.#queueDir(queue), 'batches'), () => this.#notify(queue));
      watcher.on('error', () => {
        watcher.close();
        this.#watchers.delete(queue);
      });
      this.#watchers.set(queue, watcher);
    } catch {
      // the queue directory is gone, or the file system has no notifications: the poll covers it
    }
  }

  /** Returns to their queues the claims of owners whose lease expired and whose process is gone. */
  async restoreExpired(): Promise<number> {
    const live = await this.#liveOwners();
    let restored = 0;
    for (const encoded of await readdir(join(this.#root, 'queues')).catch(() => [] as string[]))
      restored += await this.#claims.restore(decodeURIComponent(encoded), live);
    return restored;
  }

  async #liveOwners(): Promise<Set<string>> {
    const live = new Set<string>();
    const dir = join(this.#root, 'owners');
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      if (!file.endsWith('.json')) continue;
      const owner = file.slice(0, -'.json'.length);
      try {
        const lease = JSON.parse(await readFile(join(dir, file), 'utf8')) as { pid: number; until: number };
        if (lease.until > Date.now() || isAlive(lease.pid)) live.add(owner);
        else await rm(join(dir, file), { force: true });
      } catch {
        // a lease being rewritten right now: count it alive
        live.add(owner);
      }
    }
    return live;
  }

  async #renewLease(): Promise<void> {
    const file = join(this.#root, 'owners', `${this.#owner}.json`);
    const tmp = `${file}.tmp`;
    await writeFile(tmp, JSON.stringify({ pid: process.pid, until: Date.now() + this.#leaseMs }));
    await rename(tmp, file);
  }

  async #setAside(path: string, error: unknown): Promise<void> {
    const aside = join(this.#root, 'corrupt', `${Date.now()}-${path.slice(path.lastIndexOf('/') + 1)}`);
    await rename(path, aside).catch(() => undefined);
    this.#report(
      new Error(`unreadable message file moved to ${aside}: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  #queueDir(queue: string): string {
    return join(this.#root, 'queues', encodeURIComponent(queue));
  }

  /** Something was added to `queue` by this store: its listing is stale, its consumers may claim. */
  #changed(queue: string): void {
    this.#listings.delete(queue);
    this.#notify(queue);
  }

  #notify(queue: string): void {
    for (const listener of this.#listeners) listener(queue);
  }

  async #notifyAll(): Promise<void> {
    if (this.#listeners.size === 0) return;
    for (const encoded of await readdir(join(this.#root, 'queues')).catch(() => [] as string[]))
      this.#notify(decodeURIComponent(encoded));
  }

  readonly #report = (error: unknown): void => {
    this.#options.onError?.(error);
  };
}

/** Whether a bucket's second is long past (no writer is still likely to add to it). */
function isOldBucket(bucket: string): boolean {
  const seconds = Number(bucket.slice(bucket.indexOf('-') + 1));
  return seconds * 1000 < Date.now() - BUCKET_KEEP_MS;
}
