/**
 * The level-2 SPI: the few storage primitives a broker without AMQP semantics provides. kombu's
 * lesson is that transports stay thin only when the shared layer owns routing, QoS, polling,
 * redelivery and dead-lettering; {@link VirtualTransport} does, so a store only stores.
 *
 * A store never sees an exchange or a binding *decision*: it keeps the topology records (so that
 * stores shared across processes let every process route the same way) and per-queue messages.
 *
 * @module
 */
import type {
  BindingSpec,
  ExchangeSpec,
  MessageProperties,
  PolicySpec,
  QueueSpec,
  StackStateStore,
  TransportStatus,
} from '../transport/spi.js';

/** A message as a store keeps it: one copy per queue. */
export interface StoredMessage {
  /** Unique per stored copy; stable across redeliveries. */
  readonly id: string;
  readonly body: Buffer;
  readonly properties: MessageProperties;
  /** Exchange and routing key it was published with (kept for dead-lettering and delivery info). */
  readonly exchange: string;
  readonly routingKey: string;
  /** Effective priority, already clamped to the queue's `maxPriority` (0 when the queue has none). Higher first. */
  readonly priority: number;
  /** Absolute expiry in epoch milliseconds, or `undefined` for never. */
  readonly expiresAt: number | undefined;
  /** Whether it was delivered before and came back. */
  readonly redelivered: boolean;
  /**
   * Set by a store that left the body unread because it is larger than the claim's
   * {@link ClaimOptions.maxBodyBytes}: the body's size in bytes (`body` is then empty).
   */
  readonly withheldBodyBytes?: number;
}

/** How a message is claimed for delivery. */
export interface ClaimOptions {
  /**
   * The receiving connection's bound on a body. A store that can tell a body's size before reading it
   * leaves a larger body unread: the claimed message has an empty `body` and `withheldBodyBytes` set,
   * and {@link VirtualStore.readBody} reads it should it be dead-lettered. Other stores ignore it.
   */
  readonly maxBodyBytes?: number;
}

/** A message taken from a queue, with the store's token for settling it. */
export interface Claimed {
  readonly message: StoredMessage;
  /** Opaque to everyone but the store that issued it. */
  readonly receipt: unknown;
}

/** What a store can do beyond the required primitives. */
export interface StoreFeatures {
  /** `get` returns the highest `priority` first, FIFO within a priority. */
  readonly priority: boolean;
  /** Messages survive a restart of the process (or broker) hosting the store. */
  readonly persistence: boolean;
  /** Several processes can share the store. */
  readonly crossProcess: boolean;
  /**
   * The store deletes a queue declared with `expires` once it has gone unused that long (no
   * consumer, no get, no redeclaration), as RabbitMQ does. @defaultValue false
   */
  readonly queueExpires?: boolean;
  /**
   * `put` accepts {@link PutOptions.transaction}: the application's own database transaction, which
   * the message is written in. @defaultValue false
   */
  readonly transactionalPut?: boolean;
}

/** Options of {@link VirtualStore.put}. */
export interface PutOptions {
  /**
   * The application's open transaction (the driver's client or connection) to write the message in;
   * only given to a store whose `features.transactionalPut` is true.
   */
  readonly transaction?: unknown;
}

/** A consistent view of the topology records, tagged with the revision it was read at. */
export interface TopologySnapshot {
  readonly revision: number;
  readonly exchanges: readonly ExchangeSpec[];
  readonly queues: readonly QueueSpec[];
  readonly bindings: readonly BindingSpec[];
  /**
   * Records the store inferred from another client's data rather than read from a declaration (kombu
   * persists bindings but not exchange types or queue arguments). A declaration of one of these names
   * replaces the inferred record instead of being compared with it.
   */
  readonly inferred?: { readonly exchanges: readonly string[]; readonly queues: readonly string[] };
  /**
   * Policies and operator policies (`operator` tells them apart), each with its `vhost`. The transport
   * applies those of its own vhost to the queues' settings; absent means none.
   */
  readonly policies?: readonly PolicySpec[];
}

/**
 * Topology records. A store shared across processes persists them so that a process that never
 * declared an exchange still routes through it correctly (kombu forgets exchange types).
 */
export interface TopologyStore {
  /**
   * A number that changes whenever a record changes. Read on every publish so the transport can keep
   * its compiled routing table until something changed; keep it cheap (a synchronous value if possible).
   */
  revision(): number | Promise<number>;
  snapshot(): Promise<TopologySnapshot>;
  putExchange(spec: ExchangeSpec): Promise<void>;
  deleteExchange(name: string): Promise<void>;
  putQueue(spec: QueueSpec): Promise<void>;
  deleteQueue(name: string): Promise<void>;
  /** @returns false when an identical binding existed already. */
  addBinding(binding: BindingSpec): Promise<boolean>;
  /** @returns false when no such binding existed. */
  removeBinding(binding: BindingSpec): Promise<boolean>;
  /**
   * Creates or replaces a policy (identity: `operator`, `vhost`, `name`; `vhost` is always set) and
   * moves the revision, so every process sharing the store applies it. Without it (and
   * {@link TopologyStore.deletePolicy}) the store keeps no policies.
   */
  putPolicy?(spec: PolicySpec): Promise<void>;
  /** Deletes a policy (no-op when absent), moving the revision when one went. */
  deletePolicy?(operator: boolean, vhost: string, name: string): Promise<void>;
}

