/**
 * A {@link VirtualStore} on Redis, in kombu's layout: a queue is a list per priority step, a message
 * is kombu's JSON envelope, an in-flight message sits in kombu's `unacked` hash and `unacked_index`
 * zset. Python services on kombu or Celery and Wakame share queues both ways.
 *
 * What it does better than kombu (see `scripts.ts` and `key-watcher.ts`):
 * - claiming is one atomic script that pops and records (kombu's `BRPOP` then `HSET` loses a message
 *   to a crash in between), and it claims as many messages as the consumer's prefetch has room for;
 * - acks and requeues made in one event-loop turn go to Redis as one script call;
 * - leases have owners: a process renews its liveness key and the scores of what it holds, and a
 *   message is restored only when its owner stopped renewing, so a slow handler is never delivered
 *   twice while it still runs; kombu restores anything older than its visibility timeout;
 * - consumers sleep until a watched key changes instead of polling.
 */
import { hostname } from 'node:os';
import type {
  Claimed,
  ClaimOptions,
  QueueSpec,
  StackStateStore,
  StoredMessage,
  StoreFeatures,
  StoreOutcome,
  TransportStatus,
  VirtualStore,
} from '@wakame/core/spi';
import { ConnectionError } from '@wakame/core/spi';
import type { Redis } from 'ioredis';
import { encodeEnvelope } from '../internal/kombu-envelope.js';
import { Claims } from './claims.js';
import { guarded } from './client.js';
import { ClusterKeys } from './cluster-keys.js';
import { ClusterSignals } from './cluster-signals.js';
import { Coalesced } from './coalesced.js';
import { countConsumers } from './consumers.js';
import { KeyWatcher } from './key-watcher.js';
import { kombuPriority, RedisKeys, type StoreKeys, stepFor } from './keys.js';
import { dropOwner, renewLeases } from './leases.js';
import { loadLua } from './lua.js';
import { PubSubFanout } from './pubsub-fanout.js';
import { EXPIRY_SWEEP_MS, QueueExpiry } from './queue-expiry.js';
import { type Epoch, RedisTopology } from './redis-topology.js';
import { refileQueue } from './refile.js';
import { restoreExpiredLeases, restoreLostClaims } from './restore.js';
import { defineScripts, type ScriptedRedis } from './scripts.js';
import { RedisStacks } from './stacks.js';
import type { RedisStoreOptions } from './store-options.js';
import { type ChangeFeed, Wakeups } from './wakeups.js';
import { WriteBatcher } from './write-batcher.js';

/** Decrements an owner's consumer count atomically, removing the field (and so the key) at zero. */
const RELEASE_CONSUMER = loadLua('release-consumer');

export type { RedisStoreOptions } from './store-options.js';

const FEATURES: StoreFeatures = Object.freeze({
  priority: true,
  persistence: true,
  crossProcess: true,
  queueExpires: true,
});
const epochs = new Map<string, Epoch>();

export class RedisStore implements VirtualStore {
  readonly kind = 'redis';
  readonly identity: string;
  readonly features = FEATURES;
  readonly topology: RedisTopology;
  readonly keys: StoreKeys;
  /** State documents and apply locks of `wakame apply`, under `_wakame.stack.*` and `_wakame.lock.*`. */
  readonly #stacks: RedisStacks;

  /** State documents and apply locks of `wakame apply` (see {@link StackStateStore}). */
  get stacks(): StackStateStore {
    return this.#stacks;
  }
  /** Identifies this store's leases; the liveness key `_wakame.owner.<owner>` vouches for them. */
  readonly owner = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  readonly #redis: ScriptedRedis;
  readonly #events: Redis;
  readonly #watcher: ChangeFeed;
  readonly #fanout: PubSubFanout;
  readonly #expiry: QueueExpiry;
  readonly #options: RedisStoreOptions;
  readonly #epoch: Epoch;
  readonly #statusListeners = new Set<(status: TransportStatus) => void>();
  readonly #wakeups: Wakeups;
  readonly #claims: Claims;
  readonly #writes: WriteBatcher;
  #timers: NodeJS.Timeout[] = [];
  #state: 'new' | 'open' | 'closed' = 'new';

