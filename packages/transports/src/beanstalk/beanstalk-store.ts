/**
 * The beanstalkd store: each queue is a tube, each message a job; routing, TTL, dead-lettering and
 * the rest come from the virtual transport. Connections: one for puts and stats, one per consumed
 * queue for claims (a reserved job belongs to the connection that reserved it), one per consumed
 * queue that waits for new jobs ({@link Waiter}), and two shared by the process for the topology record.
 *
 * @module
 */
import type {
  Claimed,
  ClaimOptions,
  QueueSpec,
  RecoveryPolicy,
  StackStateStore,
  StoredMessage,
  StoreFeatures,
  StoreOutcome,
  TopologyStore,
  TransportStatus,
  VirtualStore,
} from '@wakame/core/spi';
import { ConnectionClosedError } from '@wakame/core/spi';
import { BeanstalkTopology } from './beanstalk-topology.js';
import { Claimer, type Receipt } from './claimer.js';
import type { BeanstalkClient } from './client.js';
import { decodeJob, encodeJob, jobPriority, queueTube, recordTube, requeuedPriority, splitBody } from './jobs.js';
import { ProducerLink } from './producer-link.js';
import { BeanstalkStacks } from './stacks.js';
import { Waiter } from './waiter.js';

/** How a {@link BeanstalkStore} reaches its server and names its tubes. */
export interface BeanstalkStoreOptions {
  /** `host:port`, for messages. */
  readonly server: string;
  /** Names the broker and prefix (no credentials): stores of one identity share topology and expiry sweeps. */
  readonly identity: string;
  /** Put before every tube name. */
  readonly prefix: string;
  /** Time-to-run of every job (seconds): a claimed message returns to its queue if its holder stops touching it this long. */
  readonly ttrSeconds: number;
  /** How often the topology record is read again for other processes' changes (ms). */
  readonly topologyPollMs: number;
  /**
   * `publish`: every publish checks that the topology record is unchanged (a round trip shared by the
   * publishes of one moment); `poll`: publishes route by the polled record. @defaultValue `'publish'`
   */
  readonly topologyCheck?: 'publish' | 'poll';
  /** How the main connection is made again after a loss (the connection's policy). */
  readonly recovery?: RecoveryPolicy;
  /** Opens a new connection to the server. */
  readonly connect: (signal?: AbortSignal) => Promise<BeanstalkClient>;
  readonly onError: (error: unknown) => void;
}

const FEATURES: StoreFeatures = Object.freeze({ priority: true, persistence: true, crossProcess: true });
/** How soon consumers claim again after a claim failed (the server away). */
const RETRY_MS = 1_000;
/**
 * Consumers claim again this often even when no waiter woke them. Waiters make wake-ups immediate; this
 * bounds the stall should one ever be missed (a job handed between connections at an unlucky moment),
 * at the cost of one claim round trip per consumed queue while it is idle.
 */
const SAFETY_WAKE_MS = 2_000;
/** Claims of a purge: how many reserves go out together. */
const PURGE_BATCH = 100;

/** The topology of one identity, shared by the stores of this process, with how many have it open. */
interface SharedTopology {
  readonly topology: BeanstalkTopology;
  opened: Promise<void> | undefined;
  users: number;
}
const topologies = new Map<string, SharedTopology>();

