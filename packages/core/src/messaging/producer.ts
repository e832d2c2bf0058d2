/**
 * The publishing side. {@link Producer} turns a value into a broker message (serializer, compression,
 * AMQP properties), declares what the publish needs, and hands it to the transport, retrying across
 * reconnects when asked. {@link publishOptionsOf} goes the other way, so that retries and dead letters
 * can re-publish a consumed message exactly as it travelled.
 *
 * @module
 */
import { InvalidArgumentError, PayloadTooLargeError, UnroutableError } from '../errors.js';
import { Exchange } from '../model/exchange.js';
import { Queue } from '../model/queue.js';
import { MAX_PRIORITY } from '../model/queue-arguments.js';
import type { MessageProperties, OutboundMessage, PublishTarget, Transport } from '../transport/spi.js';
import type { ConnectionContext } from './connection-context.js';
import type { RetryPolicy } from './retry.js';
import type { MessageSpan } from './tracing.js';

/** Options of {@link Producer}; each is a default for {@link Producer.publish}. */
export interface ProducerOptions {
  /** @defaultValue the default exchange `''` */
  readonly exchange?: Exchange | string;
  /** @defaultValue `''` */
  readonly routingKey?: string;
  /** Serializer name (`json`, `text`, `raw`, `msgpack`, `yaml`, or one you registered). @defaultValue by body type, `json` for objects */
  readonly serializer?: string;
  /** Compression name (`zlib`, `gzip`, `deflate`, `brotli`). @defaultValue none */
  readonly compression?: string;
  /** Declare {@link Exchange} objects before publishing to them (cached per connection). @defaultValue `true` */
  readonly autoDeclare?: boolean;
  /** Retry publishes across reconnects. @defaultValue `false` */
  readonly retry?: RetryPolicy | boolean;
}

/** Options of one {@link Producer.publish}. Durations are milliseconds. */
export interface PublishOptions {
  readonly exchange?: Exchange | string;
  readonly routingKey?: string;
  readonly serializer?: string;
  /** Send the body as-is with this content type (a string or Buffer body only). */
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly compression?: string;
  readonly headers?: Readonly<Record<string, unknown>>;
  /** 0–255; honoured by queues with `maxPriority`. Out-of-range values are refused, never clamped. */
  readonly priority?: number;
  /** Per-message time-to-live in ms. */
  readonly expiration?: number;
  /** `false` sends delivery mode 1 (transient). @defaultValue `true` (delivery mode 2, as kombu) */
  readonly persistent?: boolean;
  /** Fail with {@link UnroutableError} when no queue receives the message. @defaultValue `false` */
  readonly mandatory?: boolean;
  /** A queue name, or a {@link Queue} whose name is used. */
  readonly replyTo?: string | Queue;
  readonly correlationId?: string;
  readonly messageId?: string;
  /** A Date, or epoch milliseconds; sent as AMQP seconds. */
  readonly timestamp?: Date | number;
  readonly type?: string;
  readonly appId?: string;
  readonly userId?: string;
  /** Entities to declare (once per connection, keyed on the whole declaration) before publishing. */
  readonly declare?: readonly (Exchange | Queue)[];
  /** Overrides the producer's retry setting for this publish. */
  readonly retry?: RetryPolicy | boolean;
  readonly signal?: AbortSignal;
  /**
   * Write the message in the application's own open database transaction (a `pg` client after
   * `BEGIN`, a `mysql2` connection after `beginTransaction()`) on a SQL transport: the message
   * exists if and only if the transaction commits — the outbox pattern without an outbox. Never
   * retried (a retry cannot be part of the caller's transaction).
   */
  readonly transaction?: unknown;
}

/**
 * Publishes messages: serializes, compresses, declares what it is asked to, and resolves once the
 * broker has the message (confirmed, where the transport has confirms).
 *
 * @example
 * const producer = connection.producer({ exchange: new Exchange('media', { type: 'topic' }) });
 * await producer.publish({ id: 7 }, { routingKey: 'video.encode', priority: 5 });
 */
export class Producer {
  readonly connection: ConnectionContext;
  readonly #defaults: ProducerOptions;

  constructor(connection: ConnectionContext, options: ProducerOptions = {}) {
    this.connection = connection;
    this.#defaults = options;
  }

  /** The producer's default exchange. */
  get exchange(): Exchange | string {
    return this.#defaults.exchange ?? '';
  }

  /** Declares the producer's default exchange. */
  async declare(): Promise<void> {
    const exchange = this.#defaults.exchange;
    if (exchange instanceof Exchange && exchange.canDeclare) await this.connection.declare(exchange);
  }

