/**
 * Bounded pools in kombu's manner, for code that publishes from many concurrent tasks (request
 * handlers, job runners): they share a few connections instead of opening one each, and a caller
 * that finds the pool exhausted waits a bounded time instead of piling more load on the broker.
 * {@link ResourcePool} is the generic part; the connection and producer pools only say how to make,
 * check and dispose of what they hold.
 *
 * @module
 */
import { InvalidOperationError, ResourceLimitError, TransportError } from '../errors.js';
import { MAX_TIMER_MS } from '../internal/sleep.js';
import { checkCount } from '../model/names.js';
import { parseBrokerUrls } from '../transport/url.js';
import { Connection, type ConnectionOptions } from './connection.js';
import type { Producer, ProducerOptions, PublishOptions } from './producer.js';

/** kombu's default pool limit. */
export const DEFAULT_POOL_LIMIT = 10;
/** How long {@link ResourcePool.acquire} waits for a free resource by default. */
export const DEFAULT_ACQUIRE_TIMEOUT_MS = 10_000;

/** Options of {@link ResourcePool}. */
export interface PoolOptions<T> {
  /** Most resources alive at once, in use or idle (those being created count). @defaultValue {@link DEFAULT_POOL_LIMIT} */
  readonly limit?: number;
  /** Makes a resource; called lazily, only when an acquire finds none idle and the limit allows. */
  readonly create: () => Promise<T>;
  /** Disposes of a resource. Its failures are ignored: the pool has dropped the resource either way. */
  readonly destroy: (resource: T) => Promise<void>;
  /** Whether an idle or released resource can be handed out again; others are destroyed and replaced. @defaultValue always */
  readonly healthy?: (resource: T) => boolean;
  /** Default of {@link AcquireOptions.timeout}. @defaultValue {@link DEFAULT_ACQUIRE_TIMEOUT_MS} */
  readonly acquireTimeout?: number;
  /** Names the pool in error messages. @defaultValue `'pool'` */
  readonly name?: string;
}

/** Options of {@link ResourcePool.acquire}. */
export interface AcquireOptions {
  /** Longest wait in ms for a free resource; `0` fails at once when none is free. @defaultValue the pool's `acquireTimeout` */
  readonly timeout?: number;
  /** Gives up early, rejecting with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A resource taken from a pool. Give it back exactly once, with `release` or `replace`. */
export interface Lease<T> {
  readonly resource: T;
  /**
   * Returns the resource to the pool (or to the longest waiting acquire). Releasing again, or after
   * `replace`, or after the pool closed, is a no-op: a `finally` that releases is always safe.
   */
  release(): void;
  /** The resource is broken: destroys it and frees its slot, so a fresh one is created when needed. */
  replace(): Promise<void>;
}

/** What a waiting acquire is handed: a released resource, or a slot to create one in. */
type Grant<T> = { readonly resource: T } | { readonly create: true };

interface Waiter<T> {
  grant(grant: Grant<T>): void;
  fail(error: unknown): void;
}

/**
 * A bounded resource pool (kombu's `Resource`). {@link ResourcePool.acquire} hands out an idle
 * resource (the most recently released first, so a few stay warm and the rest can time out on the
 * broker), creates one while fewer than `limit` exist, or waits, bounded, for a release. Waiters
 * are served in arrival order. Every timer is cleared once its wait ends.
 *
 * @example
 * const pool = new ResourcePool({ limit: 3, create: async () => open(), destroy: async (r) => r.close() });
 * const answer = await pool.use(async (r) => r.query());
 */
export class ResourcePool<T> {
  readonly limit: number;
  readonly #options: PoolOptions<T>;
  readonly #acquireTimeout: number;
  readonly #name: string;
  /** A stack: the last released is the first reused (LIFO). */
  readonly #idle: T[] = [];
  /** Leases not yet given back; membership is what makes a second release a no-op. */
  readonly #leases = new Set<Lease<T>>();
  /** Waiting acquires, oldest first (a Set iterates in insertion order). */
  readonly #waiters = new Set<Waiter<T>>();
  /** Resources alive or being created or destroyed: the number `limit` bounds. */
  #size = 0;
  #closing: Promise<void> | undefined;

  constructor(options: PoolOptions<T>) {
    this.limit = checkCount(options.limit, 'pool limit', 1) ?? DEFAULT_POOL_LIMIT;
    this.#acquireTimeout =
      checkCount(options.acquireTimeout, 'acquireTimeout', 0, MAX_TIMER_MS) ?? DEFAULT_ACQUIRE_TIMEOUT_MS;
    this.#name = options.name ?? 'pool';
    this.#options = options;
  }

  /** Resources alive now, in use or idle, including any being created or destroyed. */
  get size(): number {
    return this.#size;
  }

  /** How many acquires would succeed now without waiting: idle resources plus room to create. */
  get available(): number {
    return this.#closing ? 0 : this.#idle.length + (this.limit - this.#size);
  }

