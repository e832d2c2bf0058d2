/**
 * Topology records (exchanges, queues, bindings, policies) as one JSON document in one znode, so every
 * process on the ensemble routes the same way. The znode's data version is the revision: a change is a
 * compare-and-set on it (retried on a conflict), and a data watch tells every process that it moved,
 * so `revision()` stays a synchronous read until then and the routing table is rebuilt only on change.
 *
 * @module
 */
import type {
  BindingSpec,
  ExchangeSpec,
  PolicySpec,
  QueueSpec,
  TopologySnapshot,
  TopologyStore,
} from '@wakame/core/spi';
import { bindingKey, DecodeError, policyKeyOf, policyRecordKey } from '@wakame/core/spi';
import { sameRecord } from '../internal/same-record.js';
import { CreateMode, isZkCode, ZK, type ZkSession } from './session.js';

interface Document {
  exchanges: ExchangeSpec[];
  queues: QueueSpec[];
  bindings: BindingSpec[];
  policies: PolicySpec[];
}

const EMPTY: Document = { exchanges: [], queues: [], bindings: [], policies: [] };

export class ZkTopology implements TopologyStore {
  #snapshot: TopologySnapshot | undefined;
  /** Set while a change announced by the watch is being read; `revision()` waits for it. */
  #refreshing: Promise<TopologySnapshot> | undefined;
  /** A watch is registered and has not fired: reads need not register another (each would fire). */
  #armed = false;

  constructor(
    private readonly session: ZkSession,
    private readonly path: string,
  ) {}

  /** Reads the document and arms the watch (again after a session expiry). */
  async open(): Promise<void> {
    this.#armed = false;
    await this.#refresh();
  }

  revision(): number | Promise<number> {
    if (this.#refreshing) return this.#refreshing.then((s) => s.revision);
    return this.#snapshot?.revision ?? this.#refresh().then((s) => s.revision);
  }

  async snapshot(): Promise<TopologySnapshot> {
    return this.#refreshing ?? this.#snapshot ?? this.#refresh();
  }

  putExchange(spec: ExchangeSpec): Promise<void> {
    return this.#change((doc) => replace(doc.exchanges, plain(spec), (e) => e.name === spec.name));
  }

  deleteExchange(name: string): Promise<void> {
    return this.#change((doc) => remove(doc.exchanges, (e) => e.name === name));
  }

  putQueue(spec: QueueSpec): Promise<void> {
    return this.#change((doc) => replace(doc.queues, plain(spec), (q) => q.name === spec.name));
  }

  deleteQueue(name: string): Promise<void> {
    return this.#change((doc) => remove(doc.queues, (q) => q.name === name));
  }

  async addBinding(binding: BindingSpec): Promise<boolean> {
    const key = bindingKey(binding);
    let added = false;
    await this.#change((doc) => {
      added = !doc.bindings.some((b) => bindingKey(b) === key);
      if (added) doc.bindings.push(plain(binding));
      return added;
    });
    return added;
  }

  async removeBinding(binding: BindingSpec): Promise<boolean> {
    const key = bindingKey(binding);
    let removed = false;
    await this.#change((doc) => {
      removed = remove(doc.bindings, (b) => bindingKey(b) === key);
      return removed;
    });
    return removed;
  }

  putPolicy(spec: PolicySpec): Promise<void> {
    const key = policyKeyOf(spec);
    return this.#change((doc) => replace(doc.policies, plain(spec), (p) => policyKeyOf(p) === key));
  }

  deletePolicy(operator: boolean, vhost: string, name: string): Promise<void> {
    const key = policyRecordKey(operator, vhost, name);
    return this.#change((doc) => remove(doc.policies, (p) => policyKeyOf(p) === key));
  }

  /** Applies `edit` (which says whether it changed anything) with a compare-and-set, retried on conflict. */
  async #change(edit: (doc: Document) => boolean): Promise<void> {
    for (;;) {
      const { doc, version } = await this.#read();
      if (!edit(doc)) return;
      const data = Buffer.from(JSON.stringify(doc), 'utf8');
      try {
        let written = 0; // a new znode's data version
        if (version >= 0) written = (await this.session.setData(this.path, data, version)).version;
        else await this.session.create(this.path, data, CreateMode.PERSISTENT);
        // Our own change is visible to us at once; the watch tells the other processes.
        if (!this.#refreshing) this.#snapshot = snapshotOf(doc, written + 1);
        return;
      } catch (error) {
        // Another process changed (or created) the document since we read it: read it again.
        if (isZkCode(error, ZK.BAD_VERSION) || isZkCode(error, ZK.NODE_EXISTS)) continue;
        throw error;
      }
    }
  }

  async #read(): Promise<{ doc: Document; version: number }> {
    try {
      const { data, stat } = await this.session.getData(this.path);
      return { doc: parse(data, this.path), version: stat.version };
    } catch (error) {
      if (isZkCode(error, ZK.NO_NODE)) return { doc: structuredClone(EMPTY), version: -1 };
      throw error;
    }
  }

  #refresh(): Promise<TopologySnapshot> {
    const reading = this.#watchedRead().finally(() => {
      if (this.#refreshing === reading) this.#refreshing = undefined;
    });
    this.#refreshing = reading;
    return reading;
  }

  /** Reads the document with a watch that announces the next change (an `exists` watch while there is none). */
  async #watchedRead(): Promise<TopologySnapshot> {
    const watcher = this.#armed
      ? undefined
      : (): void => {
          this.#armed = false;
          this.#refresh().catch(() => {
            // Unreadable now (connection lost): the next revision() reads again.
            this.#snapshot = undefined;
          });
        };
    this.#armed = true;
    try {
      const { data, stat } = await this.session.getData(this.path, watcher);
      // Revisions start at 1 so that an absent document (0) differs from a new one.
      this.#snapshot = snapshotOf(parse(data, this.path), stat.version + 1);
    } catch (error) {
      if (!isZkCode(error, ZK.NO_NODE)) {
        this.#armed = false;
        throw error;
      }
      const stat = await this.session.exists(this.path, watcher);
      if (stat) return this.#watchedRead();
      this.#snapshot = snapshotOf(structuredClone(EMPTY), 0);
    }
    return this.#snapshot;
  }
}

function snapshotOf(doc: Document, revision: number): TopologySnapshot {
  return Object.freeze({
    revision,
    exchanges: Object.freeze([...doc.exchanges]),
    queues: Object.freeze([...doc.queues]),
    bindings: Object.freeze([...doc.bindings]),
    policies: Object.freeze([...doc.policies]),
  });
}

function parse(data: Buffer, path: string): Document {
  try {
    const doc = JSON.parse(data.toString('utf8')) as Partial<Document>;
    return {
      exchanges: doc.exchanges ?? [],
      queues: doc.queues ?? [],
      bindings: doc.bindings ?? [],
      policies: doc.policies ?? [],
    };
  } catch {
    throw new TopologyDocumentError(`the topology record at ${path} is not JSON`);
  }
}

/** The topology znode holds something other than Wakame's JSON document. */
export class TopologyDocumentError extends DecodeError {
  override readonly name = 'TopologyDocumentError';
  override readonly code = 'ERR_ZOOKEEPER_TOPOLOGY';
}

function replace<T>(list: T[], value: T, same: (item: T) => boolean): boolean {
  const i = list.findIndex(same);
  if (i >= 0 && sameRecord(list[i], value)) return false;
  if (i >= 0) list[i] = value;
  else list.push(value);
  return true;
}

function remove<T>(list: T[], match: (item: T) => boolean): boolean {
  const i = list.findIndex(match);
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}

function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