  /**
   * Publishes `body`. Objects become JSON; strings `text/plain`; Buffers `application/data` (kombu's
   * rules), unless `serializer` or `contentType` says otherwise.
   * @throws {@link UnknownSerializerError}, {@link EncodeError}, {@link PayloadTooLargeError} for bad input.
   * @throws {@link NotFoundError} when the exchange does not exist; {@link UnroutableError} for a `mandatory` message nobody receives.
   */
  publish(body: unknown, options: PublishOptions = {}): Promise<void> {
    // Not async: the hot path (no declaration to wait for, no retry, connected) hands the transport's
    // promise on with a single `then`, instead of an async frame and its extra microtask hops.
    let prepared: Prepared;
    try {
      prepared = this.#prepare(body, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const d = this.#defaults;
    const conn = this.connection;
    const { exchange, target, message } = prepared;
    // The PRODUCER span: its context goes into the headers before anything is sent.
    const span = conn.tracing.send(target.exchange, target.routingKey, message.body.length, message.properties);
    const transport = conn.currentTransport;
    if (
      transport === undefined ||
      options.declare ||
      ((d.autoDeclare ?? true) && exchange instanceof Exchange && exchange.canDeclare) ||
      prepared.retryPolicy !== false
    ) {
      return this.#publishSlowly(prepared, options, span);
    }
    let sent: Promise<void>;
    // Read the clock only for a listener (metrics' confirm latency): unobserved publishes pay nothing.
    const started = conn.events.listening('producer.publish') ? performance.now() : undefined;
    try {
      sent = transport.publish(message, target);
    } catch (error) {
      sent = Promise.reject(error);
    }
    return sent.then(
      () => this.#published(prepared, started, span),
      (error: unknown) => this.#failed(prepared, error, span),
    );
  }

  /** The message, where it goes and how, or a throw for bad input. */
  #prepare(body: unknown, options: PublishOptions): Prepared {
    const d = this.#defaults;
    const conn = this.connection;
    const exchange = options.exchange ?? d.exchange ?? '';
    const exchangeName = typeof exchange === 'string' ? exchange : exchange.name;
    const routingKey = options.routingKey ?? d.routingKey ?? '';
    // The publish options carry the encode options under the same names; only a producer-level
    // serializer default needs a new object.
    const encoded = conn.serializers.encode(
      body,
      options.serializer === undefined && d.serializer !== undefined
        ? { ...options, serializer: d.serializer }
        : options,
    );
    let payload = encoded.body;
    let headers = options.headers;
    const compression = options.compression ?? d.compression;
    if (compression !== undefined) {
      const compressed = conn.compressors.compress(compression, payload);
      payload = compressed.body;
      headers = { ...headers, compression: compressed.header };
    }
    if (payload.length > conn.maxBodyBytes) throw new PayloadTooLargeError(payload.length, conn.maxBodyBytes);
    const properties = buildProperties(options, encoded.contentType, encoded.contentEncoding, headers);
    const target: { -readonly [K in keyof PublishTarget]: PublishTarget[K] } = {
      exchange: exchangeName,
      routingKey,
      mandatory: options.mandatory ?? false,
    };
    if (options.signal) target.signal = options.signal;
    if (options.transaction !== undefined) target.transaction = options.transaction;
    return {
      exchange,
      message: { body: payload, properties },
      target,
      retryPolicy: options.transaction !== undefined ? false : (options.retry ?? d.retry ?? false),
    };
  }

  /** Declares first, retries, or waits for the connection: the path off the hot one. */
  async #publishSlowly(prepared: Prepared, options: PublishOptions, span: MessageSpan | undefined): Promise<void> {
    const d = this.#defaults;
    const conn = this.connection;
    const { exchange, message, target, retryPolicy } = prepared;
    let started: number | undefined;
    try {
      if (options.declare) await conn.declare(...options.declare);
      if ((d.autoDeclare ?? true) && exchange instanceof Exchange && exchange.canDeclare) await conn.declare(exchange);
      if (retryPolicy === false) {
        const transport: Transport = conn.currentTransport ?? (await conn.ready(options.signal));
        started = conn.events.listening('producer.publish') ? performance.now() : undefined;
        await transport.publish(message, target);
      } else {
        await conn.ensure(
          async (c) => (await c.ready()).publish(message, target),
          retryPolicy === true ? undefined : retryPolicy,
        );
      }
    } catch (error) {
      this.#failed(prepared, error, span);
    }
    this.#published(prepared, started, span);
  }

  #failed(prepared: Prepared, error: unknown, span: MessageSpan | undefined): never {
    span?.end(error);
    if (error instanceof UnroutableError) {
      const { exchange, routingKey } = prepared.target;
      this.connection.events.emit('producer.unroutable', { exchange, routingKey });
    }
    throw error;
  }

  #published(prepared: Prepared, started: number | undefined, span: MessageSpan | undefined): void {
    span?.end();
    const events = this.connection.events;
    if (!events.listening('producer.publish')) return;
    const { target, message } = prepared;
    const { messageId } = message.properties;
    events.emit('producer.publish', {
      exchange: target.exchange,
      routingKey: target.routingKey,
      bytes: message.body.length,
      ...(messageId !== undefined ? { messageId } : {}),
      ...(started !== undefined ? { confirmMs: performance.now() - started } : {}),
    });
  }
}

