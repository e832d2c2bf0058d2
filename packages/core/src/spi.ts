/**
 * The transport-author surface of Wakame core: the level-1 {@link Transport} SPI, the level-2
 * {@link VirtualStore} primitives and the {@link VirtualTransport} that lifts a store to a full
 * transport, plus the helpers a transport needs (URL parsing, registry, argument tables, routing).
 *
 * @module @wakame/core/spi
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
  QueueUnavailableError,
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
export { isSettled, SETTLED } from './internal/settled.js';
export { stableStringify } from './internal/stable-stringify.js';
export {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  type NormalisedRetryPolicy,
  normaliseRetryPolicy,
} from './messaging/retry.js';
export { bindingKey } from './model/binding-key.js';
export {
  brokerEntityDifferences,
  brokerEntityKey,
  brokerEntityList,
  describeBrokerEntity,
  NO_BROKER_ENTITIES,
  Sensitive,
} from './model/broker-entities.js';
export { type Difference, exchangeArguments, exchangeDifferences, queueDifferences } from './model/equivalence.js';
export { compileHeaders, type HeadersPattern, headersMatch } from './model/headers-match.js';
export {
  applicablePolicy,
  effectiveQueueArguments,
  OPERATOR_POLICY_KEYS,
  POLICY_KEYS,
  policyTargetsQueue,
} from './model/policies.js';
export { checkQueueArguments, fromBrokerArguments, toBrokerArguments } from './model/queue-arguments.js';
export { compileTopic, type TopicPattern, topicMatches } from './model/topic-match.js';
export {
  createDefaultRegistry,
  DEFAULT_TRANSPORT_MODULES,
  moduleLoader,
  type TransportLoader,
  TransportRegistry,
} from './transport/registry.js';
export type * from './transport/spi.js';
export { acquireStackLock, type LockAttempt, parseStackDocument, STACK_NAME_PATTERN } from './transport/stack-lock.js';
export {
  BrokerUrl,
  type BrokerUrlInit,
  DEFAULT_AMQP_CREDENTIALS,
  DEFAULT_HOSTNAME,
  DEFAULT_PORTS,
  DEFAULT_VHOST,
  PASSWORD_MASK,
  parseBrokerUrl,
  parseBrokerUrls,
  redactUrl,
} from './transport/url.js';
export { type DeathReason, type DeathRecord, deadLetterMessage } from './virtual/dead-letter.js';
export { InMemoryTopology } from './virtual/in-memory-topology.js';
export { MemoryStore, memoryBroker, resetMemoryBrokers } from './virtual/memory-store.js';
export { policyKeyOf, policyRecordKey, queuesWithPolicies } from './virtual/policy-records.js';
export { type RouteResult, type RoutingSnapshot, RoutingTable } from './virtual/routing-table.js';
export type {
  Claimed,
  ClaimOptions,
  ImmediateStore,
  PutOptions,
  StoredMessage,
  StoreFeatures,
  StoreOutcome,
  TopologySnapshot,
  TopologyStore,
  VirtualStore,
} from './virtual/store.js';
export { type CompiledTopology, TopologyCache } from './virtual/topology-cache.js';
export { type AdminHost, VirtualAdmin } from './virtual/virtual-admin.js';
export { VirtualBrokerAdmin } from './virtual/virtual-broker-admin.js';
export { virtualCapabilities, virtualPolicyKeys } from './virtual/virtual-capabilities.js';
export {
  DEFAULT_POLL_INTERVAL_MS,
  VirtualTransport,
  type VirtualTransportOptions,
} from './virtual/virtual-transport.js';
