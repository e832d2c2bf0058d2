/**
 * A {@link VirtualStore} in a directory, shared by every process that opens it.
 *
 * Layout: `queues/<queue>/ready/<name>` holds ready messages; a consumer claims one by renaming it
 * into `queues/<queue>/claimed/<name>~<owner>` (rename is atomic: exactly one process wins), acks
 * by deleting it and requeues by renaming it back. Names sort by priority, then time, then the
 * writer's pid and counter, so `readdir` order is delivery order and a requeued message returns to
 * its place. Messages are written to `tmp/` and renamed into `ready/`: nobody reads half a file.
 *
 * Crashes: each process records a lease (`owners/<owner>.json`: pid and expiry) and renews it; a
 * claimed message goes back to `ready/` only when its owner's lease expired and the pid is gone.
 * Unreadable files are moved to `corrupt/` and reported, never delivered or fatal.
 */
import { randomBytes } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
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
import { readMessageFile } from './message-file.js';
import { isAlive, syncDir } from './process-files.js';
import { priorityField, priorityOfName, refileReady } from './refile.js';
import { FileStacks } from './stacks.js';
import { TopologyFile } from './topology-file.js';

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /** fsync each message file and its directory before a publish resolves. @defaultValue false */
  readonly fsync?: boolean;
  /** How long a crashed process's claims are held before they are restored (ms). @defaultValue 30_000 */
  readonly leaseMs?: number;
  /** Where problems with no caller go (corrupt files). */
  readonly onError?: (error: unknown) => void;
}

interface Listing {
  readonly names: string[];
  next: number;
  readonly at: number;
}

/** How long a directory listing is trusted for messages other processes add. */
const LISTING_TTL_MS = 100;

interface Receipt {
  readonly queue: string;
  readonly name: string;
  readonly path: string;
  settled: boolean;
}

