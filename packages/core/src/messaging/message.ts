/**
 * The consumer's view of one delivery. Decoding is lazy and memoised, and the size limit is checked
 * before anything is decompressed, so code that only reads headers or forwards the raw body never
 * pays for decoding, and an oversized body cannot exhaust memory. Settling goes through
 * {@link Message}, which refuses to settle a delivery twice whatever the transport. The file also
 * tells the broker model, by declaration merging, that `Queue.get` returns a `Message`.
 *
 * @module
 */
import { ContentNotAcceptedError, MessageStateError, PayloadTooLargeError } from '../errors.js';
import { SETTLED } from '../internal/settled.js';
import type { CompressionRegistry } from '../serialization/compression.js';
import type { SerializerRegistry } from '../serialization/serializers.js';
import type { DeliveryInfo, InboundMessage, MessageProperties, SettleOutcome } from '../transport/spi.js';

/** Where a message is in its life: `received`, then one of the settled states. */
export type MessageState = 'received' | 'acked' | 'rejected' | 'requeued';

/** What a {@link Message} needs from the consumer that received it. */
export interface MessageContext {
  readonly settle: (message: InboundMessage, outcome: SettleOutcome) => Promise<void>;
  readonly serializers: SerializerRegistry;
  readonly compressors: CompressionRegistry;
  /** Content types this message may be decoded as. */
  readonly accept: ReadonlySet<string>;
  /** Bound on the body, as received and after decompression. */
  readonly maxBodyBytes: number;
  /** Told of every settlement (instrumentation). */
  readonly onSettle?: (message: Message, outcome: SettleOutcome) => void;
}

const NOTHING = Symbol('nothing');
const EMPTY = Buffer.alloc(0);

/**
 * A received message. Read {@link Message.payload} (decoded once, memoised) or the raw
 * {@link Message.body}; settle it exactly once with {@link Message.ack}, {@link Message.reject}
 * or {@link Message.requeue} unless it was consumed with `noAck`.
 */
export class Message {
  readonly #inbound: InboundMessage;
  readonly #ctx: MessageContext;
  #state: MessageState;
  #body: Buffer | undefined;
  #payload: unknown = NOTHING;

  constructor(inbound: InboundMessage, context: MessageContext) {
    this.#inbound = inbound;
    this.#ctx = context;
    this.#state = inbound.autoAcked ? 'acked' : 'received';
  }

  /**
   * The body as it travelled, possibly compressed. Empty when the body is larger than the connection's
   * `maxBodyBytes`, on every transport (some never read such a body): see {@link Message.bodySize}.
   */
  get rawBody(): Buffer {
    const body = this.#inbound.body;
    return body.length > this.#ctx.maxBodyBytes ? EMPTY : body;
  }

  /** Size in bytes of the body as it travelled, also when the transport left it unread. */
  get bodySize(): number {
    return this.#inbound.withheldBodyBytes ?? this.#inbound.body.length;
  }

  /**
   * Why this body must not be decoded: it is larger than the connection's `maxBodyBytes` as it
   * travelled (whether or not the transport read it). Checked before any decompression or decoding.
   */
  get tooLarge(): PayloadTooLargeError | undefined {
    const size = this.bodySize;
    const limit = this.#ctx.maxBodyBytes;
    return size > limit || this.#inbound.withheldBodyBytes !== undefined
      ? new PayloadTooLargeError(size, limit, 'received message body')
      : undefined;
  }

  /**
   * The body after decompression (when a `compression` header is present).
   * @throws {@link PayloadTooLargeError} when the body as received, or after decompression, is
   * larger than the connection's `maxBodyBytes`.
   * @throws {@link DecodeError} when decompression fails.
   */
  get body(): Buffer {
    if (this.#body === undefined) {
      const tooLarge = this.tooLarge;
      if (tooLarge) throw tooLarge;
      const compression = this.headers.compression;
      this.#body =
        typeof compression === 'string'
          ? this.#ctx.compressors.decompress(compression, this.#inbound.body, this.#ctx.maxBodyBytes)
          : this.#inbound.body;
    }
    return this.#body;
  }

  get properties(): Readonly<MessageProperties> {
    return this.#inbound.properties;
  }

  get headers(): Readonly<Record<string, unknown>> {
    return this.#inbound.properties.headers ?? {};
  }

