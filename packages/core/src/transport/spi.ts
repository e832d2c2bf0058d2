/**
 * The level-1 transport SPI: what {@link Connection}, {@link Producer} and {@link Consumer} talk to.
 *
 * A transport author implements {@link Transport} natively (AMQP does), or implements the much
 * smaller level-2 {@link VirtualStore} and lets {@link VirtualTransport} provide routing, QoS,
 * redelivery, priorities, TTL and dead-lettering (memory, file and redis do).
 *
 * Everything crossing this boundary is plain data: bodies are `Buffer`s, properties use AMQP 0-9-1
 * names in camelCase, and errors are the classes of `errors.ts` (a transport maps its driver's
 * errors onto them so callers can retry by {@link TransportError.recovery}).
 *
 * @module
 */
import type { LockHolder } from '../errors.js';
import type { BrokerEntities, BrokerEntity, BrokerEntityKind, PasswordCheck } from '../model/broker-entities.js';
import type { EntityAdmin } from '../model/channel.js';
import type { Difference } from '../model/equivalence.js';
import type { BindingSpec, ExchangeSpec, ExchangeType, QueueSpec, QueueType } from '../model/specs.js';
import type { BrokerUrl } from './url.js';

/* The entity specs belong to the broker model; the SPI passes them on. */
export type {
  BrokerEntities,
  BrokerEntity,
  BrokerEntityKind,
  PasswordCheck,
  PermissionSpec,
  PolicySpec,
  PolicyTarget,
  TopicPermissionSpec,
  UserCredential,
  UserSpec,
  VhostSpec,
} from '../model/broker-entities.js';
export type {
  BindingSpec,
  DeadLetterTarget,
  ExchangeSpec,
  ExchangeType,
  OverflowBehaviour,
  QueueArguments,
  QueueDeclareResult,
  QueueSpec,
  QueueType,
} from '../model/specs.js';

/** How a self-recovering transport reconnects. Durations in ms. */
export interface RecoveryPolicy {
  /** Give up after this many failed attempts (then the transport reports `disconnected`). @defaultValue Infinity */
  readonly maxAttempts?: number;
  /** @defaultValue 100 */
  readonly initialDelayMs?: number;
  /** @defaultValue 5_000 */
  readonly maxDelayMs?: number;
  /** 0..1 share of each delay that is random. @defaultValue 0.5 */
  readonly jitter?: number;
}

/** AMQP 0-9-1 basic properties, camelCased. Kombu peers read exactly these. */
export interface MessageProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: Record<string, unknown>;
  /** 1 = transient, 2 = persistent. */
  deliveryMode?: 1 | 2;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  /** Per-message TTL in milliseconds, as a decimal string (AMQP's own encoding). */
  expiration?: string;
  messageId?: string;
  /** Seconds since the epoch (AMQP timestamp). */
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
}

/** A message on its way to the broker. */
export interface OutboundMessage {
  readonly body: Buffer;
  readonly properties: MessageProperties;
}

/** Where and how to publish. */
export interface PublishTarget {
  readonly exchange: string;
  readonly routingKey: string;
  /** Fail with {@link UnroutableError} when no queue receives the message. */
  readonly mandatory?: boolean;
  readonly signal?: AbortSignal;
  /**
   * The application's own open database transaction (e.g. a `pg` client after `BEGIN`) to write the
   * message in: it exists if and only if that transaction commits. Only transports whose
   * {@link Capabilities.transactionalPublish} is true accept one.
   */
  readonly transaction?: unknown;
}

/** How a message reached its consumer. */
export interface DeliveryInfo {
  readonly queue: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly redelivered: boolean;
  readonly consumerTag: string;
  readonly deliveryTag: string | number;
}

/** A message received from the broker, not yet decoded. */
export interface InboundMessage {
  readonly body: Buffer;
  readonly properties: MessageProperties;
  readonly deliveryInfo: DeliveryInfo;
  /** True when the transport already acknowledged it (noAck consumption). */
  readonly autoAcked: boolean;
  /**
   * Set when the transport saw that the body is larger than its `maxBodyBytes` (see
   * {@link TransportOptions.maxBodyBytes}) before reading it, and left it unread: the body's size in
   * bytes. `body` is then empty; the consumer reports a `PayloadTooLargeError` and never decodes it.
   */
  readonly withheldBodyBytes?: number;
  /** Opaque to everyone but the transport that delivered it. */
  readonly handle: unknown;
}

/** How to finish with a delivered message. `reject` dead-letters when the queue has a target. */
export type SettleOutcome = 'ack' | 'requeue' | 'reject';

