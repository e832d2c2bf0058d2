/**
 * Instrumentation: a small typed event emitter for what connections, producers and consumers do,
 * and the {@link Logger} interface Wakame writes its own diagnostics to.
 *
 * Emitting must never hurt the code being instrumented, so listener failures (sync or async) are
 * caught and sent to the logger, and hot paths call {@link Instrumentation.listening} first so that
 * payloads are built only when somebody listens.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';

/** Event name → payload. URLs in payloads are always redacted. */
export interface WakameEvents {
  'connection.connect': { url: string; transport: string; attempt: number };
  'connection.retry': { url: string; attempt: number; delayMs: number; error: Error };
  'connection.lost': { url: string; error: Error };
  /** The transport recovered by itself after a loss (topology re-declared, consumers resumed). */
  'connection.revived': { url: string };
  'connection.blocked': { url: string; reason: string };
  'connection.unblocked': { url: string };
  /**
   * A queue exists on the broker but cannot be used now (its node is down): its consumers wait, publishes routed to
   * it are held. Emitted again, with a growing `attempt`, while the transport keeps trying.
   */
  'queue.unavailable': { url: string; queue: string; error: Error; attempt: number };
  /** An unavailable queue is back: its consumers resumed and held publishes sent. */
  'queue.restored': { url: string; queue: string };
  'connection.close': { url: string };
  /**
   * A publish the broker took. `confirmMs`: from handing the message to the transport until it confirmed (resolved);
   * absent for a publish with retries (its attempts and waits are not one confirm).
   */
  'producer.publish': { exchange: string; routingKey: string; bytes: number; messageId?: string; confirmMs?: number };
  'producer.unroutable': { exchange: string; routingKey: string };
  'consumer.subscribe': { queues: readonly string[]; consumerTags: readonly string[] };
  'consumer.cancel': { consumerTags: readonly string[] };
  /** The broker cancelled the consumer (its queue was deleted, …). */
  'consumer.cancelled_by_broker': { consumerTags: readonly string[]; reason: string };
  'consumer.deliver': { queue: string; consumerTag: string; deliveryTag: string | number; redelivered: boolean };
  'consumer.decode_error': { queue: string; error: Error };
  'consumer.handler_error': { queue: string; error: unknown };
  'message.settle': { queue: string; deliveryTag: string | number; outcome: 'ack' | 'requeue' | 'reject' };
}

/** Every event name. */
export type WakameEventName = keyof WakameEvents;

/** What listeners receive. Frozen; the same object is given to every listener of one emit. */
export interface InstrumentationEvent<K extends WakameEventName> {
  /** Increases by one with every emit of this {@link Instrumentation}, starting at 1. */
  readonly id: number;
  readonly type: K;
  /** `Date.now()` at emit time. */
  readonly timestamp: number;
  readonly payload: WakameEvents[K];
}

/** A listener for events of type `K`. A returned promise is observed: its rejection is logged. */
export type InstrumentationListener<K extends WakameEventName> = (event: InstrumentationEvent<K>) => void;

/**
 * Builds `area.verb` names with literal types (the kafkajs idiom):
 * `eventName('consumer')('deliver')` is typed `'consumer.deliver'`.
 */
export function eventName<A extends string>(area: A): <V extends string>(verb: V) => `${A}.${V}` {
  return <V extends string>(verb: V) => `${area}.${verb}` as const;
}

const connection = eventName('connection');
const producer = eventName('producer');
const consumer = eventName('consumer');
const message = eventName('message');
const queue = eventName('queue');

/** The event names as constants, for code that prefers `EVENTS.CONSUMER_DELIVER` to a string. */
export const EVENTS = Object.freeze({
  CONNECTION_CONNECT: connection('connect'),
  CONNECTION_RETRY: connection('retry'),
  CONNECTION_LOST: connection('lost'),
  CONNECTION_REVIVED: connection('revived'),
  CONNECTION_BLOCKED: connection('blocked'),
  CONNECTION_UNBLOCKED: connection('unblocked'),
  CONNECTION_CLOSE: connection('close'),
  QUEUE_UNAVAILABLE: queue('unavailable'),
  QUEUE_RESTORED: queue('restored'),
  PRODUCER_PUBLISH: producer('publish'),
  PRODUCER_UNROUTABLE: producer('unroutable'),
  CONSUMER_SUBSCRIBE: consumer('subscribe'),
  CONSUMER_CANCEL: consumer('cancel'),
  CONSUMER_CANCELLED_BY_BROKER: consumer('cancelled_by_broker'),
  CONSUMER_DELIVER: consumer('deliver'),
  CONSUMER_DECODE_ERROR: consumer('decode_error'),
  CONSUMER_HANDLER_ERROR: consumer('handler_error'),
  MESSAGE_SETTLE: message('settle'),
} as const satisfies Record<string, WakameEventName>);