  constructor(redis: Redis, events: Redis, options: RedisStoreOptions) {
    this.#redis = defineScripts(redis);
    this.#events = events;
    this.#options = options;
    this.identity = options.identity;
    const steps = options.prioritySteps ?? [0, 3, 6, 9];
    const clusterKeys = options.layout === 'wakame' ? new ClusterKeys(options.keyPrefix ?? '', steps) : undefined;
    this.keys = clusterKeys ?? new RedisKeys(options.keyPrefix ?? '', steps);
    const epoch = epochs.get(options.identity) ?? { value: 0 };
    epochs.set(options.identity, epoch);
    this.#epoch = epoch;
    this.topology = new RedisTopology(
      redis,
      this.keys,
      epoch,
      () => this.#watcher.supported,
      () => this.#watcher.topologyWritten(),
    );
    this.#wakeups = new Wakeups(this.keys, this.topology, epoch, this.#report);
    const changed = (keys: readonly string[] | undefined) => this.#wakeups.changed(keys);
    this.#watcher = clusterKeys
      ? new ClusterSignals(redis, events, clusterKeys, this.owner, changed, this.#report)
      : new KeyWatcher(redis, events, changed, this.#report);
    this.#wakeups.watcher = this.#watcher;
    this.#writes = new WriteBatcher(
      this.#redis,
      this.keys,
      (q) => this.#wakeups.notify(q),
      this.#report,
      options.waitReplicas,
    );
    this.#expiry = new QueueExpiry(this.#redis, this.keys, this.topology, this.#report);
    this.#claims = new Claims({
      redis: this.#redis,
      keys: this.keys,
      owner: this.owner,
      writes: this.#writes,
      priorityOf: (queue, step) => this.#priorityOf(queue, step),
      touch: (queue) => this.#expiry.touch(queue),
      report: this.#report,
    });
    this.#fanout = new PubSubFanout(
      this.#redis,
      events,
      this.keys,
      options.db ?? 0,
      (q) => this.#wakeups.notify(q),
      this.#report,
    );
    this.#stacks = new RedisStacks(redis, {
      keyPrefix: options.keyPrefix ?? '',
      leaseMs: this.#leaseMs,
      // The transport's identity is `<scheme>://<host>:<port>/<db>/<keyprefix>` (no credentials): its database part.
      where: /^[a-z]+:\/\/[^/]*\/\d+(?=\/)/.exec(options.identity)?.[0] ?? options.identity,
      onError: this.#report,
    });
  }

  get #leaseMs(): number {
    return this.#options.leaseMs ?? 30_000;
  }

  readonly #report = (error: unknown): void => this.#options.onError?.(error);

  async open(): Promise<void> {
    const connect = this.#options.connect ?? ((client: Redis) => client.connect());
    await Promise.all([connect(this.#redis), connect(this.#events)]);
    // One outage for the connection however many of the two clients it takes down; back when both are.
    const down = new Set<Redis>();
    let attempt = 0;
    for (const client of [this.#redis, this.#events]) {
      client.on('reconnecting', () => {
        down.add(client);
        attempt++;
        this.#emit({ type: 'reconnecting', error: new ConnectionError('the connection to redis was lost'), attempt });
      });
      client.on('ready', () => {
        down.delete(client);
        if (down.size > 0) return;
        attempt = 0;
        this.#scheduleResync();
      });
    }
    await this.#renew();
    await this.#watcher.start();
    for (const watched of this.keys.topologyWatched) await this.#watcher.add(watched);
    // A cluster node failing over is no outage of the connection (ioredis moves to the promoted replica), but
    // a claim whose reply died with the old master may be held under our name: look for such claims.
    this.#redis.on('-node', () => this.#scheduleResync(false));
    this.#state = 'open';
    const every = (ms: number, task: () => Promise<unknown>) => {
      const timer = setInterval(() => void task().catch(this.#report), ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#leaseMs / 3, async () => {
      await this.#renew();
      // A safety net as cheap as the renewal: a notification lost with a connection is made up for here.
      this.#wakeups.all();
    });
    every(this.#leaseMs / 2 + Math.floor(Math.random() * 250), () => this.#restore());
    every(EXPIRY_SWEEP_MS, () => this.#expiry.sweep());
    every(this.#options.pollIntervalMs ?? 1_000, async () => {
      if (!this.#watcher.supported) this.#wakeups.polled(await this.#redis.get(this.keys.revision));
    });
    await this.#restore();
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    for (const timer of this.#timers) clearInterval(timer);
    this.#resync.cancel();
    await this.#writes.flush();
    // Whatever is still held (claimed, never handed out) goes back untouched.
    for (const receipt of [...this.#claims.held.values()]) await this.settle(receipt, 'release');
    await this.#writes.flush();
    await this.#stacks.close();
    await dropOwner(this.#redis, this.keys, this.owner, this.#scopes()).catch(this.#report);
    this.#events.disconnect();
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  async createQueue(): Promise<void> {}

  async deleteQueue(name: string): Promise<number> {
    const purged = await this.purge(name);
    // Every key of the queue goes with it: its consumer counters and its in-use marker (expiry), one DEL
    // each (in the cluster layout they are in different hash slots).
    await guarded(Promise.all([this.#redis.del(this.keys.consumers(name)), this.#redis.del(this.keys.used(name))]));
    return purged;
  }

  put(queue: string, message: StoredMessage): Promise<void> {
    if (this.topology.pubsubExchanges.has(message.exchange)) {
      return this.#fanout.publish(message.exchange, message.routingKey, message.properties, () =>
        encodeEnvelope(
          message,
          message.properties.priority === undefined ? 0 : kombuPriority(message.properties.priority),
        ),
      );
    }
    const wire = this.#wirePriority(queue, message.priority);
    return this.#writes.push(
      queue,
      this.keys.list(queue, stepFor(wire, this.keys.steps)),
      encodeEnvelope(message, wire),
    );
  }

  async get(queue: string, options?: ClaimOptions): Promise<Claimed | undefined> {
    return (await this.getMany(queue, 1, options))[0];
  }

  /** See `Claims.claim` (claims.ts). */
  getMany(queue: string, max: number, options: ClaimOptions = {}): Promise<Claimed[]> {
    return this.#claims.claim(queue, max, options);
  }

  settle(receipt: unknown, outcome: StoreOutcome): Promise<void> {
    return this.#claims.settle(receipt, outcome);
  }

  /** The body of a message claimed without it (over the bound), read from `unacked` for a dead-lettered copy. */
  readBody(receipt: unknown): Promise<Buffer> {
    return this.#claims.readBody(receipt);
  }

  async purge(queue: string): Promise<number> {
    const lists = this.keys.lists(queue);
    return (await guarded(this.#redis.wakamePURGE(lists.length, ...lists))) as number;
  }

  async size(queue: string): Promise<number> {
    const lists = this.keys.lists(queue);
    return (await guarded(this.#redis.wakameSIZE(lists.length, ...lists))) as number;
  }

  touch(queue: string): void {
    this.#expiry.touch(queue);
  }

  watch(listener: (queue: string) => void): () => void {
    return this.#wakeups.listen(listener);
  }

  addConsumer(queue: string): () => void {
    const unfollow = (this.topology.pubsubSources.get(queue) ?? []).map((exchange) =>
      this.#fanout.follow(queue, exchange),
    );
    const release = this.#wakeups.consume(queue);
    const unhold = this.#expiry.hold(queue);
    const counter = this.keys.consumers(queue);
    this.#redis.hincrby(counter, this.owner, 1).catch(this.#report);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const stop of unfollow) stop();
      unhold();
      release();
      // Sent on the same connection before any later consumerCount, so an auto-delete check sees it.
      // The last consumer removes its field, so a queue without consumers leaves no counter behind
      // (and a counter of a deleted queue is not recreated at -1).
      this.#redis.eval(RELEASE_CONSUMER, 1, counter, this.owner).catch(this.#report);
    };
  }

  /** Consumers of `queue` across every process whose lease is alive (a crashed one stops counting). */
  consumerCount(queue: string): Promise<number> {
    return guarded(countConsumers(this.#redis, this.keys, queue));
  }

  /**
   * The new record and every ready message re-filed under `to`'s priorities, in one script (see
   * `lua/refile.lua`). Pushes of this process still batched go first; a process that pushes before it
   * hears of the new record files its message under the old layout, which delays nothing but its order.
   */
  async reconfigureQueue(_from: QueueSpec, to: QueueSpec): Promise<void> {
    await this.#writes.flush();
    await guarded(refileQueue(this.#redis, this.keys, to));
    if (this.keys.kombu) this.topology.replaced(to);
    else await this.topology.putQueue(to);
    this.#wakeups.notify(to.name);
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * The kombu priority a message is filed under: non-priority queues keep one FIFO list (kombu's bare
   * key, priority 0); priority queues spread over kombu's steps, a message without priority lowest.
   */
  #wirePriority(queue: string, effective: number): number {
    if (this.topology.queueSpecs.get(queue)?.maxPriority === undefined) return 0;
    return kombuPriority(effective);
  }

  #priorityOf(queue: string, step: number): number {
    const max = this.topology.queueSpecs.get(queue)?.maxPriority;
    return max === undefined ? 0 : Math.min(kombuPriority(step), max);
  }

  /** Liveness key(s) plus the scores of every held message, so neither Wakame nor kombu restores them. */
  #renew(): Promise<void> {
    return renewLeases(this.#redis, this.keys, {
      owner: this.owner,
      leaseMs: this.#leaseMs,
      held: this.#claims.held.values(),
      queues: this.#wakeups.consumers(),
    });
  }

  /** The queues whose restore scopes may hold something of this store's. */
  #scopes(): string[] {
    return [...new Set([...this.#claims.claimedFrom, ...[...this.#wakeups.consumers()].map(([queue]) => queue)])];
  }

  async #restore(): Promise<void> {
    const restored = await restoreExpiredLeases(this.#redis, this.keys, {
      leaseMs: this.#leaseMs,
      visibilityTimeoutMs: this.#options.visibilityTimeoutMs ?? 3_600_000,
      exchangeType: (name) => this.topology.exchangeType(name),
    });
    for (const queue of restored) this.#wakeups.notify(queue);
  }

  /**
   * After a reconnect: claims whose reply was lost with the connection are held in Redis under this
   * owner but unknown here, so they would be renewed forever; they go back to their queues now.
   */
  readonly #resync = new Coalesced((announce) => this.#reconnected(announce));

  #scheduleResync(announce = true): void {
    this.#resync.schedule(announce);
  }

  async #reconnected(announce: boolean): Promise<void> {
    if (this.#state !== 'open') return;
    try {
      // Tracking is per connection: a new command connection or a new events connection (new id) needs it again.
      await this.#watcher.start();
      await this.#fanout.resubscribe();
      this.topology.forgetBindingSets();
      await this.#renew();
      // Counters a peer may have dropped while our lease had lapsed: ours are re-asserted.
      for (const [queue, count] of this.#wakeups.consumers()) {
        await this.#redis.hset(this.keys.consumers(queue), this.owner, count);
      }
      const queues = this.#scopes();
      const settled = () => this.#claims.settled();
      for (const queue of await restoreLostClaims(
        this.#redis,
        this.keys,
        this.owner,
        this.#claims.held,
        queues,
        settled,
      ))
        this.#wakeups.notify(queue);
      this.#epoch.value++;
      // Named by where the client is now: after a Sentinel failover, the promoted master, not the sentinel.
      if (announce) this.#emit({ type: 'reconnected', url: this.#options.connectedUrl?.() ?? this.identity });
      this.#wakeups.all();
    } catch (error) {
      this.#report(error);
    }
  }

  #emit(status: TransportStatus): void {
    for (const listener of this.#statusListeners) listener(status);
  }
}
