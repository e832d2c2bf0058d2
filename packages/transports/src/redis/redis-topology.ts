/**
 * Topology records in Redis, shared by every process on the database.
 *
 * Wakame's records (exchange types and arguments, queue arguments, bindings with their arguments,
 * policies) live in `_wakame.exchanges`, `_wakame.queues`, `_wakame.bindings` and `_wakame.policies`
 * hashes; kombu persists only
 * bindings and forgets exchange types, so a kombu process that never declared a topic exchange routes
 * through it as direct. Queue bindings are mirrored into kombu's `_kombu.binding.<exchange>` sets
 * (with kombu's exact topic regex) so Python producers reach Wakame's queues, and bindings kombu
 * made are read back, so Wakame producers reach kombu's queues.
 */
import type {
  BindingSpec,
  ExchangeSpec,
  ExchangeType,
  PolicySpec,
  QueueSpec,
  TopologySnapshot,
  TopologyStore,
} from '@wakame/core/spi';
import { bindingKey, InvalidArgumentError, policyKeyOf, policyRecordKey } from '@wakame/core/spi';
import type { Redis } from 'ioredis';
import { guarded } from './client.js';
import { bindingMember, escapeGlob, kombuTopicPattern, parseBindingMember, type StoreKeys } from './keys.js';
import { FANOUT_MODE_ARGUMENT, PUBSUB_MODE } from './pubsub-fanout.js';

/** A revision counter shared by every store instance of one process that reaches the same database and prefix. */
export interface Epoch {
  value: number;
}

const SCAN_COUNT = 500;

