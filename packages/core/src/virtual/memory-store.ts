/**
 * Memory transport (virtual). URL: `memory://[name]` — connections in one process that use the same
 * name share one broker; different names are isolated brokers (handy for parallel tests).
 *
 * | exchange types | priority | TTL | dead-letter | persistence | cross-process |
 * |----------------|----------|-----|-------------|-------------|---------------|
 * | direct, topic, fanout, headers (+ exchange-to-exchange) | yes | yes | yes | no | no |
 *
 * @module
 */
import { Deque } from '../internal/deque.js';
import type { QueueSpec, StackStateStore } from '../transport/spi.js';
import { InMemoryTopology } from './in-memory-topology.js';
import { MemoryStacks } from './memory-stacks.js';
import type { Claimed, ImmediateStore, StoredMessage, StoreFeatures, StoreOutcome, VirtualStore } from './store.js';

/**
 * A ready message; once claimed, also its {@link Claimed} record and its receipt: one object per
 * message instead of three on the hot path. An entry is claimed at most once (a requeue or release
 * files a new one).
 */
class Entry implements Claimed {
  settled = false;

  constructor(
    readonly message: StoredMessage,
    /** Publish order, so requeued messages return in their original order. */
    readonly seq: number,
    readonly queueName: string,
  ) {}

  get receipt(): unknown {
    return this;
  }
}

interface Bucket {
  /** Requeued messages, sorted by `seq`; served before `main`. */
  readonly front: Entry[];
  readonly main: Deque<Entry>;
}

class MemoryQueue {
  readonly buckets = new Map<number, Bucket>();
  /** Priorities that have a bucket, highest first. */
  priorities: number[] = [];
  ready = 0;
  bytes = 0;

  bucket(priority: number): Bucket {
    let b = this.buckets.get(priority);
    if (!b) {
      b = { front: [], main: new Deque<Entry>() };
      this.buckets.set(priority, b);
      this.priorities = [...this.buckets.keys()].sort((x, y) => y - x);
    }
    return b;
  }

  take(): Entry | undefined {
    if (this.ready === 0) return undefined;
    for (const p of this.priorities) {
      const b = this.buckets.get(p) as Bucket;
      const entry = b.front.length > 0 ? b.front.shift() : b.main.shift();
      if (entry) {
        this.ready--;
        this.bytes -= entry.message.body.length;
        return entry;
      }
    }
    return undefined;
  }

  restore(entry: Entry): void {
    const front = this.bucket(entry.message.priority).front;
    let i = front.length;
    while (i > 0 && (front[i - 1] as Entry).seq > entry.seq) i--;
    front.splice(i, 0, entry);
    this.ready++;
    this.bytes += entry.message.body.length;
  }

  /**
   * Re-files every ready message under `priorityOf` its message, keeping the order within a
   * priority: requeued ones first, each part in publish order.
   */
  refile(priorityOf: (message: StoredMessage) => number): void {
    const front: Entry[] = [];
    const main: Entry[] = [];
    for (const b of this.buckets.values()) {
      front.push(...b.front);
      for (let e = b.main.shift(); e !== undefined; e = b.main.shift()) main.push(e);
    }
    this.buckets.clear();
    this.priorities = [];
    const bySeq = (x: Entry, y: Entry) => x.seq - y.seq;
    for (const e of front.sort(bySeq)) {
      const message = { ...e.message, priority: priorityOf(e.message) };
      this.bucket(message.priority).front.push(new Entry(message, e.seq, e.queueName));
    }
    for (const e of main.sort(bySeq)) {
      const message = { ...e.message, priority: priorityOf(e.message) };
      this.bucket(message.priority).main.push(new Entry(message, e.seq, e.queueName));
    }
  }

  clear(): number {
    const n = this.ready;
    this.buckets.clear();
    this.priorities = [];
    this.ready = 0;
    this.bytes = 0;
    return n;
  }
}

const FEATURES: StoreFeatures = Object.freeze({ priority: true, persistence: false, crossProcess: false });

/**
 * The memory store: complete and fast, the default for unit tests. One instance is one broker;
 * {@link memoryBroker} hands out shared instances by name.
 */
