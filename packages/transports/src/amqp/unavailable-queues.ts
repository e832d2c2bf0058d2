/**
 * Queues that exist on the broker but cannot be used now: after a failover, a classic queue whose
 * node is down (RabbitMQ refuses to declare it, with 404 "home node … is down or inaccessible").
 *
 * Such a queue must not hold up the rest of the connection: the reconnect completes without it,
 * consumers of other queues resume, and this class re-declares it with backoff until its node is
 * back. Meanwhile RabbitMQ would confirm and drop a message routed to it, so a publish whose route
 * (through what this connection declared) reaches it is held by the publisher until it is back.
 */
import type { OutboundMessage, PublishTarget, QueueUnavailableError, RecoveryPolicy } from '@wakame/core/spi';
import { backoffDelay, RoutingTable } from '@wakame/core/spi';
import type { TopologyRecord } from './admin.js';

/** What the tracker needs from its transport. */
export interface UnavailableHost {
  readonly record: TopologyRecord;
  /** Declares the queue and its bindings again. @throws QueueUnavailableError while its node is down. */
  redeclare(queue: string): Promise<void>;
  /** The queue is back (declared and bound again). */
  restored(queue: string): void;
  /** The queue is (still) unavailable, after `attempt` tries. */
  unavailable(queue: string, error: QueueUnavailableError, attempt: number): void;
  readonly recovery: Required<RecoveryPolicy>;
}

export class UnavailableQueues {
  readonly #down = new Map<string, QueueUnavailableError>();
  #routes: RoutingTable | undefined;
  /** The record's size when {@link #routes} was built: rebuilt when declarations were added or removed. */
  #routesFor = -1;
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #generation = 0;

  constructor(private readonly host: UnavailableHost) {}

  /** The unavailable queues and why, in the order they were found. */
  get queues(): ReadonlyMap<string, QueueUnavailableError> {
    return this.#down;
  }

  has(queue: string): boolean {
    return this.#down.has(queue);
  }

  /**
   * After a reconnect's replay: these queues did not come back; start bringing them back. Reported
   * by {@link UnavailableQueues.announce}, once the reconnect itself has been reported.
   */
  track(found: ReadonlyMap<string, QueueUnavailableError>): void {
    this.stop();
    for (const [queue, error] of found) this.#down.set(queue, error);
    this.#attempt = 1;
    this.#schedule();
  }

  /** Reports every queue that is unavailable now. */
  announce(): void {
    for (const [queue, error] of this.#down) this.host.unavailable(queue, error, this.#attempt);
  }

  /** The connection went (or closed): whatever is down is found again by the next replay. */
  stop(): void {
    this.#generation++;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#down.clear();
  }

  /** The first unavailable queue a publish to `target` reaches through the recorded topology. */
  unavailableOn(target: PublishTarget, message: OutboundMessage): QueueUnavailableError | undefined {
    if (this.#down.size === 0) return undefined;
    const { queues } = this.#table().route(target.exchange, target.routingKey, message.properties.headers);
    for (const queue of queues) {
      const error = this.#down.get(queue);
      if (error) return error;
    }
    return undefined;
  }

  #table(): RoutingTable {
    const { exchanges, bindings } = this.host.record;
    const size = exchanges.size * 1_000_003 + bindings.size;
    if (this.#routes === undefined || this.#routesFor !== size) {
      this.#routes = new RoutingTable({ exchanges: [...exchanges.values()], bindings: [...bindings.values()] });
      this.#routesFor = size;
    }
    return this.#routes;
  }

  #schedule(): void {
    if (this.#down.size === 0) return;
    const delay = backoffDelay(this.#attempt, { ...this.host.recovery, factor: 2 });
    const generation = this.#generation;
    this.#timer = setTimeout(() => void this.#retry(generation), delay);
    this.#timer.unref();
  }

  async #retry(generation: number): Promise<void> {
    this.#attempt++;
    for (const queue of [...this.#down.keys()]) {
      try {
        await this.host.redeclare(queue);
      } catch (error) {
        if (generation !== this.#generation) return;
        if (isUnavailable(error)) {
          this.#down.set(queue, error);
          this.host.unavailable(queue, error, this.#attempt);
        }
        // Anything else (the connection going, say) is the next replay's to find.
        continue;
      }
      if (generation !== this.#generation) return;
      this.#down.delete(queue);
      this.host.restored(queue);
    }
    if (generation === this.#generation) this.#schedule();
  }
}

function isUnavailable(error: unknown): error is QueueUnavailableError {
  return error instanceof Error && (error as { code?: unknown }).code === 'ERR_QUEUE_UNAVAILABLE';
}