/** What to consume and how. */
export interface ConsumeRequest {
  /** Queues consumed by this subscription, sharing one prefetch window. */
  readonly queues: readonly string[];
  /** Most unsettled messages in flight at once; 0 means unlimited. */
  readonly prefetch: number;
  readonly noAck: boolean;
  /** Consumer tag per queue, chosen by the caller so tags are unique and meaningful. */
  readonly consumerTags: readonly string[];
  /**
   * `'priority'`: serve `queues` in the order given, a later queue only when the earlier ones are
   * empty (best effort on transports that push). `'round-robin'`: fair across queues.
   */
  readonly order?: 'round-robin' | 'priority';
  readonly exclusive?: boolean;
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/** A live consumption started by {@link Transport.consume}. */
export interface TransportSubscription {
  /** Stop new deliveries. Delivered messages stay settle-able. Idempotent. */
  cancel(): Promise<void>;
}

/** Receives what a subscription delivers. */
export interface DeliverySink {
  deliver(message: InboundMessage): void;
  /** The broker ended the subscription (queue deleted, connection lost for good). */
  cancelled?(reason: Error): void;
}

/** Live state as a transport sees it; `complete` is false where it could not list everything. */
export interface ObservedTopology {
  readonly exchanges: readonly ExchangeSpec[];
  readonly queues: readonly (QueueSpec & { readonly messageCount: number; readonly consumerCount?: number })[];
  readonly bindings: readonly BindingSpec[];
  readonly complete: boolean;
}

/** A held stack lock. */
export interface StackLock {
  /** Releases the lock (idempotent); a crashed holder's lock lapses by itself instead. */
  release(): Promise<void>;
}

/** Options of {@link StackStateStore.lock}. */
export interface StackLockOptions {
  readonly holder: LockHolder;
  /** Wait this long for a held lock before failing with {@link StackLockedError}; 0 fails at once. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * Records that `wakame apply` keeps on the broker itself, so every process, node and operator that
 * reaches the broker sees the same ones: per stack (a named owner of topology), a JSON state
 * document (which entities the stack owns) and a lock that serialises applies. A crashed holder's
 * lock must lapse by itself (a lease, or the life of a broker connection).
 */
export interface StackStateStore {
  /** Where the records live, for messages (e.g. `RabbitMQ global parameter wakame.stack.%2F.orders`). */
  describe(stack: string): string;
  /** The stack's state document, or `undefined` when the stack has none. */
  read(stack: string): Promise<Readonly<Record<string, unknown>> | undefined>;
  /** Replaces the stack's state document (atomically: a reader sees the old or the new one). */
  write(stack: string, state: Readonly<Record<string, unknown>>): Promise<void>;
  /** Deletes the stack's state document (no-op when absent). */
  remove(stack: string): Promise<void>;
  /**
   * Takes the stack's lock, waiting up to `timeoutMs` while another holder has it.
   * @throws {@link StackLockedError} when it is still held after the wait.
   */
  lock(stack: string, options: StackLockOptions): Promise<StackLock>;
}

/**
 * The broker's own entities (vhosts, users, permissions, topic permissions, policies, operator
 * policies): listed, written and deleted one at a time. Which kinds a transport keeps, and which
 * policy keys it honours, its {@link Capabilities} say (validation refuses the rest).
 */
export interface BrokerEntityAdmin {
  /** The connection's vhost: where exchanges, queues and policies without a `vhost` live. */
  readonly vhost: string;
  /**
   * Every entity of the kinds the transport keeps. Users carry their stored hash (never a
   * password); policies always carry their vhost.
   */
  list(): Promise<BrokerEntities>;
  /** Creates the entity, or updates it in place when it exists (no queue or message is touched). */
  put(entity: BrokerEntity): Promise<void>;
  /** Deletes the entity (no-op when absent). */
  delete(entity: BrokerEntity): Promise<void>;
  /** Whether a declared password is the one a listed user's stored hash was made from. */
  readonly passwordMatches?: PasswordCheck;
}

/**
 * Where a queue migration records how far it got (the stack's state record, under the apply lock):
 * a migration that was interrupted reads it back and resumes from the step it reached.
 */
export interface MigrationJournal {
  read(): Promise<Readonly<Record<string, unknown>> | undefined>;
  write(state: Readonly<Record<string, unknown>>): Promise<void>;
  /** The migration finished: forget it. */
  clear(): Promise<void>;
}

/** Progress of a queue migration, reported as it goes. */
export interface MigrationProgress {
  readonly queue: string;
  /** The step starting (transport-specific names, e.g. `hold`, `drain`, `swap`, `restore`). */
  readonly step: string;
  /** Messages moved so far. */
  readonly moved: number;
}

/** Moving a queue to settings it cannot change in place (`maxPriority`, `queueType`, durability, …). */
export interface QueueMigration {
  /** The queue as it exists now. */
  readonly from: QueueSpec;
  /** The queue as it must be (same name). */
  readonly to: QueueSpec;
  /** The bindings the migrated queue must have (the topology's, where it is the destination). */
  readonly bindings: readonly BindingSpec[];
  readonly journal: MigrationJournal;
  /**
   * Go ahead although the queue has consumers, where the migration moves messages (RabbitMQ): a
   * consumer loses what it holds unacknowledged when the queue is declared again, and may see a
   * message twice while bindings are handed over. Without it such a migration is refused before
   * anything changes. @defaultValue false
   */
  readonly allowConsumers?: boolean;
  readonly onProgress?: (progress: MigrationProgress) => void;
  readonly signal?: AbortSignal;
}

/** What a finished migration did. */
export interface MigrationReport {
  readonly queue: string;
  /** Whether the store changed the queue's settings where it stands (no message moved). */
  readonly inPlace: boolean;
  /** Messages moved out and back (each counted once). */
  readonly moved: number;
  /**
   * Copies dropped because the same message reached the queue twice while bindings were handed
   * over (identified by message id, else by content).
   */
  readonly duplicatesDropped: number;
  /** Whether it continued a migration an earlier process had started. */
  readonly resumed: boolean;
}

/** One entity {@link TopologyAdmin.probeEntities} is asked about, as it is desired. */
export type ProbeRequest =
  | { readonly kind: 'exchange'; readonly spec: ExchangeSpec }
  | { readonly kind: 'queue'; readonly spec: QueueSpec };

/** What probing one entity found: absent, declared equivalently, or declared differently. */
export type ProbeResult =
  | { readonly state: 'missing' }
  | { readonly state: 'equal'; readonly messageCount?: number }
  | {
      readonly state: 'conflict';
      readonly differences: readonly Difference[];
      readonly messageCount?: number;
      readonly consumerCount?: number;
    };

/** What {@link TopologyAdmin.bindMany} did: the first `bound` bindings were made; `error` stopped the next one. */
export interface BulkBindResult {
  readonly bound: number;
  readonly error?: Error;
}

/**
 * Declaring, binding, deleting and inspecting broker entities: the declaring operations of
 * {@link EntityAdmin} (what declarations call), plus listing and the stack records.
 */
export interface TopologyAdmin extends EntityAdmin {
  inspect(): Promise<ObservedTopology>;
  /**
   * Ownership records and the apply lock, kept on the broker. Absent on a transport that has no
   * place to keep them: `plan` then treats every undeclared entity as foreign (never pruned).
   */
  readonly stacks?: StackStateStore | undefined;
  /** The broker's own entities; absent on a transport that keeps none (or cannot reach them). */
  readonly broker?: BrokerEntityAdmin | undefined;
  /**
   * Moves a queue to settings it cannot change in place, with every message kept exactly once while
   * publishers keep publishing; resumable through the journal. Absent where the transport cannot.
   */
  readonly migrateQueue?: ((migration: QueueMigration) => Promise<MigrationReport>) | undefined;
  /**
   * Probes many entities in few round trips (`plan` without a listing): one result per request, in
   * order, exactly what a passive then an identical active declare of each would find, and never
   * creating one that is missing. Throws what such a declare throws for anything else (a queue
   * whose node is down: `QueueUnavailableError`). Absent where probing one by one is cheap.
   */
  readonly probeEntities?:
    | ((requests: readonly ProbeRequest[], onProgress?: (done: number) => void) => Promise<readonly ProbeResult[]>)
    | undefined;
  /**
   * Binds in order, in few round trips, stopping at the first binding that fails. Absent where
   * binding one by one is cheap.
   */
  readonly bindMany?: ((bindings: readonly BindingSpec[]) => Promise<BulkBindResult>) | undefined;
}

/** What a transport can do; the conformance suite and the topology planner read it. */
export interface Capabilities {
  readonly exchangeTypes: ReadonlySet<ExchangeType>;
  readonly exchangeToExchange: boolean;
  readonly priority: boolean;
  /** Per-message `expiration` and queue `messageTtl`. */
  readonly messageTtl: boolean;
  readonly queueExpires: boolean;
  readonly maxLength: boolean;
  /** `maxLengthBytes` is enforced too. @defaultValue the value of `maxLength` */
  readonly maxLengthBytes?: boolean;
  readonly deadLetter: boolean;
  readonly alternateExchange: boolean;
  /** `publish` resolves only once the broker has taken responsibility for the message. */
  readonly confirms: boolean;
  /** Unroutable `mandatory` publishes are reported. */
  readonly mandatory: boolean;
  /** Messages survive a restart of the broker (or of the process, for embedded stores). */
  readonly persistence: boolean;
  /** Separate processes can exchange messages through it. */
  readonly crossProcess: boolean;
  readonly queueTypes: ReadonlySet<QueueType>;
  readonly heartbeats: boolean;
  /** Replies can be consumed from `amq.rabbitmq.reply-to` without declaring a reply queue. @defaultValue false */
  readonly directReplyTo?: boolean;
  /** The broker entity kinds a topology may declare on this transport. @defaultValue none */
  readonly brokerEntities?: ReadonlySet<BrokerEntityKind>;
  /** The policy keys this transport honours (others are refused at validation). @defaultValue none */
  readonly policyKeys?: ReadonlySet<string>;
  /** Queues whose immutable settings change can be migrated without losing a message. @defaultValue false */
  readonly queueMigration?: boolean;
  /** A publish can be written in the application's own database transaction ({@link PublishTarget.transaction}). @defaultValue false */
  readonly transactionalPublish?: boolean;
}

/** Status changes a transport reports (a discriminated union on `type`). */
export type TransportStatus =
  /** Connected (the first time); `url` names the node actually reached, password masked. */
  | { readonly type: 'connected'; readonly url?: string }
  /** The transport lost its broker and is recovering by itself (publishes wait, consumers resume). */
  | { readonly type: 'reconnecting'; readonly error: Error; readonly attempt: number }
  /** Recovery succeeded: topology re-declared, consumers re-subscribed. */
  | { readonly type: 'reconnected'; readonly url: string }
  /** Closed for good (by us, or recovery gave up); the owner should drop this transport. */
  | { readonly type: 'disconnected'; readonly error?: Error }
  /**
   * A queue exists but cannot be used (its node is down, say): consumers of it wait, publishes routed to it are
   * held; the rest of the connection works. Repeated, with a growing `attempt`, while the transport retries it.
   */
  | { readonly type: 'queue-unavailable'; readonly queue: string; readonly error: Error; readonly attempt: number }
  /** An unavailable queue is back: declared and bound again, its consumers resumed, held publishes sent. */
  | { readonly type: 'queue-restored'; readonly queue: string }
  | { readonly type: 'blocked'; readonly reason: string }
  | { readonly type: 'unblocked' };

/** The level-1 transport. One instance per broker connection. */
export interface Transport {
  /** Short name, e.g. `'amqp'`, `'memory'`. */
  readonly kind: string;
  readonly capabilities: Capabilities;
  readonly admin: TopologyAdmin;
  /** Open the connection; rejects with a {@link ConnectionError} (or {@link TimeoutError}) on failure. */
  connect(signal?: AbortSignal): Promise<void>;
  /** Close; unsettled deliveries return to their queues. Idempotent. */
  close(): Promise<void>;
  /** Resolves when the broker took the message (confirmed, where the transport has confirms). */
  publish(message: OutboundMessage, target: PublishTarget): Promise<void>;
  consume(request: ConsumeRequest, sink: DeliverySink): Promise<TransportSubscription>;
  /** Fetch one message without subscribing (AMQP basic.get). */
  get(queue: string, options: { noAck: boolean }): Promise<InboundMessage | undefined>;
  settle(message: InboundMessage, outcome: SettleOutcome): Promise<void>;
  /** Listen to status changes; returns an unsubscribe function. */
  onStatus(listener: (status: TransportStatus) => void): () => void;
}

/** Options every transport factory receives. */
export interface TransportOptions {
  /** Heartbeat interval in seconds; 0 disables. */
  readonly heartbeat: number;
  readonly connectTimeoutMs: number;
  /**
   * Every failover URL of the connection, starting with the one this transport is for. Transports
   * that recover by themselves rotate through them.
   */
  readonly alternates?: readonly BrokerUrl[];
  /** How a transport that recovers by itself retries (backoff, jitter, deadline). */
  readonly recovery?: RecoveryPolicy;
  /** Transport-specific extras (TLS material and the like). */
  readonly extra: Readonly<Record<string, unknown>>;
  /**
   * The connection's bound on a received body. A transport that learns a body's size before reading
   * it (a stored length, a file's size) leaves a larger body unread and delivers the message with
   * {@link InboundMessage.withheldBodyBytes}; the consumer checks every other body before decoding it.
   * Undefined: no bound.
   */
  readonly maxBodyBytes?: number;
}

/** Creates a transport for one parsed URL. */
export type TransportFactory = (url: BrokerUrl, options: TransportOptions) => Transport;
