/**
 * What a {@link Connection}'s transport has said about its broker link since the connection adopted it:
 * whether it is recovering by itself, which node it reached, which queues it cannot serve now. Each report
 * is also told to the connection's instrumentation.
 *
 * @module
 */
import type { TransportStatus } from '../transport/spi.js';
import type { Instrumentation } from './events.js';

/** What the link status needs of its connection (the connection's class is not imported: it imports this module). */
export interface LinkOwner {
  readonly events: Instrumentation;
  /** The URL of the node connected now, password masked (it reads {@link LinkStatus.connectedUrl}). */
  url(): string;
  /** The transport is closed for good: the connection drops it. */
  disconnected(error: Error | undefined): void;
  /** The transport recovers by itself and replays the declarations: the connection forgets its own. */
  forgetDeclarations(): void;
}

export class LinkStatus {
  readonly #owner: LinkOwner;
  #recovering = false;
  #connectedUrl: string | undefined;
  /** Queues that exist but cannot be used now (their node is down), and why; see {@link Connection.unavailableQueues}. */
  readonly #unavailable = new Map<string, Error>();

  constructor(owner: LinkOwner) {
    this.#owner = owner;
  }

  /** The transport lost its broker and is reconnecting by itself. */
  get recovering(): boolean {
    return this.#recovering;
  }

  /** What a transport that fails over by itself said it reached, when it says. */
  get connectedUrl(): string | undefined {
    return this.#connectedUrl;
  }

  get unavailableQueues(): ReadonlyMap<string, Error> {
    return this.#unavailable;
  }

  /** A transport was just adopted: nothing it reported before counts. */
  reset(): void {
    this.#recovering = false;
    this.#connectedUrl = undefined;
    this.#unavailable.clear();
  }

  /** Takes in one status report of the adopted transport. */
  report(status: TransportStatus): void {
    const owner = this.#owner;
    switch (status.type) {
      case 'disconnected':
        owner.disconnected(status.error);
        break;
      case 'reconnecting':
        // The transport recovers by itself; declarations must be replayed by it, so forget ours.
        owner.forgetDeclarations();
        this.#unavailable.clear();
        if (!this.#recovering) {
          // Recovering before the event: a listener that checks `isConnected` must already see false.
          this.#recovering = true;
          owner.events.emit('connection.lost', { url: owner.url(), error: status.error });
        }
        break;
      case 'reconnected':
        this.#recovering = false;
        this.#connectedUrl = status.url;
        owner.events.emit('connection.revived', { url: status.url });
        break;
      case 'queue-unavailable':
        this.#unavailable.set(status.queue, status.error);
        owner.events.emit('queue.unavailable', {
          url: owner.url(),
          queue: status.queue,
          error: status.error,
          attempt: status.attempt,
        });
        break;
      case 'queue-restored':
        this.#unavailable.delete(status.queue);
        owner.events.emit('queue.restored', { url: owner.url(), queue: status.queue });
        break;
      case 'blocked':
        owner.events.emit('connection.blocked', { url: owner.url(), reason: status.reason });
        break;
      case 'unblocked':
        owner.events.emit('connection.unblocked', { url: owner.url() });
        break;
      case 'connected':
        if (status.url !== undefined) this.#connectedUrl = status.url;
        break;
    }
  }
}