export class MemoryStore implements VirtualStore {
  readonly kind = 'memory';
  readonly features = FEATURES;
  readonly topology = new InMemoryTopology();
  readonly stacks: StackStateStore = new MemoryStacks();
  readonly #queues = new Map<string, MemoryQueue>();
  readonly #listeners = new Set<(queue: string) => void>();
  readonly #consumers = new Map<string, Set<string>>();
  #seq = 0;

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async createQueue(name: string): Promise<void> {
    if (!this.#queues.has(name)) this.#queues.set(name, new MemoryQueue());
  }

  async deleteQueue(name: string): Promise<number> {
    const q = this.#queues.get(name);
    if (!q) return 0;
    this.#queues.delete(name);
    const n = q.clear();
    // Consumers of other connections learn of the deletion through the same signal as new messages.
    this.#notify(name);
    return n;
  }

  readonly immediate: ImmediateStore = {
    put: (queue, message) => this.#put(queue, message),
    get: (queue) => this.#get(queue),
    settle: (receipt, outcome) => this.#settle(receipt, outcome),
  };

  async put(queue: string, message: StoredMessage): Promise<void> {
    this.#put(queue, message);
  }

  async get(queue: string): Promise<Claimed | undefined> {
    return this.#get(queue);
  }

  async settle(receipt: unknown, outcome: StoreOutcome): Promise<void> {
    this.#settle(receipt, outcome);
  }

  #put(queue: string, message: StoredMessage): void {
    const q = this.#queues.get(queue);
    if (!q) return;
    q.bucket(message.priority).main.push(new Entry(message, this.#seq++, queue));
    q.ready++;
    q.bytes += message.body.length;
    this.#notify(queue);
  }

  #get(queue: string): Claimed | undefined {
    return this.#queues.get(queue)?.take();
  }

  #settle(receipt: unknown, outcome: StoreOutcome): void {
    const r = receipt as Entry;
    if (r.settled) return;
    r.settled = true;
    if (outcome === 'ack') return;
    // A requeue into a queue deleted meanwhile drops the message, as RabbitMQ does.
    const q = this.#queues.get(r.queueName);
    if (!q) return;
    const message = outcome === 'requeue' ? { ...r.message, redelivered: true } : r.message;
    q.restore(new Entry(message, r.seq, r.queueName));
    this.#notify(r.queueName);
  }

  /**
   * In one synchronous step (nothing else runs in between, so it is atomic): the new record, and every
   * ready message re-filed under the priority `to` gives it.
   */
  async reconfigureQueue(_from: QueueSpec, to: QueueSpec): Promise<void> {
    this.topology.replaceQueue(to);
    const max = to.maxPriority;
    this.#queues.get(to.name)?.refile((m) => (max === undefined ? 0 : Math.min(m.properties.priority ?? 0, max)));
    this.#notify(to.name);
  }

  async purge(queue: string): Promise<number> {
    return this.#queues.get(queue)?.clear() ?? 0;
  }

  async size(queue: string): Promise<number> {
    return this.#queues.get(queue)?.ready ?? 0;
  }

  async sizeBytes(queue: string): Promise<number> {
    return this.#queues.get(queue)?.bytes ?? 0;
  }

  watch(listener: (queue: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  addConsumer(queue: string, tag: string): () => void {
    const tags = this.#consumers.get(queue) ?? new Set<string>();
    this.#consumers.set(queue, tags);
    tags.add(tag);
    return () => {
      tags.delete(tag);
      if (tags.size === 0 && this.#consumers.get(queue) === tags) this.#consumers.delete(queue);
    };
  }

  async consumerCount(queue: string): Promise<number> {
    return this.#consumers.get(queue)?.size ?? 0;
  }

  #notify(queue: string): void {
    for (const listener of this.#listeners) listener(queue);
  }
}

const brokers = new Map<string, MemoryStore>();

/**
 * The shared in-process broker called `name` (`memory://name`); created on first use.
 * Tests that want isolation use a unique name, or {@link resetMemoryBrokers}.
 */
export function memoryBroker(name = ''): MemoryStore {
  const store = brokers.get(name) ?? new MemoryStore();
  brokers.set(name, store);
  return store;
}

/** Forgets every named memory broker (their messages and topology). */
export function resetMemoryBrokers(): void {
  brokers.clear();
}