const FEATURES: StoreFeatures = Object.freeze({ priority: true, persistence: true, crossProcess: true });
const REDELIVERED = '.r';
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
  #counter = 0;
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
  }

  get #leaseMs(): number {
    return this.#options.leaseMs ?? 30_000;
  }

  async open(): Promise<void> {
    for (const dir of ['queues', 'owners', 'tmp', 'corrupt']) await mkdir(join(this.#root, dir), { recursive: true });
    await this.#renewLease();
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
    await this.#stacks.close();
    await rm(join(this.#root, 'owners', `${this.#owner}.json`), { force: true });
  }

  async createQueue(name: string): Promise<void> {
    for (const dir of ['ready', 'claimed']) await mkdir(join(this.#queueDir(name), dir), { recursive: true });
  }

  async deleteQueue(name: string): Promise<number> {
    const count = await this.size(name);
    this.#watchers.get(name)?.close();
    this.#watchers.delete(name);
    await rm(this.#queueDir(name), { recursive: true, force: true });
    this.#notify(name);
    return count;
  }

  async put(queue: string, message: StoredMessage): Promise<void> {
    const name = `${priorityField(message.priority)}-${String(Date.now()).padStart(14, '0')}-${String(process.pid).padStart(7, '0')}-${String(++this.#counter).padStart(10, '0')}`;
    const tmp = join(this.#root, 'tmp', `${this.#owner}-${name}`);
    const header = JSON.stringify({
      id: message.id,
      properties: message.properties,
      exchange: message.exchange,
      routingKey: message.routingKey,
      priority: message.priority,
      expiresAt: message.expiresAt ?? null,
    });
    const data = Buffer.concat([Buffer.from(`${header}\n`), message.body]);
    if (this.#options.fsync) {
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } else {
      await writeFile(tmp, data);
    }
    const ready = join(this.#queueDir(queue), 'ready');
    try {
      await rename(tmp, join(ready, message.redelivered ? `${name}${REDELIVERED}` : name));
    } catch (error) {
      await rm(tmp, { force: true });
      // The queue was deleted meanwhile: the message goes with it, as on RabbitMQ.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    if (this.#options.fsync) await syncDir(ready);
    this.#listings.delete(queue);
    this.#notify(queue);
  }

  /**
   * Claims the next message. With `maxBodyBytes`, a body over it is not read: the file's size gives
   * the body's size once the header line is read, and the message comes with `withheldBodyBytes`.
   */
  async get(queue: string, options: ClaimOptions = {}): Promise<Claimed | undefined> {
    const dir = this.#queueDir(queue);
    this.#watchQueue(queue);
    for (let fresh = false; ; fresh = true) {
      const listing = await this.#listing(queue, fresh);
      if (!listing) return undefined;
      while (listing.next < listing.names.length) {
        const name = listing.names[listing.next++] as string;
        const claimed = join(dir, 'claimed', `${name}~${this.#owner}`);
        try {
          await rename(join(dir, 'ready', name), claimed);
        } catch {
          continue; // another consumer won this one
        }
        const message = await this.#parse(claimed, name, options.maxBodyBytes);
        if (message) return { message, receipt: { queue, name, path: claimed, settled: false } satisfies Receipt };
      }
      // The listing is used up: one fresh look at the directory before saying the queue is empty.
      if (fresh) return undefined;
    }
  }

  /**
   * The sorted names of a queue's ready messages, reused across claims: listing a directory of n
   * files for every claim would make a backlog quadratic. A listing is dropped when this store
   * adds to the queue, when it is used up, and after {@link LISTING_TTL_MS} (other writers).
   */
  async #listing(queue: string, fresh: boolean): Promise<Listing | undefined> {
    const cached = this.#listings.get(queue);
    if (!fresh && cached && cached.next < cached.names.length && Date.now() - cached.at < LISTING_TTL_MS) return cached;
    let names: string[];
    try {
      names = (await readdir(join(this.#queueDir(queue), 'ready'))).sort();
    } catch {
      this.#listings.delete(queue);
      return undefined;
    }
    const listing: Listing = { names, next: 0, at: Date.now() };
    this.#listings.set(queue, listing);
    return listing;
  }

  async settle(receipt: unknown, outcome: StoreOutcome): Promise<void> {
    const r = receipt as Receipt;
    if (r.settled) return;
    r.settled = true;
    if (outcome === 'ack') {
      // unlink, not rm: one system call instead of two on the hottest path.
      await unlink(r.path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      return;
    }
    const base = r.name.endsWith(REDELIVERED) ? r.name.slice(0, -REDELIVERED.length) : r.name;
    const name = outcome === 'requeue' ? `${base}${REDELIVERED}` : r.name;
    await rename(r.path, join(this.#queueDir(r.queue), 'ready', name)).catch(() => undefined);
    this.#listings.delete(r.queue);
    this.#notify(r.queue);
  }

  /**
   * The new record first (publishes from then on file under `to`'s priorities), then every ready
   * message renamed to its new priority (see `refile.ts`: each rename atomic, the whole resumable).
   */
  async reconfigureQueue(_from: QueueSpec, to: QueueSpec): Promise<void> {
    await this.topology.putQueue(to);
    await refileReady(join(this.#queueDir(to.name), 'ready'), to.maxPriority);
    this.#listings.delete(to.name);
    this.#notify(to.name);
  }

  async purge(queue: string): Promise<number> {
    const ready = join(this.#queueDir(queue), 'ready');
    const names = await readdir(ready).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      try {
        await unlink(join(ready, name));
        removed++;
      } catch {
        // claimed by a consumer in between: not ready any more
      }
    }
    return removed;
  }

  async size(queue: string): Promise<number> {
    return (await readdir(join(this.#queueDir(queue), 'ready')).catch(() => [] as string[])).length;
  }

  /**
   * File-system notifications for the queues being consumed (each queue's `ready/` directory is
   * watched from its first `get`), with a slow poll behind them: notifications can be lost, and
   * some file systems have none. Node's recursive watch is not used: on Linux it re-lists the
   * whole tree on every change.
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
      const watcher = watch(join(this.#queueDir(queue), 'ready'), () => this.#notify(queue));
      watcher.on('error', () => {
        watcher.close();
        this.#watchers.delete(queue);
      });
      this.#watchers.set(queue, watcher);
    } catch {
      // the queue directory is gone, or the file system has no notifications: the poll covers it
    }
  }

  /** Returns to `ready/` the claims of owners whose lease expired and whose process is gone. */
  async restoreExpired(): Promise<number> {
    const live = await this.#liveOwners();
    let restored = 0;
    const queues = await readdir(join(this.#root, 'queues')).catch(() => [] as string[]);
    for (const encoded of queues) {
      const dir = join(this.#root, 'queues', encoded);
      for (const file of await readdir(join(dir, 'claimed')).catch(() => [] as string[])) {
        const owner = file.slice(file.lastIndexOf('~') + 1);
        if (owner === this.#owner || live.has(owner)) continue;
        const name = file.slice(0, file.lastIndexOf('~'));
        const base = name.endsWith(REDELIVERED) ? name.slice(0, -REDELIVERED.length) : name;
        try {
          await rename(join(dir, 'claimed', file), join(dir, 'ready', `${base}${REDELIVERED}`));
          restored++;
        } catch {
          // restored by another process first
        }
      }
      if (restored > 0) {
        this.#listings.delete(decodeURIComponent(encoded));
        this.#notify(decodeURIComponent(encoded));
      }
    }
    return restored;
  }

  async #liveOwners(): Promise<Set<string>> {
    const live = new Set<string>();
    const dir = join(this.#root, 'owners');
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      const owner = file.replace(/\.json$/, '');
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

  /** The body of a claimed message whose body {@link FileStore.get} left unread (for a dead-lettered copy). */
  async readBody(receipt: unknown): Promise<Buffer> {
    const data = await readFile((receipt as Receipt).path);
    const newline = data.indexOf(10);
    return newline < 0 ? Buffer.alloc(0) : data.subarray(newline + 1);
  }

  async #parse(path: string, name: string, maxBodyBytes?: number): Promise<StoredMessage | undefined> {
    try {
      const data = await readMessageFile(path, maxBodyBytes);
      const header = JSON.parse(data.header.toString('utf8')) as {
        id: string;
        properties: StoredMessage['properties'];
        exchange: string;
        routingKey: string;
        expiresAt: number | null;
      };
      const message: StoredMessage = {
        id: header.id,
        body: data.body,
        properties: header.properties,
        exchange: header.exchange,
        routingKey: header.routingKey,
        // The name's priority, not the header's: re-filing a queue (refile.ts) renames, and never rewrites.
        priority: priorityOfName(name),
        expiresAt: header.expiresAt ?? undefined,
        redelivered: name.endsWith(REDELIVERED),
      };
      return data.withheld === undefined ? message : { ...message, withheldBodyBytes: data.withheld };
    } catch (error) {
      const aside = join(this.#root, 'corrupt', `${Date.now()}-${name}`);
      await rename(path, aside).catch(() => undefined);
      this.#report(
        new Error(
          `unreadable message file moved to ${aside}: ${error instanceof Error ? error.message : String(error)}`,
        ),
      );
      return undefined;
    }
  }

  #queueDir(queue: string): string {
    return join(this.#root, 'queues', encodeURIComponent(queue));
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
