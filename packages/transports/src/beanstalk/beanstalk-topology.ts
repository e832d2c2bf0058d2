/**
 * Topology records for beanstalkd, which has no place for them but tubes: the whole topology is one
 * JSON job in a tube of its own (`<prefix>(wakame)topology`). beanstalkd gives exactly the two things
 * that need:
 *
 * - a lock: a writer *reserves* the record job, so other writers wait, and if the writer dies its
 *   connection closes and the server puts the job back untouched;
 * - an atomic hand-over: the writer puts the new record and deletes the old one; a reader peeking in
 *   between sees one or the other, never neither for long.
 *
 * Readers peek at the ready record. Every process polls it (`?topology_poll=ms`) so that a binding
 * declared by another process is routed after at most one poll; declarations made through any store
 * of this process are seen at once (stores of one broker share this object).
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
import { bindingKey, ConnectionClosedError, policyKeyOf, policyRecordKey, TimeoutError } from '@wakame/core/spi';
import type { BeanstalkClient, Job } from './client.js';

interface RecordDocument {
  readonly serial: number;
  readonly exchanges: ExchangeSpec[];
  readonly queues: QueueSpec[];
  readonly bindings: BindingSpec[];
  readonly policies: PolicySpec[];
}

/** The record as maps, while a writer changes it. */
interface Records {
  serial: number;
  readonly exchanges: Map<string, ExchangeSpec>;
  readonly queues: Map<string, QueueSpec>;
  readonly bindings: Map<string, BindingSpec>;
  readonly policies: Map<string, PolicySpec>;
}

/** How long a writer waits for another writer's hold on the record before failing. */
const WRITE_WAIT_MS = 30_000;
/** The record job's TTR: a writer holds it for a few round trips; a hung one loses it after this. */
const RECORD_TTR_SECONDS = 30;

function empty(): Records {
  return { serial: 0, exchanges: new Map(), queues: new Map(), bindings: new Map(), policies: new Map() };
}

/** A record too large for one job: its document is in part jobs (see {@link BeanstalkTopology}). */
interface PartsPointer {
  readonly serial: number;
  readonly parts: readonly number[];
}

/** The part job ids a record job points to (none when it holds the document itself). */
function partsOf(job: Job): readonly number[] {
  return (JSON.parse(job.body.toString('utf8')) as Partial<PartsPointer>).parts ?? [];
}

/** A part the record names is gone: a writer replaced the record meanwhile; read again. */
class RecordMoved extends Error {}

function parse(body: Buffer): Records {
  const doc = JSON.parse(body.toString('utf8')) as RecordDocument;
  return {
    serial: doc.serial,
    exchanges: new Map(doc.exchanges.map((e) => [e.name, e])),
    queues: new Map(doc.queues.map((q) => [q.name, q])),
    bindings: new Map(doc.bindings.map((b) => [bindingKey(b), b])),
    policies: new Map(doc.policies.map((p) => [policyKeyOf(p), p])),
  };
}

function serialise(records: Records): Buffer {
  const doc: RecordDocument = {
    serial: records.serial,
    exchanges: [...records.exchanges.values()],
    queues: [...records.queues.values()],
    bindings: [...records.bindings.values()],
    policies: [...records.policies.values()],
  };
  return Buffer.from(JSON.stringify(doc));
}

/** A detached plain copy, so a caller mutating its object later cannot change the records. */
function plain<T extends object>(spec: T): T {
  return JSON.parse(JSON.stringify(spec)) as T;
}

/** The topology records of one beanstalkd broker (one URL prefix), shared by the stores of a process. */
export class BeanstalkTopology implements TopologyStore {
  #records: Records = empty();
  #snapshot: TopologySnapshot | undefined;
  /** Writes of this process, one at a time (they share one connection and one reservation). */
  #writing: Promise<unknown> = Promise.resolve();
  #poll: NodeJS.Timeout | undefined;

  /** Uses the record tube: for peeks. */
  #reader: Promise<BeanstalkClient> | undefined;
  /** Watches only the record tube, and uses it: for reserving and replacing the record. */
  #writer: Promise<BeanstalkClient> | undefined;
  #closed = false;
  #maxJobSize: number | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(
    private readonly connect: () => Promise<BeanstalkClient>,
    /** The record tube (`<prefix>(wakame)topology`). */
    private readonly tube: string,
    /** Where a record too large for one job keeps its parts. */
    private readonly partsTube: string,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Reads the record, then keeps reading it every `pollMs` while open. */
  async open(): Promise<void> {
    await this.refresh();
    this.#schedulePoll();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#poll);
    this.#poll = undefined;
    for (const client of [this.#reader, this.#writer])
      void client?.then(
        (c) => c.close(),
        () => undefined,
      );
  }

  /** The reader connection, connected again when it was lost. */
  get reader(): Promise<BeanstalkClient> {
    this.#reader = this.#live(this.#reader, async (client) => {
      await client.use(this.tube);
    });
    return this.#reader;
  }

