/**
 * The store's main connection (puts and stats) and the transport's view of the server: when it is lost
 * the link reports `reconnecting`, connects again with the connection's recovery policy (backoff with
 * jitter), and reports `reconnected`, so `connection.isConnected`, `connection.lost`/`revived` events
 * and worker readiness follow the server. Puts made meanwhile wait for the new connection; once the
 * policy's attempts are spent the link reports `disconnected` and they fail.
 *
 * @module
 */
import type { RecoveryPolicy, TransportStatus } from '@wakame/core/spi';
import { ConnectionClosedError, ConnectionError } from '@wakame/core/spi';
import type { BeanstalkClient } from './client.js';

/** One connection, connected again after a loss (see the module comment). */
export class ProducerLink {
  #client: BeanstalkClient | undefined;
  #recovering: Promise<BeanstalkClient> | undefined;
  #closed = false;
  #sleep: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  readonly #listeners = new Set<(status: TransportStatus) => void>();
  /** The tube the connection `use`s now; commands run in order, so a pipelined `use` is safe. */
  using = 'default';

  constructor(
    private readonly connect: (signal?: AbortSignal) => Promise<BeanstalkClient>,
    /** The server, for `reconnected` (beanstalkd has no credentials to hide). */
    private readonly url: string,
    private readonly recovery: RecoveryPolicy,
    /** Called once connected again: consumers claim again. */
    private readonly revived: () => void,
  ) {}

  async open(signal?: AbortSignal): Promise<BeanstalkClient> {
    const client = await this.connect(signal);
    this.#attach(client);
    return client;
  }

  /** The live connection, or the one being made. */
  client(): BeanstalkClient | Promise<BeanstalkClient> {
    if (this.#closed || !this.#client) throw new ConnectionClosedError('beanstalk store is closed');
    if (!this.#client.closed) return this.#client;
    return this.#recover(new ConnectionError('beanstalkd connection lost'));
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    this.#sleep?.wake();
    this.#client?.close();
  }

  #attach(client: BeanstalkClient): void {
    this.#client = client;
    this.using = 'default';
    client.onClose((error) => {
      if (!this.#closed && this.#client === client) void this.#recover(error).catch(() => undefined);
    });
  }

  #recover(lost: Error): Promise<BeanstalkClient> {
    this.#recovering ??= this.#reconnect(lost).finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  async #reconnect(lost: Error): Promise<BeanstalkClient> {
    const {
      maxAttempts = Number.POSITIVE_INFINITY,
      initialDelayMs = 100,
      maxDelayMs = 5_000,
      jitter = 0.5,
    } = this.recovery;
    let error = lost;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (this.#closed) break;
      this.#emit({ type: 'reconnecting', error, attempt });
      const delay = Math.min(initialDelayMs * 2 ** (attempt - 1), maxDelayMs);
      await this.#pause(delay * (1 - jitter * Math.random()));
      if (this.#closed) break;
      try {
        const client = await this.connect();
        this.#attach(client);
        this.#emit({ type: 'reconnected', url: this.url });
        this.revived();
        return client;
      } catch (failure) {
        error = failure as Error;
      }
    }
    if (!this.#closed) this.#emit({ type: 'disconnected', error });
    throw this.#closed ? new ConnectionClosedError('beanstalk store is closed') : error;
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#sleep = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleep = { timer, wake };
    });
  }

  #emit(status: TransportStatus): void {
    for (const listener of this.#listeners) listener(status);
  }
}
