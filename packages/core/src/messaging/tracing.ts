/**
 * OpenTelemetry spans for messages, through `@opentelemetry/api` (an optional peer dependency): a PRODUCER span per
 * publish, whose context travels in the message headers (`traceparent`, `tracestate`, through the globally
 * registered propagator), and a CONSUMER span per message a worker handles, child of the sender's span. Attribute
 * names follow the OpenTelemetry messaging semantic conventions.
 *
 * The API is loaded once, synchronously (publishing stays synchronous up to the transport), and only when tracing
 * is on. Without the package everything here is a no-op. With the package but neither a tracer provider nor a
 * propagator registered (no SDK), no span is started and nothing is injected: two lookups per message, so a worker
 * without an SDK runs as fast as one with tracing off. The global provider is looked up per message rather than once,
 * because an SDK is often registered after connections are made.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type { MessageProperties } from '../transport/spi.js';

type Api = typeof OtelApi;

/** A tracer provider, as `@opentelemetry/api` defines it (typed loosely so that the API stays optional). */
export interface TracerProviderLike {
  getTracer(name: string, version?: string): unknown;
}

/** Options of a connection's tracing (`ConnectionOptions.tracing`). */
export interface TracingOptions {
  /** Where spans go. @defaultValue the globally registered provider (`trace.setGlobalTracerProvider`, or an SDK's `register()`) */
  readonly tracerProvider?: TracerProviderLike;
}

/** The instrumentation scope of Wakame's spans. */
export const TRACER_NAME = '@wakame/core';

/** What a process span reads of a consumed message (a `Message` has all of it). */
export interface TracedMessage {
  readonly queue: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly redelivered: boolean;
  readonly deliveryTag: string | number;
  readonly bodySize: number;
  readonly properties: Readonly<MessageProperties>;
}

/** A started span: end it exactly once. */
export interface MessageSpan {
  /** Runs `fn` with this span as the active one, so that what it publishes continues the trace. */
  run<T>(fn: () => T): T;
  /** Ends the span; an `error` (an Error or `{ name, message }`) sets error status and records the exception. */
  end(error?: unknown, attributes?: Readonly<Record<string, string | number | boolean>>): void;
}

/**
 * Where every 1.x copy of `@opentelemetry/api` (ESM or CommonJS, any minor version) registers the global tracer
 * provider, propagator and context manager, so that the copies share them. Reading it first makes the common case,
 * nothing registered, one property read per message.
 */
const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');

function nothingRegistered(): boolean {
  const registered = (globalThis as { [API_GLOBAL]?: { trace?: unknown; propagation?: unknown } })[API_GLOBAL];
  return registered === undefined || (registered.trace === undefined && registered.propagation === undefined);
}

let loaded: Api | null | undefined;
/** The provider the API answers with while none is registered (this copy of the API's own). */
let noopProvider: unknown;

/** `@opentelemetry/api`, loaded once; null when it is not installed. */
function loadApi(): Api | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('@opentelemetry/api') as Api;
      noopProvider = new loaded.ProxyTracerProvider().getDelegate();
    } catch {
      loaded = null;
    }
  }
  return loaded;
}

/** `messaging.system` for a URL scheme: the semantic conventions' names where they have one. */
export function messagingSystem(scheme: string): string {
  if (scheme === 'amqp' || scheme === 'amqps') return 'rabbitmq';
  if (scheme === 'rediss') return 'redis';
  return scheme;
}

// Headers set by the propagator are strings; AMQP may hand them back as Buffers.
const getter: OtelApi.TextMapGetter<Readonly<Record<string, unknown>>> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key];
    if (typeof value === 'string') return value;
    return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  },
};

const setter: OtelApi.TextMapSetter<MessageProperties> = {
  set(carrier, key, value) {
    // Only now does a message without headers get some: nothing is allocated when nothing is injected.
    carrier.headers ??= {};
    carrier.headers[key] = value;
  },
};

/**
 * The spans of one connection. Off (`tracing: false`, or `@opentelemetry/api` not installed): `send` and `process`
 * return undefined and cost one property read.
 */
export class MessageTracing {
  /** False when tracing was turned off or `@opentelemetry/api` is not installed. */
  readonly enabled: boolean;
  readonly #api: Api | null;
  readonly #system: string;
  /** The tracer of a provider given in the options: always used. */
  readonly #given: OtelApi.Tracer | undefined;
  #globalProvider: OtelApi.TracerProvider | undefined;
  #globalTracer: OtelApi.Tracer | undefined;

  constructor(system: string, options: TracingOptions | false | undefined) {
    this.#api = options === false ? null : loadApi();
    this.enabled = this.#api !== null;
    this.#system = system;
    const given = options === false ? undefined : options?.tracerProvider;
    this.#given = given === undefined ? undefined : (given.getTracer(TRACER_NAME) as OtelApi.Tracer);
  }

  /** The tracer to use now; undefined when nothing would come of a span (no provider, no propagator registered). */
  #tracer(api: Api): OtelApi.Tracer | undefined {
    if (this.#given !== undefined) return this.#given;
    if (nothingRegistered()) return undefined;
    const provider = api.trace.getTracerProvider();
    if (provider !== this.#globalProvider) {
      this.#globalProvider = provider;
      this.#globalTracer = provider.getTracer(TRACER_NAME);
    }
    // A proxy without a delegate (nothing registered) gives no-op spans; a registered propagator alone would still
    // carry an upstream trace through, so it keeps the spans (non-recording) going.
    const unregistered = provider instanceof api.ProxyTracerProvider && provider.getDelegate() === noopProvider;
    if (unregistered && api.propagation.fields().length === 0) return undefined;
    return this.#globalTracer;
  }