  /** Acquires waiting for a resource. */
  get waiting(): number {
    return this.#waiters.size;
  }

  get isClosed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Takes a resource, waiting up to `timeout` ms when all `limit` are in use.
   * @throws {@link ResourceLimitError} when none was free in time; {@link InvalidOperationError}
   * when the pool is (or gets) closed; the signal's reason when aborted; whatever `create` throws.
   */
  async acquire(options: AcquireOptions = {}): Promise<Lease<T>> {
    const timeout = checkCount(options.timeout, 'timeout', 0, MAX_TIMER_MS) ?? this.#acquireTimeout;
    if (this.#closing) throw this.#closedError();
    options.signal?.throwIfAborted();
    const grant = this.#take() ?? (await this.#enqueue(timeout, options.signal));
    if ('resource' in grant) return this.#lease(grant.resource);
    let resource: T;
    try {
      resource = await this.#options.create();
    } catch (error) {
      this.#freeSlot();
      throw error;
    }
    if (this.#closing) {
      await this.#destroy(resource);
      this.#size--;
      throw this.#closedError();
    }
    return this.#lease(resource);
  }

  /**
   * Runs `fn` with a resource and gives it back: replaced when `fn` fails with a connection-level
   * {@link TransportError} (`recovery === 'connection'`, the resource is likely dead), released otherwise.
   */
  async use<R>(fn: (resource: T) => Promise<R>, options?: AcquireOptions): Promise<R> {
    const lease = await this.acquire(options);
    let result: R;
    try {
      result = await fn(lease.resource);
    } catch (error) {
      if (error instanceof TransportError && error.recovery === 'connection') await lease.replace();
      else lease.release();
      throw error;
    }
    lease.release();
    return result;
  }

  /**
   * Rejects waiting acquires and destroys every resource, idle or leased (a lease released later
   * is a no-op). Acquires after this reject with {@link InvalidOperationError}. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  // ---------------------------------------------------------------------------------------------

  async #close(): Promise<void> {
    const error = this.#closedError();
    for (const waiter of [...this.#waiters]) waiter.fail(error);
    const resources = [...this.#idle.splice(0), ...[...this.#leases].map((lease) => lease.resource)];
    this.#leases.clear();
    await Promise.all(resources.map((resource) => this.#destroy(resource)));
    this.#size -= resources.length;
  }

  /** A free resource or a reserved slot, without waiting; `undefined` when the pool is full. */
  #take(): Grant<T> | undefined {
    while (this.#idle.length > 0) {
      const resource = this.#idle.pop() as T;
      if (this.#healthy(resource)) return { resource };
      void this.#destroyThenFree(resource);
    }
    if (this.#size < this.limit) {
      this.#size++;
      return { create: true };
    }
    return undefined;
  }

  #enqueue(timeout: number, signal: AbortSignal | undefined): Promise<Grant<T>> {
    if (timeout === 0) return Promise.reject(this.#limitError(timeout));
    return new Promise<Grant<T>>((resolve, reject) => {
      const stop = (): void => {
        this.#waiters.delete(waiter);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter<T> = {
        grant: (grant) => {
          stop();
          resolve(grant);
        },
        fail: (error) => {
          stop();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.fail(signal?.reason);
      const timer = setTimeout(() => waiter.fail(this.#limitError(timeout)), timeout);
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #nextWaiter(): Waiter<T> | undefined {
    const [waiter] = this.#waiters;
    return waiter;
  }

  #lease(resource: T): Lease<T> {
    const lease: Lease<T> = {
      resource,
      release: () => {
        if (this.#leases.delete(lease)) this.#release(resource);
      },
      replace: async () => {
        if (this.#leases.delete(lease)) await this.#destroyThenFree(resource);
      },
    };
    this.#leases.add(lease);
    return lease;
  }

  #release(resource: T): void {
    if (!this.#healthy(resource)) {
      void this.#destroyThenFree(resource);
      return;
    }
    // Handing over directly, rather than idling it and waking a waiter, means a new acquire can
    // never overtake one that has been waiting.
    const waiter = this.#nextWaiter();
    if (waiter) waiter.grant({ resource });
    else this.#idle.push(resource);
  }

  /** A slot is free: a waiter gets it to create a resource in, otherwise the pool shrinks. */
  #freeSlot(): void {
    const waiter = this.#closing ? undefined : this.#nextWaiter();
    if (waiter) waiter.grant({ create: true });
    else this.#size--;
  }

  /** The slot is freed only after `destroy` finished, so a replacement never overlaps its predecessor. */
  async #destroyThenFree(resource: T): Promise<void> {
    await this.#destroy(resource);
    this.#freeSlot();
  }

  async #destroy(resource: T): Promise<void> {
    try {
      await this.#options.destroy(resource);
    } catch {
      // The pool forgets the resource either way; a failed close of a broken resource is expected.
    }
  }

  #healthy(resource: T): boolean {
    try {
      return this.#options.healthy?.(resource) ?? true;
    } catch {
      return false; // a health check that cannot tell is a failed one
    }
  }

  #limitError(timeout: number): ResourceLimitError {
    return new ResourceLimitError(
      `${this.#name}: all ${this.limit} resources are in use and none was released within ${timeout} ms; release leases sooner or raise the limit`,
    );
  }

  #closedError(): InvalidOperationError {
    return new InvalidOperationError(`${this.#name} is closed`);
  }
}

/** Options of {@link ConnectionPool}. */
export interface ConnectionPoolOptions {
  /** @defaultValue {@link DEFAULT_POOL_LIMIT} */
  readonly limit?: number;
  /** @defaultValue {@link DEFAULT_ACQUIRE_TIMEOUT_MS} */
  readonly acquireTimeout?: number;
  /** Options of every pooled {@link Connection}. @defaultValue `{}` */
  readonly connectionOptions?: ConnectionOptions;
}

/**
 * A pool of {@link Connection}s to one broker (kombu's `ConnectionPool`). Connections are created
 * on demand and connect lazily, at their first operation; a closed one is destroyed and replaced
 * instead of being handed out.
 *
 * @example
 * const pool = new ConnectionPool('amqp://guest:guest@localhost//', { limit: 4 });
 * await pool.use((connection) => connection.producer().publish({ hi: 1 }, { routingKey: 'greetings' }));
 * await pool.close();
 */
export class ConnectionPool extends ResourcePool<Connection> {
  constructor(url: string | readonly string[], options: ConnectionPoolOptions = {}) {
    parseBrokerUrls(url); // a malformed URL fails here, not at the first acquire
    const connectionOptions = options.connectionOptions ?? {};
    super({
      name: 'connection pool',
      create: async () => new Connection(url, connectionOptions),
      destroy: (connection) => connection.close(),
      healthy: (connection) => !connection.isClosed,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      ...(options.acquireTimeout !== undefined ? { acquireTimeout: options.acquireTimeout } : {}),
    });
  }
}

/** Options of {@link ProducerPool}; the connection pool ones apply only when it is given a URL. */
export interface ProducerPoolOptions extends ConnectionPoolOptions {
  /** Defaults of every {@link Producer} handed out. @defaultValue `{}` */
  readonly producer?: ProducerOptions;
}

/**
 * Producers on pooled connections (kombu's `ProducerPool`). A {@link Producer} holds no broker
 * state of its own, so the pool bounds connections and a lease's producer simply uses the leased one.
 * Given a URL the pool makes (and on close, closes) its own {@link ConnectionPool}; given a pool,
 * it shares it and leaves it open.
 *
 * @example
 * const producers = new ProducerPool('amqp://guest:guest@localhost//', { limit: 2 });
 * await Promise.all(jobs.map((job) => producers.publish(job, { routingKey: 'jobs' })));
 */
export class ProducerPool {
  readonly connections: ConnectionPool;
  readonly #ownsConnections: boolean;
  readonly #producerOptions: ProducerOptions;
  readonly #producers = new WeakMap<Connection, Producer>();