  get contentType(): string | undefined {
    return this.#inbound.properties.contentType;
  }

  get contentEncoding(): string | undefined {
    return this.#inbound.properties.contentEncoding;
  }

  get deliveryInfo(): DeliveryInfo {
    return this.#inbound.deliveryInfo;
  }

  get queue(): string {
    return this.#inbound.deliveryInfo.queue;
  }

  get routingKey(): string {
    return this.#inbound.deliveryInfo.routingKey;
  }

  get exchange(): string {
    return this.#inbound.deliveryInfo.exchange;
  }

  get redelivered(): boolean {
    return this.#inbound.deliveryInfo.redelivered;
  }

  get deliveryTag(): string | number {
    return this.#inbound.deliveryInfo.deliveryTag;
  }

  get consumerTag(): string {
    return this.#inbound.deliveryInfo.consumerTag;
  }

  get state(): MessageState {
    return this.#state;
  }

  /** True once settled (always true for `noAck` deliveries). */
  get settled(): boolean {
    return this.#state !== 'received';
  }

  /**
   * The decoded payload, computed once.
   * @throws {@link ContentNotAcceptedError} when the content type is not accepted.
   * @throws {@link PayloadTooLargeError} when the body is larger than the connection's `maxBodyBytes`.
   * @throws {@link DecodeError} when the body cannot be decoded.
   */
  decode<T = unknown>(): T {
    if (this.#payload === NOTHING) {
      const tooLarge = this.tooLarge;
      if (tooLarge) throw tooLarge;
      const type = normaliseType(this.contentType ?? 'application/data');
      if (!this.#ctx.accept.has(type)) throw new ContentNotAcceptedError(type, [...this.#ctx.accept]);
      this.#payload = this.#ctx.serializers.decode(this.body, this.contentType, this.contentEncoding);
    }
    return this.#payload as T;
  }

  /** Shorthand for {@link Message.decode}. */
  get payload(): unknown {
    return this.decode();
  }

  /** Acknowledge: the broker forgets the message. */
  ack(): Promise<void> {
    return this.#settle('ack', 'acked');
  }

  /**
   * Reject: with `requeue` the message goes back to its queue, otherwise it is dead-lettered
   * (when the queue has a dead-letter exchange) or dropped.
   */
  reject(options: { requeue?: boolean } = {}): Promise<void> {
    return options.requeue ? this.#settle('requeue', 'requeued') : this.#settle('reject', 'rejected');
  }

  /** Return the message to its queue for redelivery. */
  requeue(): Promise<void> {
    return this.#settle('requeue', 'requeued');
  }

  // Not async: settling is on the hot path, and the transport's promise can be returned as it is.
  #settle(outcome: SettleOutcome, state: MessageState): Promise<void> {
    if (this.#inbound.autoAcked) return SETTLED;
    if (this.#state !== 'received') {
      return Promise.reject(
        new MessageStateError(
          `message ${String(this.deliveryTag)} from queue '${this.queue}' was already ${this.#state}; a message is settled once`,
        ),
      );
    }
    this.#state = state;
    let settled: Promise<void>;
    try {
      settled = this.#ctx.settle(this.#inbound, outcome);
    } catch (error) {
      settled = Promise.reject(error);
    }
    this.#ctx.onSettle?.(this, outcome);
    return settled;
  }

  toString(): string {
    return `Message(${String(this.deliveryTag)} from '${this.queue}', ${this.contentType ?? 'no content type'}, ${this.bodySize} bytes, ${this.#state})`;
  }
}

/** Content types compare without parameters and case: `Application/JSON; charset=utf-8` is `application/json`. */
export function normaliseType(contentType: string): string {
  // Every delivery asks, nearly always with the type the previous one had: that answer is kept.
  if (contentType === lastType) return lastNormalised;
  const semi = contentType.indexOf(';');
  const normalised = (semi >= 0 ? contentType.slice(0, semi) : contentType).trim().toLowerCase();
  lastType = contentType;
  lastNormalised = normalised;
  return normalised;
}

let lastType: string | undefined;
let lastNormalised = '';

declare module '../model/channel.js' {
  // Registers the class of a fetched message with the broker model (see FetchedMessage).
  interface FetchedMessageTypes {
    /** A message fetched by `Queue.get` is a {@link Message}. */
    readonly message: Message;
  }
}