  /**
   * Starts the PRODUCER span of a publish (a child of the active span) and writes its context into `properties`'
   * headers. The caller ends it once the broker has the message, or the publish failed.
   */
  send(exchange: string, routingKey: string, bodySize: number, properties: MessageProperties): MessageSpan | undefined {
    const api = this.#api;
    const tracer = api === null ? undefined : this.#tracer(api);
    if (api === null || tracer === undefined) return undefined;
    const destination = exchange !== '' ? exchange : routingKey;
    const span = tracer.startSpan(destination === '' ? 'send' : `send ${destination}`, {
      kind: api.SpanKind.PRODUCER,
      attributes: {
        'messaging.system': this.#system,
        'messaging.operation.type': 'send',
        'messaging.destination.name': this.#destinationName(exchange, routingKey),
      },
    });
    const active = api.trace.setSpan(api.context.active(), span);
    if (span.isRecording()) {
      span.setAttributes({ 'messaging.operation.name': 'send', 'messaging.message.body.size': bodySize });
      this.#common(span, routingKey, properties);
    }
    // The propagator's headers are replaced, not merged: a re-published message (a retry, a dead letter) must not
    // keep the previous hop's `tracestate` beside the new `traceparent`. The headers are the message's own copy.
    const headers = properties.headers;
    if (headers !== undefined) for (const field of api.propagation.fields()) delete headers[field];
    api.propagation.inject(active, properties, setter);
    return new ActiveSpan(api, span, active);
  }

  /**
   * Starts the CONSUMER span of a delivered message. Its parent is the sender's span (from the message headers),
   * never whatever happened to be active where the consumer started, and it also links to the sender's span, as
   * the semantic conventions ask of process spans. A message sent without trace context starts a new trace.
   */
  process(message: TracedMessage): MessageSpan | undefined {
    const api = this.#api;
    const tracer = api === null ? undefined : this.#tracer(api);
    if (api === null || tracer === undefined) return undefined;
    const headers = message.properties.headers;
    const parent =
      headers === undefined ? api.ROOT_CONTEXT : api.propagation.extract(api.ROOT_CONTEXT, headers, getter);
    const sender = api.trace.getSpanContext(parent);
    const options: OtelApi.SpanOptions = {
      kind: api.SpanKind.CONSUMER,
      attributes: {
        'messaging.system': this.#system,
        'messaging.operation.type': 'process',
        'messaging.destination.name': this.#destinationName(message.exchange, message.queue),
      },
    };
    if (sender !== undefined && api.isSpanContextValid(sender)) options.links = [{ context: sender }];
    const span = tracer.startSpan(`process ${message.queue}`, options, parent);
    if (span.isRecording()) {
      span.setAttributes({
        'messaging.operation.name': 'process',
        'messaging.destination.subscription.name': message.queue,
        'messaging.message.body.size': message.bodySize,
      });
      if (this.#system === 'rabbitmq' && typeof message.deliveryTag === 'number')
        span.setAttribute('messaging.rabbitmq.message.delivery_tag', message.deliveryTag);
      if (message.redelivered) span.setAttribute('wakame.message.redelivered', true);
      this.#common(span, message.routingKey, message.properties);
    }
    return new ActiveSpan(api, span, api.trace.setSpan(parent, span));
  }

  /**
   * On RabbitMQ the destination is the exchange (empty for the default one), as its conventions say; elsewhere the
   * exchange, or for the default exchange the queue the message goes to.
   */
  #destinationName(exchange: string, queue: string): string {
    return this.#system === 'rabbitmq' || exchange !== '' ? exchange : queue;
  }

  /** Attributes both kinds of span have, read from the message. */
  #common(span: OtelApi.Span, routingKey: string, properties: Readonly<MessageProperties>): void {
    if (routingKey !== '') {
      const key = this.#system === 'rabbitmq' ? 'messaging.rabbitmq.destination.routing_key' : 'wakame.routing_key';
      span.setAttribute(key, routingKey);
    }
    if (properties.messageId !== undefined) span.setAttribute('messaging.message.id', properties.messageId);
    if (properties.correlationId !== undefined)
      span.setAttribute('messaging.message.conversation_id', properties.correlationId);
    const task = properties.headers?.task;
    if (typeof task === 'string') span.setAttribute('wakame.task.name', task);
  }
}

class ActiveSpan implements MessageSpan {
  readonly #api: Api;
  readonly #span: OtelApi.Span;
  readonly #context: OtelApi.Context;

  constructor(api: Api, span: OtelApi.Span, context: OtelApi.Context) {
    this.#api = api;
    this.#span = span;
    this.#context = context;
  }

  run<T>(fn: () => T): T {
    return this.#api.context.with(this.#context, fn);
  }

  end(error?: unknown, attributes?: Readonly<Record<string, string | number | boolean>>): void {
    const span = this.#span;
    if (span.isRecording()) {
      if (attributes !== undefined) span.setAttributes(attributes);
      if (error !== undefined) {
        const { name, message } = describe(error);
        span.recordException(error instanceof Error ? error : { name, message });
        span.setAttribute('error.type', name);
        span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message });
      }
    }
    span.end();
  }
}

function describe(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  if (typeof error === 'object' && error !== null) {
    const { name, message } = error as { name?: unknown; message?: unknown };
    return { name: typeof name === 'string' ? name : 'Error', message: typeof message === 'string' ? message : '' };
  }
  return { name: 'Error', message: String(error) };
}
