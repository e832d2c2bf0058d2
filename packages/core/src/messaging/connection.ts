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
import { stableStringify } from '../internal/stable-stringify.js';
import type { Channel } from '../model/channel.js';
import { Exchange } from '../model/exchange.js';
import { Queue } from '../model/queue.js';
import { type CompressionRegistry, compressors as defaultCompressors } from '../serialization/compression.js';
import { serializers as defaultSerializers, type SerializerRegistry } from '../serialization/serializers.js';
import type { TransportRegistry } from '../transport/registry.js';
import type {
  Capabilities,
  QueueMigration,
  RecoveryPolicy,
  TopologyAdmin,
  Transport,
  TransportStatus,
} from '../transport/spi.js';
import { type BrokerUrl, parseBrokerUrls } from '../transport/url.js';
import { type AutoretryOptions, autoretry } from './autoretry.js';
import type { ConnectionContext } from './connection-context.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { defaultTransports } from './default-transports.js';
import { DrainEvents, type DrainEventsOptions } from './drain-events.js';
import { Instrumentation, type Logger, silentLogger } from './events.js';
import { Message, normaliseType } from './message.js';
import { Producer, type ProducerOptions } from './producer.js';
import { type RetryPolicy, retry } from './retry.js';
import { MessageTracing, messagingSystem, type TracingOptions } from './tracing.js';

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
  readonly #declared = new Set<string>();
  readonly #declarationKeys = new WeakMap<object, string>();
  readonly #closeHooks = new Set<() => Promise<void> | void>();
  #index = 0;
  #transport: Transport | undefined;
  #connecting: Promise<Transport> | undefined;
  #unlisten: (() => void) | undefined;
  #closed = false;
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
    return this.#connectedUrl ?? (this.urls[this.#index] as BrokerUrl).redacted;
  }

  /** What a transport that fails over by itself said it reached, when it says. */
  #connectedUrl: string | undefined;
  /** Queues that exist but cannot be used now (their node is down), and why; see {@link Connection.unavailableQueues}. */
  readonly #unavailable = new Map<string, Error>();

  /**
   * Queues the broker has but cannot serve now (a classic queue whose node is down), with the broker's reason.
   * Their consumers wait and publishes routed to them are held, while everything else goes on.
   */
  get unavailableQueues(): ReadonlyMap<string, Error> {
    return this.#unavailable;
  }

  /** Connected now: false before the first connect, after close, and while a transport recovers a lost broker. */
  get isConnected(): boolean {
    return this.#transport !== undefined && !this.#recovering;
  }

  /** The transport lost its broker and is reconnecting by itself. */
  #recovering = false;

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
  readonly admin: TopologyAdmin = ((connection: Connection): TopologyAdmin => ({
    declareExchange: async (spec, options) => (await this.ready()).admin.declareExchange(spec, options),
    declareQueue: async (spec, options) => (await this.ready()).admin.declareQueue(spec, options),
    bind: async (binding) => (await this.ready()).admin.bind(binding),
    unbind: async (binding) => (await this.ready()).admin.unbind(binding),
    deleteExchange: async (name, options) => (await this.ready()).admin.deleteExchange(name, options),
    deleteQueue: async (name, options) => {
      const deleted = await (await this.ready()).admin.deleteQueue(name, options);
      this.#forgetDeclarations();
      return deleted;
    },
    purgeQueue: async (name) => (await this.ready()).admin.purgeQueue(name),
    inspect: async () => (await this.ready()).admin.inspect(),
    // The connected transport's records, broker entities and migrator; undefined before the connection is open.
    get stacks() {
      return connection.currentTransport?.admin.stacks;
    },
    get broker() {
      return connection.currentTransport?.admin.broker;
    },
    get migrateQueue() {
      const migrate = connection.currentTransport?.admin.migrateQueue?.bind(connection.currentTransport.admin);
      if (!migrate) return undefined;
      return async (migration: QueueMigration) => {
        try {
          return await migrate(migration);
        } finally {
          // The queue was declared again with other settings: what this connection declared is stale.
          connection.#forgetDeclarations();
        }
      };
    },
    // Batched probes and binds (one round trip per batch, not per entity), where the transport has them. Read from
    // the connected transport: before a connect there is none, and the planner then takes the one-by-one path.
    get probeEntities() {
      const admin = connection.currentTransport?.admin;
      return admin?.probeEntities?.bind(admin);
    },
    get bindMany() {
      const admin = connection.currentTransport?.admin;
      return admin?.bindMany?.bind(admin);
    },
  }))(this);

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
    for (const entity of entities) {
      const key = this.#declarationKey(entity);
      if (key !== undefined && this.#declared.has(key)) continue;
      await entity.attach(this).declare();
      if (key !== undefined) this.#declared.add(key);
    }
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
    const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    let lastError: unknown;
    for (let tried = 0; tried < this.urls.length; tried++) {
      if (signal?.aborted) throw asError(signal.reason);
      const url = this.urls[this.#index] as BrokerUrl;
      try {
        const factory = await this.#registry.resolve(url.scheme);
        const transport = factory(url, {
          heartbeat: this.#options.heartbeat ?? DEFAULT_HEARTBEAT_SECONDS,
          connectTimeoutMs: timeoutMs,
          alternates: [...this.urls.slice(this.#index), ...this.urls.slice(0, this.#index)],
          ...(this.#options.recovery ? { recovery: this.#options.recovery } : {}),
          extra: this.#options.transportOptions ?? {},
          maxBodyBytes: this.maxBodyBytes,
        });
        await withDeadline(transport, timeoutMs, url, signal);
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
    this.#recovering = false;
    this.#connectedUrl = undefined;
    this.#unavailable.clear();
    this.#unlisten = transport.onStatus((status: TransportStatus) => {
      if (this.#transport !== transport || this.#closed) return;
      switch (status.type) {
        case 'disconnected':
          void this.#drop(status.error ?? new ConnectionClosedError('connection lost'));
          break;
        case 'reconnecting':
          // The transport recovers by itself; declarations must be replayed by it, so forget ours.
          this.#forgetDeclarations();
          this.#unavailable.clear();
          if (!this.#recovering) {
            // Recovering before the event: a listener that checks `isConnected` must already see false.
            this.#recovering = true;
            this.events.emit('connection.lost', { url: this.url, error: status.error });
          }
          break;
        case 'reconnected':
          this.#recovering = false;
          this.#connectedUrl = status.url;
          this.events.emit('connection.revived', { url: status.url });
          break;
        case 'queue-unavailable':
          this.#unavailable.set(status.queue, status.error);
          this.events.emit('queue.unavailable', {
            url: this.url,
            queue: status.queue,
            error: status.error,
            attempt: status.attempt,
          });
          break;
        case 'queue-restored':
          this.#unavailable.delete(status.queue);
          this.events.emit('queue.restored', { url: this.url, queue: status.queue });
          break;
        case 'blocked':
          this.events.emit('connection.blocked', { url: this.url, reason: status.reason });
          break;
        case 'unblocked':
          this.events.emit('connection.unblocked', { url: this.url });
          break;
        case 'connected':
          if (status.url !== undefined) this.#connectedUrl = status.url;
          break;
      }
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
    this.#declared.clear();
  }

  #declarationKey(entity: Exchange | Queue): string | undefined {
    if (
      entity instanceof Queue &&
      (entity.autoDelete || entity.exclusive || entity.expires !== undefined || entity.name === '')
    ) {
      return undefined;
    }
    if (entity instanceof Exchange && entity.autoDelete) return undefined;
    let key = this.#declarationKeys.get(entity);
    if (key === undefined) {
      key = (entity instanceof Exchange ? 'E' : 'Q') + stableStringify(entity.toJSON());
      this.#declarationKeys.set(entity, key);
    }
    return key;
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

async function withDeadline(
  transport: Transport,
  timeoutMs: number,
  url: BrokerUrl,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`connecting to ${url.redacted} took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([transport.connect(combined), timedOut]);
  } catch (error) {
    await transport.close().catch(() => undefined);
    if (error instanceof WakameError) throw error;
    throw new ConnectionError(`could not connect to ${url.redacted}: ${asError(error).message}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
