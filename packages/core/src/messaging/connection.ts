/**
 * The entry point of the messaging layer. A {@link Connection} turns broker URLs into a transport
 * through the transport registry, connects lazily, fails over between URLs and retries operations
 * across reconnects. Producers, consumers and attached declarations all act through it, which is
 * why the declaration cache lives here: it has to be forgotten whenever the broker connection is lost.
 *
 * @module
 */
import {
  ConnectionClosedError,
  ConnectionError,
  InvalidOperationError,
  TimeoutError,
  TransportError,
  WakameError,
} from '../errors.js';
import { asError } from '../internal/as-error.js';
import type { Channel } from '../model/channel.js';
import type { Exchange } from '../model/exchange.js';
import type { Queue } from '../model/queue.js';
import { type CompressionRegistry, compressors as defaultCompressors } from '../serialization/compression.js';
import { serializers as defaultSerializers, type SerializerRegistry } from '../serialization/serializers.js';
import type { TransportRegistry } from '../transport/registry.js';
import type { Capabilities, TopologyAdmin, Transport, TransportStatus } from '../transport/spi.js';
import { type BrokerUrl, parseBrokerUrls } from '../transport/url.js';
import { type AutoretryOptions, autoretry } from './autoretry.js';
import { connectionAdmin } from './connection-admin.js';
import type { ConnectionContext } from './connection-context.js';
import { type ConnectionOptions, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES } from './connection-options.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { DeclarationCache } from './declaration-cache.js';
import { defaultTransports } from './default-transports.js';
import { DrainEvents, type DrainEventsOptions } from './drain-events.js';
import { Instrumentation, type Logger, silentLogger } from './events.js';
import { LinkStatus } from './link-status.js';
import { Message, normaliseType } from './message.js';
import { openTransport, type TransportDial } from './open-transport.js';
import { Producer, type ProducerOptions } from './producer.js';
import { type RetryPolicy, retry } from './retry.js';
import { MessageTracing, messagingSystem } from './tracing.js';

export {
  type ConnectionOptions,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_SECONDS,
  DEFAULT_MAX_BODY_BYTES,
} from './connection-options.js';

/**
 * A connection to a broker, by URL: `amqp://user:pass@host:5672/vhost`, `redis://host:6379/0`,
 * `memory://name`, `file:///path`; several URLs (`'url1;url2'` or an array) fail over in order.
 *
 * Connecting is lazy: the first operation connects (one attempt over every URL, each bounded by
 * `connectTimeoutMs`). {@link Connection.ensureConnection} retries with backoff; {@link Connection.ensure}
 * retries an operation across reconnects. Every wait is bounded. The password never appears in
 * `toString()`, logs, events or error messages.
 *
 * @example
 * await withConnection('memory://', async (conn) => {
 *   await conn.producer().publish({ hello: 'world' }, { routingKey: 'greetings', declare: [new Queue('greetings')] });
 * });
 */
export class Connection implements Channel, ConnectionContext {
  readonly urls: readonly BrokerUrl[];
  readonly events: Instrumentation;
  readonly logger: Logger;
  readonly serializers: SerializerRegistry;
  readonly compressors: CompressionRegistry;
  readonly maxBodyBytes: number;
  /** Spans of publishes and handled messages (a no-op when off or without `@opentelemetry/api`). */
  readonly tracing: MessageTracing;
  readonly #options: ConnectionOptions;
  readonly #registry: TransportRegistry;
  readonly #declarations = new DeclarationCache();
  readonly #closeHooks = new Set<() => Promise<void> | void>();
  #index = 0;
  #transport: Transport | undefined;
  #connecting: Promise<Transport> | undefined;
  #unlisten: (() => void) | undefined;
  #closed = false;
  /** What the connected transport reported of its link: recovering, the node it reached, queues it cannot serve. */
  readonly #link: LinkStatus;
  readonly #drain = new DrainEvents(() => this.url);