/** A {@link VirtualStore} over beanstalkd tubes. */
export class BeanstalkStore implements VirtualStore {
  readonly kind = 'beanstalk';
  readonly features = FEATURES;
  readonly identity: string;
  /** Stack records and the apply lock of `wakame apply`. */
  readonly stacks: StackStateStore;
  readonly #shared: SharedTopology;
  #joined = false;
  readonly #link: ProducerLink;
  readonly #claimers = new Map<string, Promise<Claimer>>();
  readonly #waiters = new Map<string, Promise<Waiter>>();
  readonly #consumers = new Map<string, Set<string>>();
  readonly #listeners = new Set<(queue: string) => void>();
  /** The server's `max-job-size`: a larger message is put in parts. */
  #maxJobSize = 65_535;
  #unchanged: (() => void) | undefined;
  #touchTimer: NodeJS.Timeout | undefined;
  #safetyTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly options: BeanstalkStoreOptions) {
    this.identity = options.identity;
    let shared = topologies.get(this.identity);
    if (!shared) {
      const tube = recordTube(options.prefix, 'topology');
      const parts = recordTube(options.prefix, 'parts');
      const topology = new BeanstalkTopology(
        () => options.connect(),
        tube,
        parts,
        options.topologyPollMs,
        options.onError,
        options.topologyCheck !== 'poll',
      );
      shared = { topology, opened: undefined, users: 0 };
      topologies.set(this.identity, shared);
    }
    this.#shared = shared;
    this.#link = new ProducerLink(options.connect, `beanstalk://${options.server}`, options.recovery ?? {}, () => {
      for (const queue of this.#consumers.keys()) this.#notify(queue);
    });
    this.stacks = new BeanstalkStacks(() => options.connect(), options.prefix, options.server, shared.topology);
  }

  get topology(): TopologyStore {
    return this.#shared.topology;
  }

  async open(signal?: AbortSignal): Promise<void> {
    const producer = await this.#link.open(signal);
    try {
      this.#maxJobSize = Number((await producer.stats())['max-job-size'] ?? this.#maxJobSize);
      await this.#joinTopology();
      this.#joined = true;
      // A queue deleted through another store (of this process, or another one, seen by the poll) must end
      // this store's consumers of it: the transport checks the topology when told of a consumed queue.
      this.#unchanged = this.#shared.topology.onChange(() => {
        for (const queue of this.#consumers.keys()) this.#notify(queue);
      });
    } catch (error) {
      this.#link.close();
      throw error;
    }
    // Touch held jobs well inside their TTR, so only a process that stopped loses them.
    this.#touchTimer = setInterval(() => this.#touchAll(), (this.options.ttrSeconds * 1000) / 3);
    this.#touchTimer.unref();
    this.#safetyTimer = setInterval(() => {
      for (const queue of this.#consumers.keys()) this.#notify(queue);
    }, SAFETY_WAKE_MS);
    this.#safetyTimer.unref();
  }

  /** Opens the shared topology of this identity (the first store of the process to open reads the record). */
  async #joinTopology(): Promise<void> {
    const shared = this.#shared;
    if (topologies.get(this.identity) !== shared) throw new ConnectionClosedError('beanstalk store was closed');
    shared.users++;
    shared.opened ??= shared.topology.open();
    try {
      await shared.opened;
    } catch (error) {
      shared.opened = undefined;
      shared.users--;
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#touchTimer);
    clearInterval(this.#safetyTimer);
    this.#unchanged?.();
    for (const waiter of this.#waiters.values())
      void waiter.then(
        (w) => w.close(),
        () => undefined,
      );
    // Closing a claim connection hands its unsettled jobs back to their tubes: nothing is lost.
    for (const claimer of this.#claimers.values())
      void claimer.then(
        (c) => c.client.close(),
        () => undefined,
      );
    this.#link.close();
    const shared = this.#shared;
    if (this.#joined && --shared.users === 0) {
      if (topologies.get(this.identity) === shared) topologies.delete(this.identity);
      shared.topology.close();
    }
  }

  async createQueue(): Promise<void> {
    // A tube exists while it has jobs or watchers: nothing to create.
  }

  async deleteQueue(name: string): Promise<number> {
    const n = await this.purge(name);
    this.#notify(name);
    return n;
  }

  async put(queue: string, message: StoredMessage): Promise<void> {
    const producer = await this.#link.client();
    let job = encodeJob(message);
    if (job.length > this.#maxJobSize) {
      // Parts first, so the message's job never names a part that is not there yet.
      this.#use(producer, recordTube(this.options.prefix, 'parts'));
      const ttr = this.options.ttrSeconds;
      const parts = await Promise.all(
        splitBody(message.body, this.#maxJobSize).map((part) => producer.put(0, 0, ttr, part)),
      );
      job = encodeJob(message, parts);
    }
    this.#use(producer, queueTube(this.options.prefix, queue));
    await producer.put(jobPriority(message.priority, false), 0, this.options.ttrSeconds, job);
    this.#notify(queue);
  }

  /** Switches the producer's tube; commands run in order, so the `use` need not be awaited before a put. */
  #use(producer: BeanstalkClient, tube: string): void {
    if (this.#link.using === tube) return;
    this.#link.using = tube;
    void producer.use(tube).catch(() => undefined);
  }

  async get(queue: string, options?: ClaimOptions): Promise<Claimed | undefined> {
    return (await this.getMany(queue, 1, options))[0];
  }

  async getMany(queue: string, max: number, _options?: ClaimOptions): Promise<Claimed[]> {
    let claimed: Claimed[];
    try {
      claimed = await (await this.#claimer(queue)).claim(max);
    } catch (error) {
      // The server is away: nothing would wake the consumers once it is back, so they try again shortly.
      if (this.#consumers.has(queue) && !this.#closed) setTimeout(() => this.#notify(queue), RETRY_MS).unref();
      throw error;
    }
    if (claimed.length === 0 && this.#consumers.has(queue))
      void this.#waiter(queue).then((w) => w.arm(), this.options.onError);
    return claimed;
  }

  async settle(receipt: unknown, outcome: StoreOutcome): Promise<void> {
    const r = receipt as Receipt;
    await r.claimer.settle(r, outcome);
    if (outcome !== 'ack') this.#notify(r.claimer.queue);
  }

  async purge(queue: string): Promise<number> {
    const claimer = await this.#claimer(queue);
    let purged = 0;
    for (;;) {
      const jobs = await claimer.client.reserveReady(PURGE_BATCH);
      const ids = jobs.flatMap((job) => [job.id, ...decodeJob(job.id, job.body, queue, false).parts]);
      await Promise.all(ids.map((id) => claimer.client.delete(id)));
      purged += jobs.length;
      if (jobs.length < PURGE_BATCH) return purged;
    }
  }

  /**
   * Swaps the queue's record, then re-files its ready jobs: reserves them all (on a connection of its own,
   * until the tube is empty) and releases each with the priority `to` gives it, keeping whether it was
   * requeued. Every job stays in the tube throughout (a reserved job is still there), so none is lost or
   * doubled; interrupted, the connection's close puts the rest back as they were, and a second run
   * re-files them. Jobs other consumers hold keep their priority, as the SPI allows.
   */
  async reconfigureQueue(_from: QueueSpec, to: QueueSpec): Promise<void> {
    await this.topology.putQueue(to);
    const client = await this.#watching(to.name);
    try {
      const held: { id: number; pri: number }[] = [];
      for (;;) {
        const jobs = await client.reserveReady(PURGE_BATCH);
        const stats = await Promise.all(jobs.map((job) => client.statsJob(job.id)));
        for (const [i, job] of jobs.entries()) {
          const pri = Number(stats[i]?.pri ?? jobPriority(0, false));
          const { message } = decodeJob(job.id, job.body, to.name, false);
          const wanted = to.maxPriority === undefined ? 0 : Math.min(message.properties.priority ?? 0, to.maxPriority);
          held.push({ id: job.id, pri: pri >= 512 ? pri : jobPriority(wanted, requeuedPriority(pri)) });
        }
        if (jobs.length < PURGE_BATCH) break;
      }
      await Promise.all(held.map((job) => client.release(job.id, job.pri)));
    } finally {
      client.close();
    }
    this.#notify(to.name);
  }

  async size(queue: string): Promise<number> {
    const stats = await (await this.#link.client()).statsTube(queueTube(this.options.prefix, queue));
    return stats ? Number(stats['current-jobs-ready']) : 0;
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    return this.#link.onStatus(listener);
  }

  watch(listener: (queue: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  addConsumer(queue: string, tag: string): () => void {
    const tags = this.#consumers.get(queue) ?? new Set<string>();
    this.#consumers.set(queue, tags);
    tags.add(tag);
    // The new consumer starts by claiming; an empty queue arms the waiter then.
    return () => {
      tags.delete(tag);
      if (tags.size > 0 || this.#consumers.get(queue) !== tags) return;
      this.#consumers.delete(queue);
      const waiter = this.#waiters.get(queue);
      this.#waiters.delete(queue);
      void waiter?.then(
        (w) => w.close(),
        () => undefined,
      );
    };
  }

  /**
   * Consumers of this process only: beanstalkd's `current-watching` counts every connection watching
   * the tube, waiters and idle claim connections included, so it cannot say how many consume.
   */
  async consumerCount(queue: string): Promise<number> {
    return this.#consumers.get(queue)?.size ?? 0;
  }

  /** The queue's claim connection; a new one when the last was lost (its jobs went back to the tube). */
  #claimer(queue: string): Promise<Claimer> {
    return this.#perQueue(
      this.#claimers,
      queue,
      (c) => c.client.closed && !this.#closed,
      (client) => new Claimer(queue, client),
    );
  }

  #waiter(queue: string): Promise<Waiter> {
    return this.#perQueue(
      this.#waiters,
      queue,
      (w) => w.closed,
      (client) => new Waiter(client, () => this.#notify(queue), this.options.onError),
    );
  }

  /**
   * The queue's entry of `map`, made by `make` on a connection of its own (`#watching`) when there is
   * none or it is `lost`; a failed one is forgotten, so the next call makes another.
   */
  #perQueue<T>(
    map: Map<string, Promise<T>>,
    queue: string,
    lost: (entry: T) => boolean,
    make: (client: BeanstalkClient) => T,
  ): Promise<T> {
    const renew = (previous: Promise<T> | undefined): Promise<T> => {
      if (this.#closed) return Promise.reject(new ConnectionClosedError('beanstalk store is closed'));
      if (previous && map.get(queue) !== previous) return this.#perQueue(map, queue, lost, make);
      const made = this.#watching(queue).then(make);
      map.set(queue, made);
      made.catch(() => {
        if (map.get(queue) === made) map.delete(queue);
      });
      return made;
    };
    const existing = map.get(queue);
    return existing ? existing.then((entry) => (lost(entry) ? renew(existing) : entry)) : renew(undefined);
  }

  /** A new connection that watches the queue's tube and nothing else. */
  async #watching(queue: string): Promise<BeanstalkClient> {
    const tube = queueTube(this.options.prefix, queue);
    const client = await this.options.connect();
    try {
      await client.watch(tube);
      await client.ignore('default');
      return client;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  #touchAll(): void {
    for (const claimer of this.#claimers.values()) {
      void claimer.then((c) => c.touchAll()).catch(this.options.onError);
    }
  }

  #notify(queue: string): void {
    for (const listener of this.#listeners) listener(queue);
  }
}