export class RedisTopology implements TopologyStore {
  /** Queue records as of the last snapshot or local write: the store's priority layout depends on them. */
  readonly queueSpecs = new Map<string, QueueSpec>();
  /** Fanout exchanges in kombu's PUB/SUB mode, as of the last snapshot or local write. */
  readonly pubsubExchanges = new Set<string>();
  /** Queue → the PUB/SUB exchanges it is bound to. */
  readonly pubsubSources = new Map<string, string[]>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: StoreKeys,
    private readonly epoch: Epoch,
    /** Whether the store receives notifications for binding-set keys (else every snapshot scans). */
    private readonly tracked: () => boolean,
    /** This process changed a record (other processes may need telling: the change feed's `topologyWritten`). */
    private readonly written: () => void = () => {},
  ) {}

  /**
   * Moves whenever a record changes: at once for this process's writes, within milliseconds for other
   * processes' (the store bumps it on Redis's key-change notifications).
   */
  revision(): number {
    return this.epoch.value;
  }

  snapshot(): Promise<TopologySnapshot> {
    return guarded(this.#snapshot());
  }

  async #snapshot(): Promise<TopologySnapshot> {
    const revision = this.epoch.value;
    const k = this.keys;
    const [exchanges, queues, bindings, policies] = (await this.redis
      .multi()
      .hvals(k.exchanges)
      .hvals(k.queues)
      .hvals(k.bindings)
      .hvals(k.policies)
      .exec()
      .then((rows) => (rows ?? []).map(([error, value]) => (error ? [] : (value as string[]))))) as [
      string[],
      string[],
      string[],
      string[],
    ];
    const snapshot = {
      revision,
      exchanges: exchanges.map((s) => JSON.parse(s) as ExchangeSpec),
      queues: queues.map((s) => JSON.parse(s) as QueueSpec),
      bindings: bindings.map((s) => JSON.parse(s) as BindingSpec),
      policies: policies.map((s) => JSON.parse(s) as PolicySpec),
      inferred: { exchanges: [] as string[], queues: [] as string[] },
    };
    // The cluster layout has no kombu peers, hence no binding sets to read (and no database-wide SCAN).
    if (this.keys.kombu) await this.#addKombuRecords(snapshot);
    this.queueSpecs.clear();
    for (const q of snapshot.queues) this.queueSpecs.set(q.name, q);
    this.pubsubExchanges.clear();
    for (const e of snapshot.exchanges) if (isPubSub(e)) this.pubsubExchanges.add(e.name);
    this.pubsubSources.clear();
    for (const b of snapshot.bindings) this.#notePubSubBinding(b);
    return snapshot;
  }

  /**
   * Bindings only kombu made (no Wakame record mirrors them) join the snapshot as plain queue
   * bindings, with the exchanges and queues they name. kombu does not record exchange types: a
   * binding set whose members carry a regex is a topic exchange, any other is taken as direct.
   */
  async #addKombuRecords(snapshot: {
    exchanges: ExchangeSpec[];
    queues: QueueSpec[];
    bindings: BindingSpec[];
    inferred: { exchanges: string[]; queues: string[] };
  }): Promise<void> {
    const known = new Set(snapshot.bindings.map((b) => `${b.source}\u0000${b.destination}\u0000${b.routingKey}`));
    const exchanges = new Set(snapshot.exchanges.map((e) => e.name));
    const queues = new Set(snapshot.queues.map((q) => q.name));
    const sets = [...(await this.#bindingSets())];
    const pipeline = this.redis.pipeline();
    for (const key of sets) pipeline.smembers(key);
    const replies = sets.length > 0 ? ((await pipeline.exec()) ?? []) : [];
    for (const [i, key] of sets.entries()) {
      const exchange = key.slice(this.keys.bindingPrefix.length);
      const [error, reply] = replies[i] ?? [null, []];
      if (error) throw error;
      const members = (reply as string[]).map(parseBindingMember);
      // An emptied set is gone from Redis (and from kombu's view): it names no exchange.
      if (!members.some(Boolean)) continue;
      let topic = false;
      for (const m of members) {
        if (!m) continue;
        if (m.pattern !== '') topic = true;
        if (known.has(`${exchange}\u0000${m.queue}\u0000${m.routingKey}`)) continue;
        snapshot.bindings.push({
          source: exchange,
          destination: m.queue,
          destinationType: 'queue',
          routingKey: m.routingKey,
          arguments: {},
        });
        if (!queues.has(m.queue)) {
          queues.add(m.queue);
          snapshot.queues.push(kombuQueue(m.queue));
          snapshot.inferred.queues.push(m.queue);
        }
      }
      if (!exchanges.has(exchange) && exchange !== '') {
        exchanges.add(exchange);
        snapshot.exchanges.push({
          name: exchange,
          type: topic ? 'topic' : 'direct',
          durable: true,
          autoDelete: false,
          internal: false,
          arguments: {},
        });
        snapshot.inferred.exchanges.push(exchange);
      }
    }
  }

  /**
   * kombu's binding-set keys. Finding them takes a SCAN of the whole database, so it runs once and the
   * list is then kept by the store from key-change notifications ({@link noteBindingSet}); it is
   * forgotten (and scanned again) when notifications cannot be trusted: no tracking, FLUSHDB, reconnect.
   */
  async #bindingSets(): Promise<Set<string>> {
    if (this.#knownSets) return this.#knownSets;
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(
        cursor,
        'MATCH',
        `${escapeGlob(this.keys.bindingPrefix)}*`,
        'COUNT',
        SCAN_COUNT,
      );
      cursor = next;
      for (const key of keys) found.add(key);
    } while (cursor !== '0');
    if (this.tracked()) this.#knownSets = found;
    return found;
  }

  #knownSets: Set<string> | undefined;

  /** A binding-set key was written (by anyone). */
  noteBindingSet(key: string): void {
    this.#knownSets?.add(key);
  }

  /** The cached binding-set keys may be wrong (a flush, a reconnect): scan again next time. */
  forgetBindingSets(): void {
    this.#knownSets = undefined;
  }

  putExchange(spec: ExchangeSpec): Promise<void> {
    return guarded(this.#putExchange(spec));
  }

  async #putExchange(spec: ExchangeSpec): Promise<void> {
    const mode = spec.arguments[FANOUT_MODE_ARGUMENT];
    if (mode !== undefined && (spec.type !== 'fanout' || (mode !== PUBSUB_MODE && mode !== 'copy'))) {
      throw new InvalidArgumentError(
        `exchange '${spec.name}': ${FANOUT_MODE_ARGUMENT} is 'copy' (the default: a durable copy per bound queue) ` +
          `or '${PUBSUB_MODE}' (kombu's ephemeral PUB/SUB), and only for fanout exchanges; got ${JSON.stringify(mode)} on a ${spec.type} exchange`,
      );
    }
    if (isPubSub(spec)) this.pubsubExchanges.add(spec.name);
    await this.#write(this.redis.multi().hset(this.keys.exchanges, spec.name, JSON.stringify(spec)));
  }

  deleteExchange(name: string): Promise<void> {
    return guarded(this.#deleteExchange(name));
  }

  async #deleteExchange(name: string): Promise<void> {
    await this.#write(this.redis.multi().hdel(this.keys.exchanges, name));
  }

  putQueue(spec: QueueSpec): Promise<void> {
    return guarded(this.#putQueue(spec));
  }

  async #putQueue(spec: QueueSpec): Promise<void> {
    this.queueSpecs.set(spec.name, spec);
    const tx = this.redis.multi().hset(this.keys.queues, spec.name, JSON.stringify(spec));
    if (spec.expires !== undefined) tx.set(this.keys.used(spec.name), '1', 'PX', spec.expires);
    await this.#write(tx);
  }

  putPolicy(spec: PolicySpec): Promise<void> {
    return guarded(this.#write(this.redis.multi().hset(this.keys.policies, policyKeyOf(spec), JSON.stringify(spec))));
  }

  deletePolicy(operator: boolean, vhost: string, name: string): Promise<void> {
    return guarded(this.#write(this.redis.multi().hdel(this.keys.policies, policyRecordKey(operator, vhost, name))));
  }

  /** A queue's record was replaced by another module in one script (a migration): keep the local view in step. */
  replaced(spec: QueueSpec): void {
    this.queueSpecs.set(spec.name, spec);
    this.epoch.value++;
    this.written();
  }

  /** Another party deleted `name`'s record: forget it here too (and move the revision). */
  forget(name: string): void {
    this.queueSpecs.delete(name);
    this.epoch.value++;
    this.written();
  }

  deleteQueue(name: string): Promise<void> {
    return guarded(this.#deleteQueue(name));
  }

  async #deleteQueue(name: string): Promise<void> {
    this.queueSpecs.delete(name);
    await this.#write(this.redis.multi().hdel(this.keys.queues, name));
  }

  addBinding(binding: BindingSpec): Promise<boolean> {
    return guarded(this.#addBinding(binding));
  }

  async #addBinding(binding: BindingSpec): Promise<boolean> {
    const added = await this.redis.hsetnx(this.keys.bindings, bindingKey(binding), JSON.stringify(binding));
    if (added === 0) return false;
    const member = this.keys.kombu ? kombuMember(binding, await this.exchangeType(binding.source)) : undefined;
    const tx = this.redis.multi();
    if (member) tx.sadd(this.keys.binding(binding.source), member);
    await this.#write(tx);
    if (member) this.noteBindingSet(this.keys.binding(binding.source));
    this.#notePubSubBinding(binding);
    return true;
  }

  removeBinding(binding: BindingSpec): Promise<boolean> {
    return guarded(this.#removeBinding(binding));
  }

  async #removeBinding(binding: BindingSpec): Promise<boolean> {
    const removed = await this.redis.hdel(this.keys.bindings, bindingKey(binding));
    if (removed === 0) return false;
    const type = await this.exchangeType(binding.source);
    const member = this.keys.kombu ? kombuMember(binding, type) : undefined;
    const tx = this.redis.multi();
    // Bindings differing only in arguments share one kombu member: it goes with the last of them.
    if (member && !(await this.#stillMirrored(binding, member, type))) {
      tx.srem(this.keys.binding(binding.source), member);
    }
    await this.#write(tx);
    return true;
  }

  /** The persisted type of exchange `name`; undefined when only kombu knows it (or nobody). */
  async exchangeType(name: string): Promise<ExchangeType | undefined> {
    const raw = await this.redis.hget(this.keys.exchanges, name);
    return raw ? (JSON.parse(raw) as ExchangeSpec).type : undefined;
  }

  /** Whether another binding of `removed`'s exchange (of type `type`) still maps to `member`. */
  async #stillMirrored(removed: BindingSpec, member: string, type: ExchangeType | undefined): Promise<boolean> {
    for (const raw of await this.redis.hvals(this.keys.bindings)) {
      const b = JSON.parse(raw) as BindingSpec;
      if (b.source === removed.source && kombuMember(b, type) === member) return true;
    }
    return false;
  }

  #notePubSubBinding(b: BindingSpec): void {
    if (b.destinationType !== 'queue' || !this.pubsubExchanges.has(b.source)) return;
    const sources = this.pubsubSources.get(b.destination) ?? [];
    if (!sources.includes(b.source)) this.pubsubSources.set(b.destination, [...sources, b.source]);
  }

  async #write(tx: ReturnType<Redis['multi']>): Promise<void> {
    tx.incr(this.keys.revision);
    const results = await tx.exec();
    for (const [error] of results ?? []) if (error) throw error;
    this.epoch.value++;
    this.written();
  }
}

/**
 * kombu's member for a queue binding on an exchange of `type` (kombu takes an unknown one as direct);
 * none for what kombu cannot route (headers, exchange-to-exchange).
 */
function kombuMember(binding: BindingSpec, type: ExchangeType | undefined): string | undefined {
  if (binding.destinationType !== 'queue' || type === 'headers') return undefined;
  const pattern = type === 'topic' ? kombuTopicPattern(binding.routingKey) : '';
  return bindingMember(binding.routingKey, pattern, binding.destination);
}

function isPubSub(spec: ExchangeSpec): boolean {
  return spec.type === 'fanout' && spec.arguments[FANOUT_MODE_ARGUMENT] === PUBSUB_MODE;
}

/** The record of a queue only kombu knows: durable, no arguments. */
function kombuQueue(name: string): QueueSpec {
  return { name, durable: true, exclusive: false, autoDelete: false, arguments: {} };
}