  constructor(connections: ConnectionPool | string | readonly string[], options: ProducerPoolOptions = {}) {
    this.#ownsConnections = !(connections instanceof ConnectionPool);
    this.connections = connections instanceof ConnectionPool ? connections : new ConnectionPool(connections, options);
    this.#producerOptions = options.producer ?? {};
  }

  get size(): number {
    return this.connections.size;
  }

  get available(): number {
    return this.connections.available;
  }

  /** A producer on a pooled connection; see {@link ResourcePool.acquire} for waiting and errors. */
  async acquire(options?: AcquireOptions): Promise<Lease<Producer>> {
    const lease = await this.connections.acquire(options);
    return {
      resource: this.#producerFor(lease.resource),
      release: () => lease.release(),
      replace: () => lease.replace(),
    };
  }

  /** Runs `fn` with a pooled producer; see {@link ResourcePool.use}. */
  use<R>(fn: (producer: Producer) => Promise<R>, options?: AcquireOptions): Promise<R> {
    return this.connections.use((connection) => fn(this.#producerFor(connection)), options);
  }

  /** Acquires a producer, publishes, and gives the connection back. `options.signal` also bounds the acquire. */
  publish(body: unknown, options: PublishOptions = {}): Promise<void> {
    return this.use(
      (producer) => producer.publish(body, options),
      options.signal ? { signal: options.signal } : undefined,
    );
  }

  /** Closes the connection pool when this pool made it; a shared one is left to its owner. */
  async close(): Promise<void> {
    if (this.#ownsConnections) await this.connections.close();
  }

  #producerFor(connection: Connection): Producer {
    let producer = this.#producers.get(connection);
    if (!producer) {
      producer = connection.producer(this.#producerOptions);
      this.#producers.set(connection, producer);
    }
    return producer;
  }
}