  get writer(): Promise<BeanstalkClient> {
    this.#writer = this.#live(this.#writer, async (client) => {
      await Promise.all([client.use(this.tube), client.watch(this.tube)]);
      await client.ignore('default');
    });
    return this.#writer;
  }

  #live(
    current: Promise<BeanstalkClient> | undefined,
    setUp: (client: BeanstalkClient) => Promise<void>,
  ): Promise<BeanstalkClient> {
    if (this.#closed) return Promise.reject(new ConnectionClosedError('beanstalk topology is closed'));
    if (current) {
      return current.then(
        (c) => (c.closed ? this.#live(undefined, setUp) : c),
        () => this.#live(undefined, setUp),
      );
    }
    return this.connect().then(async (client) => {
      try {
        await setUp(client);
        return client;
      } catch (error) {
        client.close();
        throw error;
      }
    });
  }

  #schedulePoll(): void {
    this.#poll = setTimeout(() => {
      this.refresh()
        .catch((error: unknown) => this.onError(error))
        .finally(() => {
          if (this.#poll) this.#schedulePoll();
        });
    }, this.pollMs);
    this.#poll.unref();
  }

  /** Reads the ready record; keeps what it has when a writer holds the record right now. */
  async refresh(): Promise<void> {
    const reader = await this.reader;
    const job = await reader.peekReady();
    if (!job) return;
    let records: Records;
    try {
      records = await this.#load(reader, job);
    } catch (error) {
      if (error instanceof RecordMoved) return;
      throw error;
    }
    if (records.serial !== this.#records.serial) this.#replace(records);
  }

  /** The records of a record job, reading its parts when it points to some. */
  async #load(client: BeanstalkClient, job: Job): Promise<Records> {
    const parts = partsOf(job);
    if (parts.length === 0) return parse(job.body);
    const bodies = await Promise.all(parts.map((id) => client.peek(id)));
    if (bodies.some((part) => part === undefined)) throw new RecordMoved();
    return parse(Buffer.concat(bodies.map((part) => (part as Job).body)));
  }

  /**
   * Puts the record for `records`: one job, or, past the server's `max-job-size` (64 KiB by default), the
   * document in part jobs of `<prefix>(wakame)parts` and a record job naming them.
   */
  async #putRecord(writer: BeanstalkClient, records: Records): Promise<void> {
    const body = serialise(records);
    this.#maxJobSize ??= Number((await writer.stats())['max-job-size'] ?? 65_535);
    if (body.length <= this.#maxJobSize) {
      await writer.put(0, 0, RECORD_TTR_SECONDS, body);
      return;
    }
    const size = this.#maxJobSize;
    await writer.use(this.partsTube);
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < body.length; offset += size) pieces.push(body.subarray(offset, offset + size));
    const parts = await Promise.all(pieces.map((piece) => writer.put(0, 0, RECORD_TTR_SECONDS, piece)));
    await writer.use(this.tube);
    const pointer: PartsPointer = { serial: records.serial, parts };
    await writer.put(0, 0, RECORD_TTR_SECONDS, Buffer.from(JSON.stringify(pointer)));
  }

  revision(): number {
    return this.#records.serial;
  }

  async snapshot(): Promise<TopologySnapshot> {
    await this.refresh();
    const r = this.#records;
    this.#snapshot ??= Object.freeze({
      revision: r.serial,
      exchanges: Object.freeze([...r.exchanges.values()]),
      queues: Object.freeze([...r.queues.values()]),
      bindings: Object.freeze([...r.bindings.values()]),
      policies: Object.freeze([...r.policies.values()]),
    });
    return this.#snapshot;
  }

  putExchange(spec: ExchangeSpec): Promise<void> {
    return this.#update((r) => void r.exchanges.set(spec.name, plain(spec)));
  }

  deleteExchange(name: string): Promise<void> {
    return this.#update((r) => r.exchanges.delete(name));
  }

  putQueue(spec: QueueSpec): Promise<void> {
    return this.#update((r) => void r.queues.set(spec.name, plain(spec)));
  }

  deleteQueue(name: string): Promise<void> {
    return this.#update((r) => r.queues.delete(name));
  }

  async addBinding(binding: BindingSpec): Promise<boolean> {
    let added = false;
    await this.#update((r) => {
      const key = bindingKey(binding);
      if (r.bindings.has(key)) return false;
      r.bindings.set(key, plain(binding));
      added = true;
      return true;
    });
    return added;
  }

  async removeBinding(binding: BindingSpec): Promise<boolean> {
    let removed = false;
    await this.#update((r) => {
      removed = r.bindings.delete(bindingKey(binding));
      return removed;
    });
    return removed;
  }

  putPolicy(spec: PolicySpec): Promise<void> {
    return this.#update((r) => void r.policies.set(policyKeyOf(spec), plain(spec)));
  }

  deletePolicy(operator: boolean, vhost: string, name: string): Promise<void> {
    return this.#update((r) => r.policies.delete(policyRecordKey(operator, vhost, name)));
  }

  #replace(records: Records): void {
    this.#records = records;
    this.#snapshot = undefined;
    for (const listener of this.#listeners) listener();
  }

  /** Calls `listener` after every change of the records, this process's or (once polled) another's. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Reserves the record (waiting for another writer), applies `change` to it, and puts the result in
   * its place unless nothing changed (`change` returned false). Two records can only exist after two
   * processes created the first one at once; the next writer merges them.
   */
  #update(change: (records: Records) => boolean | undefined): Promise<void> {
    const run = this.#writing.then(async () => {
      const writer = await this.writer;
      const held = await this.#reserveRecord(writer);
      try {
        const loaded = await Promise.all(held.map((job) => this.#load(writer, job)));
        const serial = Math.max(...loaded.map((r) => r.serial));
        const records = loaded.reduce(merge);
        const changed = change(records) !== false;
        if (changed || held.length > 1) {
          records.serial = serial + 1;
          await this.#putRecord(writer, records);
          // The old record's parts go with it (the record held, nobody else deletes them).
          for (const job of held) for (const id of [job.id, ...partsOf(job)]) await writer.delete(id);
        } else {
          for (const job of held) await writer.release(job.id, 0);
        }
        this.#replace(records);
      } catch (error) {
        // The connection is fine but something else failed: give the record back as it was.
        if (!writer.closed) for (const job of held) await writer.release(job.id, 0).catch(() => false);
        throw error;
      }
    });
    this.#writing = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs `fn` while holding the record, which is left as it was: a mutex shared by every process on this
   * server and prefix (the stack records use it to create their lock jobs exactly once).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#writing.then(async () => {
      const writer = await this.writer;
      const held = await this.#reserveRecord(writer);
      try {
        return await fn();
      } finally {
        if (!writer.closed) for (const job of held) await writer.release(job.id, 0).catch(() => false);
      }
    });
    this.#writing = run.catch(() => undefined);
    return run;
  }

  /** The record job(s), reserved; creates the first record when the tube has none at all. */
  async #reserveRecord(writer: BeanstalkClient): Promise<Job[]> {
    const deadline = Date.now() + WRITE_WAIT_MS;
    for (;;) {
      const first = await writer.reserve(0);
      if (first) {
        const held = [first];
        for (let more = await writer.reserve(0); more; more = await writer.reserve(0)) held.push(more);
        return held;
      }
      const stats = await (await this.reader).statsTube(this.tube);
      const exists =
        stats !== undefined && Number(stats['current-jobs-ready']) + Number(stats['current-jobs-reserved']) > 0;
      if (!exists) {
        await writer.put(0, 0, RECORD_TTR_SECONDS, serialise(empty()));
        continue;
      }
      if (Date.now() >= deadline) {
        throw new TimeoutError(
          `the beanstalkd topology record stayed reserved by another writer for ${WRITE_WAIT_MS} ms`,
        );
      }
      // Another writer holds it for a few round trips: wait for the server to hand it over.
      const job = await writer.reserve(1);
      if (job) {
        const held = [job];
        for (let more = await writer.reserve(0); more; more = await writer.reserve(0)) held.push(more);
        return held;
      }
    }
  }
}

/** Two records made at once by two processes: the union, later entries winning. */
function merge(a: Records, b: Records): Records {
  for (const [k, v] of b.exchanges) a.exchanges.set(k, v);
  for (const [k, v] of b.queues) a.queues.set(k, v);
  for (const [k, v] of b.bindings) a.bindings.set(k, v);
  for (const [k, v] of b.policies) a.policies.set(k, v);
  a.serial = Math.max(a.serial, b.serial);
  return a;
}
