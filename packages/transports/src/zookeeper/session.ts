/**
 * One ZooKeeper session on node-zookeeper-client, with promises and Wakame's typed errors.
 *
 * The client reconnects by itself while the session lives (requests in flight then fail with
 * connection loss, which is retriable). A session that *expires* is gone for good, and with it every
 * ephemeral node it owned (its claims): the session then opens a new client, and tells its owner,
 * who forgets its claims (another consumer may already have them).
 *
 * @module
 */
import { ConnectionError, TimeoutError, TransportError, type TransportStatus } from '@wakame/core/spi';
import zookeeper from 'node-zookeeper-client';

const { Exception, CreateMode } = zookeeper;
export type ZkClient = zookeeper.Client;
export type ZkStat = zookeeper.Stat;
export type ZkEvent = zookeeper.Event;
export { CreateMode };

/** How to reach the ensemble. */
export interface ZkSessionOptions {
  /** `host:port,host:port` (no chroot: paths are prefixed by the store). */
  readonly hosts: string;
  /** How long the ensemble keeps a silent session (and its claims) alive, ms. */
  readonly sessionTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Where the ensemble is, for messages (no credentials: ZooKeeper URLs carry none). */
  readonly where: string;
}

/** A ZooKeeper failure Wakame maps to a typed error, keeping ZooKeeper's own code. */
export class ZooKeeperError extends TransportError {
  override readonly name = 'ZooKeeperError';
  override readonly code = 'ERR_ZOOKEEPER';
  constructor(
    message: string,
    /** ZooKeeper's error code (e.g. -101 for no node). */
    readonly zkCode: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** True when `error` is ZooKeeper's answer `code` (e.g. `Exception.NO_NODE`). */
export function isZkCode(error: unknown, code: number): boolean {
  const e = error as { getCode?: () => number; zkCode?: number } | undefined;
  return e?.zkCode === code || (typeof e?.getCode === 'function' && e.getCode() === code);
}

export const ZK = {
  NO_NODE: Exception.NO_NODE,
  NODE_EXISTS: Exception.NODE_EXISTS,
  NOT_EMPTY: Exception.NOT_EMPTY,
  BAD_VERSION: Exception.BAD_VERSION,
} as const;

/** The answer codes an operation expects as part of its logic, kept as they are for the caller to test. */
const EXPECTED: ReadonlySet<number> = new Set([ZK.NO_NODE, ZK.NODE_EXISTS, ZK.NOT_EMPTY, ZK.BAD_VERSION]);

/** One ZooKeeper session, re-opened when it expires. */
export class ZkSession {
  #client: ZkClient | undefined;
  #closed = false;
  readonly #statusListeners = new Set<(status: TransportStatus) => void>();
  readonly #expiryListeners = new Set<() => void>();

  constructor(readonly options: ZkSessionOptions) {}

  get client(): ZkClient {
    if (!this.#client) throw new ConnectionError(`not connected to ZooKeeper at ${this.options.where}`);
    return this.#client;
  }

  async open(signal?: AbortSignal): Promise<void> {
    this.#client = await this.#connect(signal);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    client?.removeAllListeners();
    // close() sends closeSession: the ensemble drops our ephemeral nodes (claims) at once.
    client?.close();
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /** Called after an expired session was replaced: its ephemeral nodes and watches are gone. */
  onExpiry(listener: () => void): () => void {
    this.#expiryListeners.add(listener);
    return () => this.#expiryListeners.delete(listener);
  }

  #connect(signal?: AbortSignal): Promise<ZkClient> {
    const { hosts, sessionTimeoutMs, connectTimeoutMs, where } = this.options;
    const client = zookeeper.createClient(hosts, { sessionTimeout: sessionTimeoutMs, spinDelay: 200, retries: 0 });
    return new Promise<ZkClient>((resolve, reject) => {
      const fail = (error: Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        client.removeAllListeners();
        client.close();
        reject(error);
      };
      const aborted = (): void => fail(signal?.reason instanceof Error ? signal.reason : new TimeoutError('aborted'));
      const timer = setTimeout(
        () => fail(new TimeoutError(`ZooKeeper at ${where} did not answer within ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
      signal?.addEventListener('abort', aborted, { once: true });
      client.once('connected', () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        this.#watchState(client);
        resolve(client);
      });
      client.connect();
    });
  }

  #watchState(client: ZkClient): void {
    let attempt = 0;
    client.on('disconnected', () => {
      attempt++;
      const error = new ConnectionError(`lost ZooKeeper at ${this.options.where}; reconnecting`);
      this.#emit({ type: 'reconnecting', error, attempt });
    });
    client.on('connected', () => {
      if (attempt === 0) return;
      attempt = 0;
      this.#emit({ type: 'reconnected', url: `zookeeper://${this.options.where}` });
    });
    client.on('expired', () => {
      client.removeAllListeners();
      client.close();
      if (this.#closed) return;
      this.#client = undefined;
      this.#reopen(1);
    });
  }

  /** After an expiry: a new session, retried until it connects or the store closes. */
  #reopen(attempt: number): void {
    const error = new ConnectionError(`ZooKeeper session at ${this.options.where} expired; opening a new one`);
    this.#emit({ type: 'reconnecting', error, attempt });
    this.#connect().then(
      (client) => {
        if (this.#closed) {
          client.close();
          return;
        }
        this.#client = client;
        for (const listener of this.#expiryListeners) listener();
        this.#emit({ type: 'reconnected', url: `zookeeper://${this.options.where}` });
      },
      () => {
        if (!this.#closed) this.#reopen(attempt + 1);
      },
    );
  }

  #emit(status: TransportStatus): void {
    for (const listener of this.#statusListeners) listener(status);
  }

  // --- operations: each resolves with ZooKeeper's answer, or rejects with a typed error ---

  /** Creates `path` (`mode`: node-zookeeper-client's `CreateMode`); resolves with the created path (sequence included). */
  create(path: string, data: Buffer | undefined, mode: number): Promise<string> {
    return this.#call((client, done) => {
      if (data === undefined) client.create(path, mode, done);
      else client.create(path, data, mode, done);
    }, path);
  }

  /** Creates `path` and its missing parents (persistent, empty). */
  mkdirp(path: string): Promise<string> {
    return this.#call((client, done) => client.mkdirp(path, done), path);
  }

  remove(path: string, version = -1): Promise<void> {
    return this.#call<void>((client, done) => client.remove(path, version, done), path);
  }

  /** Removes `path` (any version). @returns false when it was not there. */
  async removeIfThere(path: string): Promise<boolean> {
    try {
      await this.remove(path);
      return true;
    } catch (error) {
      if (isZkCode(error, ZK.NO_NODE)) return false;
      throw error;
    }
  }

  /** The node's stat, or `undefined` when it does not exist; `watcher` fires on its creation, change or deletion. */
  exists(path: string, watcher?: (event: ZkEvent) => void): Promise<ZkStat | undefined> {
    return this.#call<ZkStat | undefined>((client, done) => {
      const cb = (error: unknown, stat: ZkStat | null) => done(error, stat ?? undefined);
      if (watcher) client.exists(path, watcher, cb);
      else client.exists(path, cb);
    }, path);
  }

  getChildren(path: string, watcher?: (event: ZkEvent) => void): Promise<string[]> {
    return this.#call<string[]>((client, done) => {
      if (watcher) client.getChildren(path, watcher, done);
      else client.getChildren(path, done);
    }, path);
  }

  getData(path: string, watcher?: (event: ZkEvent) => void): Promise<{ data: Buffer; stat: ZkStat }> {
    return this.#call((client, done) => {
      const cb = (error: unknown, data: Buffer | null, stat: ZkStat) =>
        done(error, { data: data ?? Buffer.alloc(0), stat });
      if (watcher) client.getData(path, watcher, cb);
      else client.getData(path, cb);
    }, path);
  }

  setData(path: string, data: Buffer, version = -1): Promise<ZkStat> {
    return this.#call((client, done) => client.setData(path, data, version, done), path);
  }

  /**
   * Runs `build`'s operations as one atomic multi-op. On failure the error carries the failing
   * operation's ZooKeeper code, and `failedAt` its index.
   */
  multi(build: (tx: zookeeper.Transaction) => void): Promise<void> {
    return this.#call<void>((client, done) => {
      const tx = client.transaction();
      build(tx);
      tx.commit((error, results: { err?: number }[] | undefined) => {
        if (error && results) {
          const failedAt = results.findIndex((r) => r.err !== undefined && r.err !== 0);
          Object.assign(error, { failedAt });
        }
        done(error, undefined);
      });
    }, 'multi-op');
  }

  #call<T>(run: (client: ZkClient, done: (error: unknown, value: T) => void) => void, path: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let client: ZkClient;
      try {
        client = this.client;
      } catch (error) {
        reject(error);
        return;
      }
      try {
        run(client, (error, value) => (error ? reject(this.#typed(error, path)) : resolve(value)));
      } catch (error) {
        // The client checks paths and arguments synchronously (an assertion), before sending anything.
        reject(new ZooKeeperError(`invalid ZooKeeper request for ${path}: ${String(error)}`, 0, { cause: error }));
      }
    });
  }

  /** ZooKeeper's expected answers (no node, exists, …) keep their code; the rest become connection errors. */
  #typed(error: unknown, path: string): Error {
    const code = (error as { getCode?: () => number }).getCode?.();
    const failedAt = (error as { failedAt?: number }).failedAt;
    const text = `ZooKeeper at ${this.options.where}, ${path}: ${String((error as Error).message ?? error)}`;
    if (code !== undefined && EXPECTED.has(code)) {
      return Object.assign(
        new ZooKeeperError(text, code, { cause: error }),
        failedAt === undefined ? {} : { failedAt },
      );
    }
    if (code === Exception.OPERATION_TIMEOUT) return new TimeoutError(text, { cause: error });
    return new ConnectionError(text, { cause: error });
  }
}

/** Index of the failed operation of a {@link ZkSession.multi} that rejected, when known. */
export function failedOp(error: unknown): number | undefined {
  const i = (error as { failedAt?: unknown } | undefined)?.failedAt;
  return typeof i === 'number' && i >= 0 ? i : undefined;
}
