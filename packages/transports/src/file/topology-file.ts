/**
 * The topology records of a file broker, in one JSON file that every process reads, so a process
 * that never declared an exchange still routes through it (kombu's filesystem transport forgets
 * exchange types). Writes take a directory lock and replace the file atomically (write a temporary
 * file, rename it into place); readers never see half a file.
 */

import { statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  BindingSpec,
  ExchangeSpec,
  PolicySpec,
  QueueSpec,
  TopologySnapshot,
  TopologyStore,
} from '@wakame/core/spi';
import { bindingKey, policyKeyOf, policyRecordKey, TimeoutError } from '@wakame/core/spi';

interface Records {
  revision: number;
  exchanges: ExchangeSpec[];
  queues: QueueSpec[];
  bindings: BindingSpec[];
  /** Policies and operator policies; absent in files written before policies existed. */
  policies?: PolicySpec[];
}

const EMPTY: Records = { revision: 0, exchanges: [], queues: [], bindings: [] };
const LOCK_WAIT_MS = 10_000;

export class TopologyFile implements TopologyStore {
  readonly #file: string;
  readonly #lock: string;
  #cached: { key: string; records: Records } | undefined;

  constructor(private readonly root: string) {
    this.#file = join(root, 'topology.json');
    this.#lock = join(root, 'topology.lock');
  }

  /** Cheap: one stat. The file is replaced on every change, so (inode, mtime, size) moves with it. */
  revision(): number {
    const key = this.#statKey();
    if (this.#cached?.key === key) return this.#cached.records.revision;
    // Unknown content: report a value no snapshot carries, so the caller reloads.
    return -1 - (this.#cached?.records.revision ?? 0);
  }

  async snapshot(): Promise<TopologySnapshot> {
    const records = await this.#read();
    return {
      revision: records.revision,
      exchanges: records.exchanges,
      queues: records.queues,
      bindings: records.bindings,
      policies: records.policies ?? [],
    };
  }

  putPolicy(spec: PolicySpec): Promise<void> {
    const key = policyKeyOf(spec);
    return this.#update((r) => {
      r.policies = [...(r.policies ?? []).filter((p) => policyKeyOf(p) !== key), plain(spec)];
      return true;
    });
  }

  deletePolicy(operator: boolean, vhost: string, name: string): Promise<void> {
    const key = policyRecordKey(operator, vhost, name);
    return this.#update((r) => {
      const before = r.policies?.length ?? 0;
      r.policies = (r.policies ?? []).filter((p) => policyKeyOf(p) !== key);
      return r.policies.length !== before;
    });
  }

  putExchange(spec: ExchangeSpec): Promise<void> {
    return this.#update((r) => {
      r.exchanges = [...r.exchanges.filter((e) => e.name !== spec.name), plain(spec)];
      return true;
    });
  }

  deleteExchange(name: string): Promise<void> {
    return this.#update((r) => {
      const before = r.exchanges.length;
      r.exchanges = r.exchanges.filter((e) => e.name !== name);
      return r.exchanges.length !== before;
    });
  }

  putQueue(spec: QueueSpec): Promise<void> {
    return this.#update((r) => {
      r.queues = [...r.queues.filter((q) => q.name !== spec.name), plain(spec)];
      return true;
    });
  }

  deleteQueue(name: string): Promise<void> {
    return this.#update((r) => {
      const before = r.queues.length;
      r.queues = r.queues.filter((q) => q.name !== name);
      return r.queues.length !== before;
    });
  }

  async addBinding(binding: BindingSpec): Promise<boolean> {
    let added = false;
    await this.#update((r) => {
      const key = bindingKey(binding);
      if (r.bindings.some((b) => bindingKey(b) === key)) return false;
      r.bindings = [...r.bindings, plain(binding)];
      added = true;
      return true;
    });
    return added;
  }

  async removeBinding(binding: BindingSpec): Promise<boolean> {
    let removed = false;
    await this.#update((r) => {
      const key = bindingKey(binding);
      const before = r.bindings.length;
      r.bindings = r.bindings.filter((b) => bindingKey(b) !== key);
      removed = r.bindings.length !== before;
      return removed;
    });
    return removed;
  }

  #statKey(): string {
    try {
      const s = statSync(this.#file);
      return `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch {
      return 'missing';
    }
  }

  async #read(): Promise<Records> {
    const key = this.#statKey();
    if (this.#cached?.key === key) return this.#cached.records;
    let records: Records;
    try {
      records = JSON.parse(await readFile(this.#file, 'utf8')) as Records;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      records = EMPTY;
    }
    this.#cached = { key, records };
    return records;
  }

  /** Applies `change` under the lock; writes only when it reports a change. */
  async #update(change: (records: Records) => boolean): Promise<void> {
    await this.#acquire();
    try {
      this.#cached = undefined;
      const records = structuredClone(await this.#read());
      if (!change(records)) return;
      records.revision++;
      const tmp = join(this.root, `.topology.${process.pid}.${Date.now()}.tmp`);
      await writeFile(tmp, JSON.stringify(records));
      await rename(tmp, this.#file);
      this.#cached = undefined;
    } finally {
      await rm(this.#lock, { recursive: true, force: true });
    }
  }

  /** `mkdir` is atomic: whoever creates the lock directory holds it. A lock older than 30 s is stale. */
  async #acquire(): Promise<void> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      try {
        await mkdir(this.#lock);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const age = await stat(this.#lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > 30_000) await rm(this.#lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new TimeoutError(`could not lock ${this.#lock} within ${LOCK_WAIT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
