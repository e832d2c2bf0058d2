/**
 * What a {@link Producer} or {@link Consumer} uses of the {@link Connection} that made it. The
 * connection implements it; producers and consumers depend on it rather than on the class, so the
 * connection can create them without an import cycle.
 *
 * @module
 */
import type { Channel } from '../model/channel.js';
import type { Exchange } from '../model/exchange.js';
import type { Queue } from '../model/queue.js';
import type { CompressionRegistry } from '../serialization/compression.js';
import type { SerializerRegistry } from '../serialization/serializers.js';
import type { Transport } from '../transport/spi.js';
import type { Instrumentation, Logger } from './events.js';
import type { RetryPolicy } from './retry.js';
import type { MessageTracing } from './tracing.js';

/** The part of a {@link Connection} its producers and consumers use (it declares and fetches, too). */
export interface ConnectionContext extends Channel {
  readonly events: Instrumentation;
  readonly logger: Logger;
  readonly serializers: SerializerRegistry;
  readonly compressors: CompressionRegistry;
  /** Bound on a message body, as published or received and after decompression. */
  readonly maxBodyBytes: number;
  /** Spans of publishes and handled messages. */
  readonly tracing: MessageTracing;
  /** The transport when connected, without connecting. */
  readonly currentTransport: Transport | undefined;
  /** False while a transport recovers a lost broker by itself. */
  readonly isConnected: boolean;
  /** Queues the broker has but cannot serve now (their node is down). */
  readonly unavailableQueues: ReadonlyMap<string, Error>;
  /** Connects if needed and returns the transport. */
  ready(signal?: AbortSignal): Promise<Transport>;
  /** Runs `operation`, retrying retriable failures per `policy` (reconnecting first when the connection failed). */
  ensure<T>(operation: (connection: this) => Promise<T>, policy?: RetryPolicy): Promise<T>;
  /** Declares entities once per connection. */
  declare(...entities: readonly (Exchange | Queue)[]): Promise<void>;
  /** The content types a consumer accepts, from serializer names or content types. */
  acceptSet(accept?: readonly string[]): ReadonlySet<string>;
  /** A consumer is done with one delivery; wakes {@link Connection.drainEvents}. */
  handled(): void;
  /** Runs `hook` when the connection closes; returns a function that removes it. */
  onClose(hook: () => Promise<void> | void): () => void;
}
