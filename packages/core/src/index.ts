/**
 * Wakame core: kombu-style messaging for TypeScript — declarations, connections, producers,
 * consumers and messages, serialization, errors, and the in-process `memory://` broker.
 *
 * Transport authors: see `@wakame/core/spi`.
 *
 * @module @wakame/core
 */
export {
  AccessRefusedError,
  ChannelError,
  ConnectionClosedError,
  ConnectionError,
  ContentNotAcceptedError,
  DecodeError,
  EncodeError,
  type EntityKind,
  hasCode,
  InvalidArgumentError,
  InvalidOperationError,
  InvalidPayloadError,
  InvalidUrlError,
  isRetriable,
  type LockHolder,
  MessageStateError,
  NotBoundError,
  NotFoundError,
  PayloadTooLargeError,
  PreconditionFailedError,
  PublishRejectedError,
  QueueEmptyError,
  type RecoveryScope,
  ResourceLimitError,
  RetriesExhaustedError,
  SerializationError,
  StackLockedError,
  TaskFailedError,
  TimeoutError,
  TopologyConflictError,
  TopologyError,
  type TopologyIssue,
  TopologyValidationError,
  TransportError,
  TransportNotInstalledError,
  UnknownSerializerError,
  UnknownTaskError,
  UnknownTransportError,
  UnroutableError,
  UnsupportedFeatureError,
  WakameError,
} from './errors.js';
export {
  Connection,
  type ConnectionOptions,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_SECONDS,
  DEFAULT_MAX_BODY_BYTES,
  withConnection,
} from './messaging/connection.js';
export type { ConnectionContext } from './messaging/connection-context.js';
export { Consumer, type ConsumerOptions, DEFAULT_PREFETCH } from './messaging/consumer.js';
export { defaultTransports, memoryTransport } from './messaging/default-transports.js';
export {
  EVENTS,
  eventName,
  Instrumentation,
  type InstrumentationEvent,
  type InstrumentationListener,
  type InstrumentationOptions,
  type Logger,
  silentLogger,
  type WakameEventName,
  type WakameEvents,
} from './messaging/events.js';
export { Message, type MessageContext, type MessageState } from './messaging/message.js';
export {
  type AcquireOptions,
  ConnectionPool,
  type ConnectionPoolOptions,
  DEFAULT_ACQUIRE_TIMEOUT_MS,
  DEFAULT_POOL_LIMIT,
  type Lease,
  type PoolOptions,
  ProducerPool,
  type ProducerPoolOptions,
  ResourcePool,
} from './messaging/pool.js';
export { Producer, type ProducerOptions, type PublishOptions, publishOptionsOf } from './messaging/producer.js';
export {
  DEFAULT_RETRY_POLICY,
  type NormalisedRetryPolicy,
  normaliseRetryPolicy,
  type RetryInfo,
  type RetryPolicy,
  retry,
} from './messaging/retry.js';
export {
  DEFAULT_GET_TIMEOUT_MS,
  type SimpleGetOptions,
  type SimplePutOptions,
  SimpleQueue,
  type SimpleQueueOptions,
  simpleQueue,
} from './messaging/simple-queue.js';
export type { Channel, EntityAdmin, FetchedMessage, FetchedMessageTypes } from './model/channel.js';
export { Exchange, type ExchangeJSON, type ExchangeOptions } from './model/exchange.js';
export {
  type BroadcastOptions,
  broadcast,
  type HeadersMatch,
  Queue,
  type QueueBinding,
  type QueueBindingOptions,
  type QueueJSON,
  type QueueOptions,
} from './model/queue.js';
export { fromBrokerArguments, MAX_PRIORITY, toBrokerArguments } from './model/queue-arguments.js';
export {
  type CompressedBody,
  CompressionRegistry,
  type Compressor,
  compressors,
  createCompressionRegistry,
  createSerializerRegistry,
  type EncodedBody,
  type EncodeOptions,
  type Serializer,
  SerializerRegistry,
  serializers,
} from './serialization/index.js';
export * from './tasks/index.js';
export * from './topology/index.js';
export { TransportRegistry } from './transport/registry.js';
export type {
  BindingSpec,
  Capabilities,
  DeadLetterTarget,
  DeliveryInfo,
  ExchangeSpec,
  ExchangeType,
  MessageProperties,
  ObservedTopology,
  OverflowBehaviour,
  QueueArguments,
  QueueSpec,
  QueueType,
  RecoveryPolicy,
  StackLock,
  StackStateStore,
  TopologyAdmin,
  TransportStatus,
} from './transport/spi.js';
export {
  type BrokerUrl,
  DEFAULT_AMQP_CREDENTIALS,
  DEFAULT_HOSTNAME,
  DEFAULT_PORTS,
  DEFAULT_VHOST,
  PASSWORD_MASK,
  parseBrokerUrl,
  parseBrokerUrls,
} from './transport/url.js';
export { memoryBroker, resetMemoryBrokers } from './virtual/memory-store.js';