// Compile-time check that EVENTS lists every event: a missing one makes this `never` fail.
type MissingEvents = Exclude<WakameEventName, (typeof EVENTS)[keyof typeof EVENTS]>;
const allEventsListed: [MissingEvents] extends [never] ? true : never = true;
void allEventsListed;

/** Where Wakame writes diagnostics. Structured `fields` carry no secrets (URLs are redacted). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => undefined;

/** A {@link Logger} that discards everything: the default, since a library should not print. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/** Options of {@link Instrumentation}. */
export interface InstrumentationOptions {
  /** Receives errors thrown by listeners. @defaultValue {@link silentLogger} */
  readonly logger?: Logger;
}

interface Subscription {
  readonly listener: InstrumentationListener<never>;
  readonly once: boolean;
}

/** A typed event emitter for {@link WakameEvents}. */
export class Instrumentation {
  /** Where listener failures are reported. */
  readonly logger: Logger;
  readonly #subscriptions = new Map<WakameEventName, Set<Subscription>>();
  #lastId = 0;

  constructor(options: InstrumentationOptions = {}) {
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * Calls `listener` for every event of `type`. Registering the same function twice makes two
   * subscriptions.
   *
   * @returns a function that removes this subscription (idempotent).
   */
  on<K extends WakameEventName>(type: K, listener: InstrumentationListener<K>): () => void {
    return this.#subscribe(type, listener, false);
  }

  /** Like {@link Instrumentation.on}, but the listener is removed before its first call. */
  once<K extends WakameEventName>(type: K, listener: InstrumentationListener<K>): () => void {
    return this.#subscribe(type, listener, true);
  }

  /** Removes every subscription of `listener` to `type`. */
  off<K extends WakameEventName>(type: K, listener: InstrumentationListener<K>): void {
    const set = this.#subscriptions.get(type);
    if (!set) return;
    for (const sub of set) if (sub.listener === listener) set.delete(sub);
    if (set.size === 0) this.#subscriptions.delete(type);
  }

  /** Cheap check used on hot paths so payloads are only built when someone listens. */
  listening(type: WakameEventName): boolean {
    return (this.#subscriptions.get(type)?.size ?? 0) > 0;
  }

  /**
   * Delivers an event to the current listeners of `type`, synchronously and in subscription order.
   * A listener that throws (or whose promise rejects) is reported through `logger.error`; the
   * other listeners still run and the caller never sees the error.
   */
  emit<K extends WakameEventName>(type: K, payload: WakameEvents[K]): void {
    const id = ++this.#lastId;
    const set = this.#subscriptions.get(type);
    if (!set || set.size === 0) return;
    const event: InstrumentationEvent<K> = Object.freeze({ id, type, timestamp: Date.now(), payload });
    // A snapshot, so listeners may subscribe or unsubscribe while being called.
    for (const sub of [...set]) {
      if (sub.once) {
        // Already removed (by an earlier once-listener's re-entrant emit, or by off): skip.
        if (!set.delete(sub)) continue;
        if (set.size === 0) this.#subscriptions.delete(type);
      } else if (!set.has(sub)) {
        continue;
      }
      this.#invoke(sub.listener as InstrumentationListener<K>, event);
    }
  }

  #subscribe<K extends WakameEventName>(type: K, listener: InstrumentationListener<K>, once: boolean): () => void {
    if (typeof listener !== 'function') throw new InvalidArgumentError(`listener for '${type}' must be a function`);
    const sub: Subscription = { listener: listener as InstrumentationListener<never>, once };
    let set = this.#subscriptions.get(type);
    if (!set) {
      set = new Set();
      this.#subscriptions.set(type, set);
    }
    set.add(sub);
    return () => {
      const current = this.#subscriptions.get(type);
      if (!current?.delete(sub)) return;
      if (current.size === 0) this.#subscriptions.delete(type);
    };
  }

  #invoke<K extends WakameEventName>(listener: InstrumentationListener<K>, event: InstrumentationEvent<K>): void {
    try {
      // Typed as void, but an async function is assignable to it: observe its promise too.
      const result: unknown = listener(event);
      if (isThenable(result)) result.then(undefined, (error: unknown) => this.#report(event, error));
    } catch (error) {
      this.#report(event, error);
    }
  }

  #report(event: InstrumentationEvent<WakameEventName>, error: unknown): void {
    try {
      this.logger.error('instrumentation listener failed', { event: event.type, eventId: event.id, error });
    } catch {
      // A failing logger must not turn an event into a crash; there is nowhere left to report.
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