/** Synchronous `put`/`get`/`settle` with exactly the semantics of their {@link VirtualStore} namesakes. */
export interface ImmediateStore {
  put(queue: string, message: StoredMessage): void;
  get(queue: string): Claimed | undefined;
  settle(receipt: unknown, outcome: StoreOutcome): void;
}

/** How a claimed message leaves the consumer's hands; see {@link VirtualStore.settle}. */
export type StoreOutcome = 'ack' | 'requeue' | 'release';

/** The storage primitives (kombu's `_put/_get/_purge/_size/...`), all queue-name based. */
export interface VirtualStore {
  /** Short name used as the transport kind, e.g. `'memory'`. */
  readonly kind: string;
  /**
   * Names the broker this store reaches (e.g. its directory), so per-process machinery shared by
   * every connection to one broker (the expiry sweep) is shared even across store instances.
   * @defaultValue the `topology` object's identity
   */
  readonly identity?: string;
  readonly features: StoreFeatures;
  readonly topology: TopologyStore;
  open(signal?: AbortSignal): Promise<void>;
  /** Release resources. Messages claimed through this store instance and not settled must not be lost. */
  close(): Promise<void>;
  createQueue(name: string): Promise<void>;
  /** Drops the queue and its messages; returns how many messages went. */
  deleteQueue(name: string): Promise<number>;
  put(queue: string, message: StoredMessage, options?: PutOptions): Promise<void>;
  /** Takes the next message (never blocks); `undefined` when the queue is empty or missing. */
  get(queue: string, options?: ClaimOptions): Promise<Claimed | undefined>;
  /**
   * Finishes a claimed message: `ack` removes it, `requeue` returns it to the head of its queue
   * (in its original order among other requeued messages) marked `redelivered`, `release` returns it
   * the same way but unmarked (it was only looked at, e.g. by the expiry sweep, never delivered).
   */
  settle(receipt: unknown, outcome: StoreOutcome): Promise<void>;
  purge(queue: string): Promise<number>;
  /** Ready (unclaimed) messages in the queue. */
  size(queue: string): Promise<number>;

  // Optional accelerators: when absent, VirtualTransport emulates or disables the feature.

  /**
   * Synchronous forms of the hot primitives, for stores that live in process memory. When present,
   * the transport uses them on the publish/deliver/settle paths and skips a promise per step.
   */
  readonly immediate?: ImmediateStore;

  /**
   * Claims up to `max` messages at once (same order and semantics as `max` calls of `get`). Stores
   * behind a network round trip provide it so a consumer with prefetch room claims in one trip.
   */
  getMany?(queue: string, max: number, options?: ClaimOptions): Promise<Claimed[]>;
  /**
   * Reads the body of a claimed message that `get` left unread ({@link StoredMessage.withheldBodyBytes}),
   * for a dead-lettered copy, which keeps the body as a broker's would. Required of a store that withholds
   * bodies; nothing decodes what it returns.
   */
  readBody?(receipt: unknown): Promise<Buffer>;
  /** Reports the store's own connection state (lost, recovered), for stores that reconnect by themselves. */
  onStatus?(listener: (status: TransportStatus) => void): () => void;

  /**
   * Replaces queue `from.name`'s record with `to` and re-files its ready messages under the
   * priorities `to` gives them (`to.maxPriority` clamps each message's own `properties.priority`),
   * keeping every message exactly once while others put and claim: atomically where the store can, or
   * else so that running it again finishes an interrupted run. Messages claimed at the time keep the
   * priority they had. Enables queue migration (a `maxPriority` change in place).
   */
  reconfigureQueue?(from: QueueSpec, to: QueueSpec): Promise<void>;

  /** Total body bytes of ready messages; enables `maxLengthBytes`. */
  sizeBytes?(queue: string): Promise<number>;
  /**
   * Calls `listener(queue)` whenever a queue may have new ready messages (a put or requeue from any
   * client of the store). Without it, consumers poll.
   */
  watch?(listener: (queue: string) => void): () => void;
  /** The queue was used (redeclared): with `features.queueExpires`, its expiry clock starts again. */
  touch?(queue: string): void;
  /** Registers a consumer so that other clients see consumer counts; returns the unregister function. */
  addConsumer?(queue: string, tag: string): () => void;
  consumerCount?(queue: string): Promise<number>;
  /** Ownership records and the apply lock of `wakame apply` (see {@link StackStateStore}). */
  readonly stacks?: StackStateStore | undefined;
}
