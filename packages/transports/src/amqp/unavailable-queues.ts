/**
 * Queues that exist on the broker but cannot be used now: after a failover, a classic queue whose
 * node is down (RabbitMQ refuses to declare it, with 404 "home node … is down or inaccessible").
 *
 * Such a queue must not hold up the rest of the connection: the reconnect completes without it,
 * consumers of other queues resume, and this class re-declares it with backoff until its node is
 * back. Meanwhile RabbitMQ would confirm and drop a message routed to it, so a publish whose route
 * (through what this connection declared) reaches it is held by the publisher until it is back.
 *
 * A queue can also become unavailable while this connection stays up (its node is another one): the
 * broker then cancels its consumers and returns or nacks what is published to it. Those are the
 * signs that make the transport ask ({@link UnavailableQueues.suspect}); a queue found unavailable
 * is tracked the same way from then on.
 */
import type { OutboundMessage, PublishTarget, QueueUnavailableError, RecoveryPolicy } from '@wakame/core/spi';
import { backoffDelay, RoutingTable } from '@wakame/core/spi';
import type { TopologyRecord } from './admin.js';

/** What the tracker needs from its transport. */
export interface UnavailableHost {
  readonly record: TopologyRecord;
  /** Declares the queue and its bindings again. @throws QueueUnavailableError while its node is down. */
  redeclare(queue: string): Promise<void>;
  /** A passive declare: does the queue answer now? @throws QueueUnavailableError while its node is down. */
  check(queue: string): Promise<void>;
  /** The queue is back (declared and bound again). */
  restored(queue: string): void;
  /** The queue no longer exists: whoever waited for it must be told. */
  gone(queue: string, error: Error): void;
  /** The queue is (still) unavailable, after `attempt` tries. */
  unavailable(queue: string, error: QueueUnavailableError, attempt: number): void;
  readonly recovery: Required<RecoveryPolicy>;
}

/** How long a queue that answered a check is taken to be available (a burst of returns asks once). */
const RECHECK_MS = 1_000;

export class UnavailableQueues {
  readonly #down = new Map<string, QueueUnavailableError>();
  #routes: RoutingTable | undefined;
  /** The record's size when {@link #routes} was built: rebuilt when declarations were added or removed. */
  #routesFor = -1;
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #generation = 0;
  /** Checks in flight, so a burst of returned publishes asks the broker once per queue. */
  readonly #checking = new Map<string, Promise<boolean>>();
  /** When a queue last answered a check: it is not asked again for {@link RECHECK_MS}. */
  readonly #answered = new Map<string, number>();

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

  /** A queue found unavailable while the connection stayed up: track it until it is back. */
  add(queue: string, error: QueueUnavailableError): void {
    const known = this.#down.has(queue);
    this.#down.set(queue, error);
    if (known) return;
    this.host.unavailable(queue, error, 1);
    if (this.#timer === undefined) {
      this.#attempt = 1;
      this.#schedule();
    }
  }

  /**
   * A publish to `target` was returned or nacked: whether a queue on its known route is unavailable
   * (asking the broker when nobody has lately). True means the publish should wait for the queue.
   */
  async suspect(target: PublishTarget, message: OutboundMessage): Promise<boolean> {
    if (this.unavailableOn(target, message) !== undefined) return true;
    const { queues } = this.#table().route(target.exchange, target.routingKey, message.properties.headers);
    for (const queue of queues) if (await this.unavailableNow(queue)) return true;
    return false;
  }

  /** Whether `queue` is unavailable now (a passive declare, shared by concurrent callers). */
  unavailableNow(queue: string): Promise<boolean> {
    if (this.#down.has(queue)) return Promise.resolve(true);
    const answered = this.#answered.get(queue);
    if (answered !== undefined && Date.now() - answered < RECHECK_MS) return Promise.resolve(false);
    let checking = this.#checking.get(queue);
    if (checking === undefined) {
      checking = this.host.check(queue).then(
        () => false,
        (error: unknown) => {
          if (!isUnavailable(error)) return false;
          this.add(queue, error);
          return true;
        },
      );
      const done = (): void => {
        this.#checking.delete(queue);
        this.#answered.set(queue, Date.now());
      };
      checking.then(done, done);
      this.#checking.set(queue, checking);
    }
    return checking;
  }

  /** The connection went (or closed): whatever is down is found again by the next replay. */
  stop(): void {
    this.#generation++;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#down.clear();
    this.#answered.clear();
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
    this.#timer = undefined;
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
        } else if (error instanceof Error && (error as { code?: unknown }).code === 'ERR_NOT_FOUND') {
          // Deleted while its node was down (or with it): nothing to wait for any more.
          this.#down.delete(queue);
          this.host.gone(queue, error);
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