  constructor(url: string | readonly string[], options: ConnectionOptions = {}) {
    this.urls = parseBrokerUrls(url);
    if (options.failover === 'shuffle') this.#index = Math.floor(Math.random() * this.urls.length);
    this.#options = options;
    this.#registry = options.transports ?? defaultTransports;
    this.logger = options.logger ?? silentLogger;
    this.events = options.instrumentation ?? new Instrumentation({ logger: this.logger });
    this.serializers = options.serializers ?? defaultSerializers;
    this.compressors = options.compressors ?? defaultCompressors;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.tracing = new MessageTracing(messagingSystem((this.urls[0] as BrokerUrl).scheme), options.tracing);
    this.#link = new LinkStatus({
      events: this.events,
      url: () => this.url,
      disconnected: (error) => void this.#drop(error ?? new ConnectionClosedError('connection lost')),
      forgetDeclarations: () => this.#forgetDeclarations(),
    });
  }

  /** Creates a connection and connects it (one attempt over every URL). */
  static async open(url: string | readonly string[], options: ConnectionOptions = {}): Promise<Connection> {
    const connection = new Connection(url, options);
    try {
      await connection.connect();
    } catch (error) {
      await connection.close();
      throw error;
    }
    return connection;
  }

  /** The URL of the node connected now (after a failover, the one failed over to), password masked. */
  get url(): string {
    return this.#link.connectedUrl ?? (this.urls[this.#index] as BrokerUrl).redacted;
  }

  /**
   * Queues the broker has but cannot serve now (a classic queue whose node is down), with the broker's reason.
   * Their consumers wait and publishes routed to them are held, while everything else goes on.
   */
  get unavailableQueues(): ReadonlyMap<string, Error> {
    return this.#link.unavailableQueues;
  }

  /** Connected now: false before the first connect, after close, and while a transport recovers a lost broker. */
  get isConnected(): boolean {
    return this.#transport !== undefined && !this.#link.recovering;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The connected transport. @throws {@link InvalidOperationError} when not connected. */
  get transport(): Transport {
    if (!this.#transport) throw new InvalidOperationError(`not connected to ${this.url}: call connect() first`);
    return this.#transport;
  }

  /** The transport when connected, without connecting (hot paths use this before awaiting). */
  get currentTransport(): Transport | undefined {
    return this.#transport;
  }

  /** What the connected transport can do. @throws {@link InvalidOperationError} when not connected. */
  get capabilities(): Capabilities {
    return this.transport.capabilities;
  }

  /** Topology operations; each connects first when needed. */
  readonly admin: TopologyAdmin = connectionAdmin(this, () => this.#forgetDeclarations());

  /** Connects if needed and returns the transport. */
  ready(signal?: AbortSignal): Promise<Transport> {
    if (this.#transport) return Promise.resolve(this.#transport);
    if (this.#closed) return Promise.reject(new ConnectionClosedError(`connection to ${this.url} is closed`));
    this.#connecting ??= this.#connectCycle(signal).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Connects: one attempt per URL, in failover order. @throws the last attempt's error. */
  async connect(signal?: AbortSignal): Promise<this> {
    await this.ready(signal);
    return this;
  }

  /** Connects with retries (backoff and jitter between full cycles over the URLs), bounded by `policy`. */
  async ensureConnection(policy: RetryPolicy = this.#options.retry ?? {}): Promise<this> {
    await retry(async (_attempt, signal) => this.ready(signal), {
      ...policy,
      onRetry: async (info) => {
        this.events.emit('connection.retry', {
          url: this.url,
          attempt: info.attempt,
          delayMs: info.delayMs,
          error: asError(info.error),
        });
        await policy.onRetry?.(info);
      },
    });
    return this;
  }

  /**
   * Runs `operation`, retrying retriable failures per `policy`; connection-level failures reconnect
   * first (kombu's `ensure`, but bounded and without mutating any shared options).
   */
  async ensure<T>(
    operation: (connection: this) => Promise<T>,
    policy: RetryPolicy = this.#options.retry ?? {},
  ): Promise<T> {
    return retry(async (_attempt, signal) => {
      await this.ready(signal);
      try {
        return await operation(this);
      } catch (error) {
        if (error instanceof TransportError && error.recovery === 'connection') await this.#drop(error);
        throw error;
      }
    }, policy);
  }

  /**
   * kombu's `autoretry`: a function with `fn`'s parameters whose calls run `fn` through
   * {@link Connection.ensure} with this connection's retry policy overridden by `options`, calling
   * `onRevive` after each reconnect before retrying.
   *
   * @example
   * const send = conn.autoretry((body: unknown) => producer.publish(body, { routingKey: 'q' }), { maxRetries: 3 });
   */
  autoretry<A extends unknown[], R>(
    fn: (...args: A) => Promise<R>,
    options: AutoretryOptions<this> = {},
  ): (...args: A) => Promise<R> {
    return autoretry(this, fn, { ...this.#options.retry, ...options });
  }

  /**
   * Declares entities once per connection: the cache is keyed on the *whole* declaration (so two
   * queues with one name but other bindings are both applied) and forgotten on reconnect. Queues
   * that can vanish on their own (auto-delete, exclusive, expiring) are declared every time.
   */
  async declare(...entities: readonly (Exchange | Queue)[]): Promise<void> {
    for (const entity of entities) await this.#declarations.once(entity, () => entity.attach(this).declare());
  }

  /** A {@link Producer} on this connection. */
  producer(options: ProducerOptions = {}): Producer {
    return new Producer(this, options);
  }

  /** A {@link Consumer} on this connection (call `consume()` or iterate it to start). */
  consumer(options: ConsumerOptions): Consumer {
    return new Consumer(this, options);
  }

  /** Fetches one message without subscribing (basic.get). */
  async getMessage(
    queue: string,
    options: { noAck?: boolean; accept?: readonly string[] } = {},
  ): Promise<Message | undefined> {
    const transport = await this.ready();
    const inbound = await transport.get(queue, { noAck: options.noAck ?? false });
    if (!inbound) return undefined;
    return new Message(inbound, {
      settle: (m, outcome) => transport.settle(m, outcome),
      serializers: this.serializers,
      compressors: this.compressors,
      accept: this.acceptSet(options.accept),
      maxBodyBytes: this.maxBodyBytes,
    });
  }

  /** Resolves an accept list (names or content types) against this connection's serializers. */
  acceptSet(accept: readonly string[] = ['json']): ReadonlySet<string> {
    return new Set([...this.serializers.resolveAccept(accept)].map(normaliseType));
  }

  /**
   * kombu's `drain_events`: resolves with how many deliveries this connection's consumers handled
   * (at least one) once one was, or rejects with a {@link TimeoutError} when none was within
   * `timeout` seconds. Consumers handle deliveries without it; see {@link DrainEventsOptions}.
   */
  drainEvents(options?: DrainEventsOptions): Promise<number> {
    if (this.#closed) return Promise.reject(new ConnectionClosedError(`connection to ${this.url} is closed`));
    return this.#drain.wait(options);
  }

  /** A consumer of this connection is done with one delivery (for {@link Connection.drainEvents}). @internal */
  handled(): void {
    this.#drain.handled();
  }

  /** Registers cleanup to run (once) when the connection closes; returns the unregister function. @internal */
  onClose(hook: () => Promise<void> | void): () => void {
    this.#closeHooks.add(hook);
    return () => this.#closeHooks.delete(hook);
  }

  /** Closes the connection; unsettled messages return to their queues. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#drain.close();
    for (const hook of [...this.#closeHooks]) await hook();
    this.#closeHooks.clear();
    await this.#connecting?.catch(() => undefined);
    const transport = this.#transport;
    this.#transport = undefined;
    this.#unlisten?.();
    if (transport) {
      await transport.close();
      this.events.emit('connection.close', { url: this.url });
    }
  }

  toString(): string {
    return `Connection(${this.urls.map((u) => u.redacted).join(';')})`;
  }

  // ---------------------------------------------------------------------------------------------

  async #connectCycle(signal?: AbortSignal): Promise<Transport> {
    const dial: TransportDial = {
      registry: this.#registry,
      options: this.#options,
      maxBodyBytes: this.maxBodyBytes,
      timeoutMs: this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    };
    let lastError: unknown;
    for (let tried = 0; tried < this.urls.length; tried++) {
      if (signal?.aborted) throw asError(signal.reason);
      const url = this.urls[this.#index] as BrokerUrl;
      try {
        const alternates = [...this.urls.slice(this.#index), ...this.urls.slice(0, this.#index)];
        const transport = await openTransport(url, alternates, dial, signal);
        if (this.#closed) {
          await transport.close();
          throw new ConnectionClosedError(`connection to ${url.redacted} was closed while connecting`);
        }
        this.#adopt(transport);
        this.events.emit('connection.connect', { url: url.redacted, transport: transport.kind, attempt: tried + 1 });
        return transport;
      } catch (error) {
        lastError = error;
        // Configuration mistakes (bad scheme, missing package) fail the same way on every URL.
        if (error instanceof WakameError && !error.retriable) throw error;
        this.logger.warn('connection attempt failed', { url: url.redacted, error: asError(error).message });
        this.#index = (this.#index + 1) % this.urls.length;
      }
    }
    if (lastError instanceof ConnectionError || lastError instanceof TimeoutError) throw lastError;
    throw new ConnectionError(`could not connect to ${this.urls.map((u) => u.redacted).join(', ')}`, {
      cause: lastError,
    });
  }

  #adopt(transport: Transport): void {
    this.#transport = transport;
    this.#link.reset();
    this.#unlisten = transport.onStatus((status: TransportStatus) => {
      if (this.#transport !== transport || this.#closed) return;
      this.#link.report(status);
    });
  }

  async #drop(error: unknown): Promise<void> {
    const transport = this.#transport;
    if (!transport) return;
    this.#transport = undefined;
    this.#unlisten?.();
    this.#forgetDeclarations();
    this.events.emit('connection.lost', { url: this.url, error: asError(error) });
    await transport.close().catch(() => undefined);
  }

  #forgetDeclarations(): void {
    this.#declarations.clear();
  }
}

/** Opens a connection, runs `fn`, and closes the connection whatever happens. */
export async function withConnection<T>(
  url: string | readonly string[],
  fn: (connection: Connection) => Promise<T>,
  options: ConnectionOptions = {},
): Promise<T> {
  const connection = await Connection.open(url, options);
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}
