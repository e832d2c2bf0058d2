/**
 * The options a {@link Connection} is made with, and the defaults of those that are bounds (heartbeat,
 * connect timeout, body size).
 *
 * @module
 */
import type { CompressionRegistry } from '../serialization/compression.js';
import type { SerializerRegistry } from '../serialization/serializers.js';
import type { TransportRegistry } from '../transport/registry.js';
import type { RecoveryPolicy } from '../transport/spi.js';
import type { Instrumentation, Logger } from './events.js';
import type { RetryPolicy } from './retry.js';
import type { TracingOptions } from './tracing.js';

/** Options of {@link Connection}. */
export interface ConnectionOptions {
  /** Heartbeat interval in seconds for transports that have heartbeats; 0 disables. @defaultValue `60` */
  readonly heartbeat?: number;
  /** Bound on each connection attempt (per URL). @defaultValue `10_000` */
  readonly connectTimeoutMs?: number;
  /** Default policy of {@link Connection.ensureConnection} and {@link Connection.ensure}. @defaultValue {@link DEFAULT_RETRY_POLICY} */
  readonly retry?: RetryPolicy;
  /** How transports that recover by themselves (AMQP) reconnect after a loss. @defaultValue retry forever, 100 ms → 5 s with jitter */
  readonly recovery?: RecoveryPolicy;
  /** Order in which failover URLs are tried. @defaultValue `'round-robin'` */
  readonly failover?: 'round-robin' | 'shuffle';
  /** Where URL schemes find their transports. @defaultValue the built-in registry */
  readonly transports?: TransportRegistry;
  /** Transport-specific options (TLS material, …). @defaultValue `{}` */
  readonly transportOptions?: Readonly<Record<string, unknown>>;
  /** @defaultValue the process-wide {@link serializers} */
  readonly serializers?: SerializerRegistry;
  /** @defaultValue the process-wide {@link compressors} */
  readonly compressors?: CompressionRegistry;
  /**
   * Bound on a body, in both directions: a larger one is refused on publish, and on receipt it is
   * neither decoded nor handed to a handler: the consumer's `onDecodeError` gets a
   * `PayloadTooLargeError` (by default the message is rejected, so it is dead-lettered when its
   * queue has a dead-letter exchange). On receipt it covers the body as it travelled and the body after
   * decompression. Transports that can see a body's size before reading it (Redis, file) leave a
   * larger one unread; AMQP checks the body amqplib assembled before anything decodes or copies it.
   * @defaultValue 16 MiB
   */
  readonly maxBodyBytes?: number;
  /** @defaultValue silent */
  readonly logger?: Logger;
  /** Share one instrumentation emitter between connections. @defaultValue a new one */
  readonly instrumentation?: Instrumentation;
  /**
   * OpenTelemetry spans of this connection's publishes and of the messages a worker handles on it (see
   * {@link MessageTracing}); `false` turns them off, `{ tracerProvider }` sends them to a provider of your own.
   * Without `@opentelemetry/api` installed there are none. @defaultValue on, with the global tracer provider
   */
  readonly tracing?: TracingOptions | false;
}

export const DEFAULT_HEARTBEAT_SECONDS = 60;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** RabbitMQ 4's default `max_message_size`. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
