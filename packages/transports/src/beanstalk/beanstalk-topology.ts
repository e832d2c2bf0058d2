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
 * Readers peek at the ready record. Before routing, a publish asks whether it changed (one
 * `stats-tube` per moment, shared by the publishes of that moment), so a binding another process just
 * declared is honoured; `?topology_check=poll` trades that for reading it every `?topology_poll=ms`
 * only. Declarations made through any store of this process are seen at once (stores of one broker
 * share this object), and every process polls too, so idle consumers learn of a deleted queue.
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
import { sameRecord } from '../internal/same-record.js';
import type { BeanstalkClient, Job } from './client.js';
import {
  empty,
  merge,
  type PartsPointer,
  parse,
  partsOf,
  plain,
  RecordMoved,
  type Records,
  serialise,
} from './topology-record.js';

/** How long a writer waits for another writer's hold on the record before failing. */
const WRITE_WAIT_MS = 30_000;
/** The record job's TTR: a writer holds it for a few round trips; a hung one loses it after this. */
const RECORD_TTR_SECONDS = 30;

/** The topology records of one beanstalkd broker (one URL prefix), shared by the stores of a process. */
export class BeanstalkTopology implements TopologyStore {
  #records: Records = empty();
  /** How many times {@link BeanstalkTopology.#records} was replaced: a read begun before a replacement is stale. */
  #replaced = 0;
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
  #checking: Promise<number> | undefined;
  /** The record tube's `total-jobs` when the record was last read. */
  #seenJobs = -1;
  readonly #listeners = new Set<() => void>();

  constructor(
    private readonly connect: () => Promise<BeanstalkClient>,
    /** The record tube (`<prefix>(wakame)topology`). */
    private readonly tube: string,
    /** Where a record too large for one job keeps its parts. */
    private readonly partsTube: string,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
    /** Whether {@link BeanstalkTopology.revision} asks the server each time (see there). */
    private readonly checkOnPublish = true,
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
    this.#writer = this.#live(this.#writer, (client) => client.useOnly(this.tube));
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

  /**
   * Reads the ready record; keeps what it has when a writer holds the record right now.
   * @returns whether the record was read.
   */
  async refresh(): Promise<boolean> {
    const replaced = this.#replaced;
    const reader = await this.reader;
    const job = await reader.peekReady();
    if (!job) return false;
    let records: Records;
    try {
      records = await this.#load(reader, job);
    } catch (error) {
      if (error instanceof RecordMoved) return false;
      throw error;
    }
    // A write of this process that finished while the peek travelled made newer records than the peek
    // saw (the reply of the writer's connection can be read before the reader's): keep those. Comparing
    // serials would not do, since a record made again from scratch starts its serial over.
    if (this.#replaced !== replaced) return true;
    if (records.serial !== this.#records.serial) this.#replace(records);
    return true;
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

  /**
   * With `checkOnPublish`, every call asks the server whether the record changed (`stats-tube` of its
   * tube: `total-jobs` moves with every replacement), calls of one moment sharing one round trip, and
   * reads it again if so: a publish never routes by a topology another process has changed. Otherwise
   * the polled record's serial, at once.
   */
  revision(): number | Promise<number> {
    if (!this.checkOnPublish) return this.#records.serial;
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #check(): Promise<number> {
    const stats = await (await this.reader).statsTube(this.tube);
    const total = Number(stats?.['total-jobs'] ?? 0);
    if (total !== this.#seenJobs && (await this.refresh())) this.#seenJobs = total;
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
    return this.#update((r) => putChanged(r.exchanges, spec.name, spec));
  }

  deleteExchange(name: string): Promise<void> {
    return this.#update((r) => r.exchanges.delete(name));
  }

  putQueue(spec: QueueSpec): Promise<void> {
    return this.#update((r) => putChanged(r.queues, spec.name, spec));
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
    return this.#update((r) => putChanged(r.policies, policyKeyOf(spec), spec));
  }

  deletePolicy(operator: boolean, vhost: string, name: string): Promise<void> {
    return this.#update((r) => r.policies.delete(policyRecordKey(operator, vhost, name)));
  }

  #replace(records: Records): void {
    this.#replaced++;
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
      if (first) return [first, ...(await writer.reserveAll())];
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
      if (job) return [job, ...(await writer.reserveAll())];
    }
  }
}

/**
 * Sets `map[key]` to a plain copy of `spec`; false when it already held the same, so a redeclaration
 * (every consumer declares its queues) leaves the record, its serial and every reader's copy alone.
 */
function putChanged<T extends object>(map: Map<string, T>, key: string, spec: T): boolean {
  const copy = plain(spec);
  const before = map.get(key);
  if (before !== undefined && sameRecord(before, copy)) return false;
  map.set(key, copy);
  return true;
}