/** A publish ready to hand to the transport. */
interface Prepared {
  readonly exchange: Exchange | string;
  readonly message: OutboundMessage;
  readonly target: PublishTarget;
  readonly retryPolicy: RetryPolicy | boolean;
}

/**
 * The publish options that rebuild `properties` as received, then `overrides`: for re-publishing a
 * consumed message as it travelled (its `rawBody`, already serialized and compressed; the
 * `compression` header rides along) with {@link Producer.publish}, as retries and dead letters do.
 * The expiration is dropped (a copy starts a new life); `clusterId`, deprecated in AMQP 0-9-1, is
 * not carried.
 */
export function publishOptionsOf(properties: MessageProperties, overrides?: PublishOptions): PublishOptions {
  const o: { -readonly [K in keyof PublishOptions]: PublishOptions[K] } = {};
  // An empty content type means application/data, which the raw serializer labels explicitly.
  if (properties.contentType !== undefined && properties.contentType !== '') {
    o.contentType = properties.contentType;
    if (properties.contentEncoding !== undefined) o.contentEncoding = properties.contentEncoding;
  }
  if (properties.headers !== undefined) o.headers = properties.headers;
  if (properties.deliveryMode === 1) o.persistent = false;
  if (properties.priority !== undefined) o.priority = properties.priority;
  if (properties.replyTo !== undefined) o.replyTo = properties.replyTo;
  if (properties.correlationId !== undefined) o.correlationId = properties.correlationId;
  if (properties.messageId !== undefined) o.messageId = properties.messageId;
  if (properties.timestamp !== undefined) o.timestamp = properties.timestamp * 1000;
  if (properties.type !== undefined) o.type = properties.type;
  if (properties.appId !== undefined) o.appId = properties.appId;
  if (properties.userId !== undefined) o.userId = properties.userId;
  return overrides === undefined ? o : Object.assign(o, overrides);
}

function buildProperties(
  o: PublishOptions,
  contentType: string,
  contentEncoding: string,
  headers: Readonly<Record<string, unknown>> | undefined,
): MessageProperties {
  const p: MessageProperties = { contentType, contentEncoding, deliveryMode: o.persistent === false ? 1 : 2 };
  if (headers !== undefined) p.headers = { ...headers };
  if (o.priority !== undefined) {
    if (!Number.isInteger(o.priority) || o.priority < 0 || o.priority > MAX_PRIORITY) {
      throw new InvalidArgumentError(
        `priority must be an integer from 0 to ${MAX_PRIORITY}, got ${String(o.priority)}`,
      );
    }
    p.priority = o.priority;
  }
  if (o.expiration !== undefined) {
    if (!Number.isInteger(o.expiration) || o.expiration < 0) {
      throw new InvalidArgumentError(
        `expiration must be a non-negative integer of milliseconds, got ${String(o.expiration)}`,
      );
    }
    p.expiration = String(o.expiration);
  }
  if (o.replyTo !== undefined) p.replyTo = o.replyTo instanceof Queue ? o.replyTo.name : o.replyTo;
  if (o.correlationId !== undefined) p.correlationId = o.correlationId;
  if (o.messageId !== undefined) p.messageId = o.messageId;
  if (o.timestamp !== undefined) {
    const ms = o.timestamp instanceof Date ? o.timestamp.getTime() : o.timestamp;
    if (!Number.isFinite(ms)) throw new InvalidArgumentError('timestamp must be a valid Date or epoch milliseconds');
    p.timestamp = Math.floor(ms / 1000);
  }
  if (o.type !== undefined) p.type = o.type;
  if (o.appId !== undefined) p.appId = o.appId;
  if (o.userId !== undefined) p.userId = o.userId;
  return p;
}
