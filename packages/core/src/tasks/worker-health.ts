/**
 * What a worker reports about itself ({@link ConsumerMixin.health}) and, per queue it consumes, what it knows: whether
 * it holds a live subscription, how many consumers the broker counts (when asked), when a message last arrived and
 * what last went wrong.
 *
 * @module
 */
import { NotFoundError } from '../errors.js';
import type { Connection } from '../messaging/connection.js';
import { Queue } from '../model/queue.js';
import { errorSummary } from './outcomes.js';

/** One consumed queue in {@link WorkerHealth}. */
export interface QueueHealth {
  readonly queue: string;
  /** This worker holds a live subscription to the queue now (not just an open socket). */
  readonly subscribed: boolean;
  /**
   * Consumers the broker counts on the queue, this worker included, at the last `worker.checkHealth()`; absent
   * until then, and where the transport does not count consumers.
   */
  readonly consumers?: number;
  /** When a message from this queue last reached the worker (ms since the epoch). */
  readonly lastDeliveryAt?: number;
  /**
   * The last thing that went wrong: `broker` — the subscription ended or could not start, the connection was lost,
   * a check failed; `task` — a task from this queue failed (and was retried or dead-lettered); `handler` — a plain
   * consumer's handler threw on a message from this queue, or the message could not be decoded.
   */
  readonly lastError?: QueueError;
}

/** An error in {@link QueueHealth}. */
export interface QueueError {
  readonly source: 'broker' | 'task' | 'handler';
  readonly name: string;
  readonly message: string;
  /** When (ms since the epoch). */
  readonly at: number;
}

/** What {@link ConsumerMixin.health} (and so `Worker.health()`) reports. */
export interface WorkerHealth {
  /** `stopping`: taking no more work, waiting for running handlers; `stopped`: `run()` has returned (or never ran). */
  readonly status: 'idle' | 'starting' | 'ready' | 'degraded' | 'stopping' | 'stopped';
  /** True only when every queue has a live subscription (not just an open socket). */
  readonly healthy: boolean;
  readonly queues: readonly QueueHealth[];
  /**
   * Queues the broker has but cannot serve now (their node is down), the worker's own or not (its dead-letter queue,
   * say): consumers of them wait and publishes routed to them are held. Absent when there are none.
   */
  readonly unavailableQueues?: readonly { readonly queue: string; readonly reason: string }[];
  /** Handlers running now. */
  readonly inFlight: number;
  readonly processed: number;
  readonly retried: number;
  readonly deadLettered: number;
  /** Messages whose handler was still running when a stop was forced: they went back to their queues. */
  readonly returned: number;
  /** Plain consumers: messages whose handler threw, or that could not be decoded. */
  readonly failed: number;
}

interface Entry {
  /** The broker ended this queue's subscription (or the queue is missing) since the worker last subscribed. */
  lost: boolean;
  consumers?: number;
  lastDeliveryAt?: number;
  lastError?: QueueError;
}

/** Per-queue bookkeeping behind {@link WorkerHealth.queues}. */
export class QueueBook {
  #entries = new Map<string, Entry>();

  constructor(queues: readonly string[] = []) {
    this.track(queues);
  }

  /** The queues consumed now, in order (a restart may consume others: a new broadcast queue, say). */
  get queues(): readonly string[] {
    return [...this.#entries.keys()];
  }

  /** Consumes `queues` from now on; what is known of those already consumed is kept. */
  track(queues: readonly string[]): void {
    this.#entries = new Map(queues.map((q) => [q, this.#entries.get(q) ?? { lost: false }]));
  }

  delivered(queue: string): void {
    const entry = this.#entries.get(queue);
    if (entry) entry.lastDeliveryAt = Date.now();
  }

  /** A message from `queue` failed: its task, or a plain consumer's handler. */
  messageFailed(queue: string, source: 'task' | 'handler', error: { name: string; message: string }): void {
    const entry = this.#entries.get(queue);
    if (entry) entry.lastError = { source, name: error.name, message: error.message, at: Date.now() };
  }

  /**
   * Something went wrong on the broker's side: the queues it names (a {@link NotFoundError}'s queue, or queue names
   * quoted in its message) lose their subscription; when it names none, it concerns every queue.
   */
  brokerFailed(error: unknown, options: { lost: boolean }): void {
    const { name, message } = typeof error === 'string' ? { name: 'Error', message: error } : errorSummary(error);
    const at = Date.now();
    const named = [...this.#entries].filter(
      ([queue]) =>
        (error instanceof NotFoundError && error.entity.kind === 'queue' && error.entity.name === queue) ||
        message.includes(`'${queue}'`),
    );
    for (const [, entry] of named.length > 0 ? named : this.#entries) {
      entry.lastError = { source: 'broker', name, message, at };
      if (options.lost) entry.lost = true;
    }
  }

  /** The worker (re)subscribed to every queue. */
  subscribed(): void {
    for (const entry of this.#entries.values()) entry.lost = false;
  }

  /** Asks the broker about each queue (a passive declare): does it exist, how many consumers has it. */
  async check(connection: Connection, now: readonly QueueHealth[]): Promise<void> {
    await Promise.all(
      now.map(async ({ queue, subscribed }) => {
        try {
          const { consumerCount } = await connection.admin.declareQueue(new Queue(queue), { passive: true });
          this.counted(queue, consumerCount, subscribed);
        } catch (error) {
          this.brokerFailed(error, { lost: false });
        }
      }),
    );
  }

  /**
   * The broker's consumer count for `queue`. A transport that does not count consumers answers 0; seen while this
   * worker is subscribed to the queue, such a 0 is taken as unknown.
   */
  counted(queue: string, consumers: number, subscribed: boolean): void {
    const entry = this.#entries.get(queue);
    if (!entry) return;
    if (consumers === 0 && subscribed) delete entry.consumers;
    else entry.consumers = consumers;
  }

  /** Each queue as {@link QueueHealth}; `live`: the queues a consumer holds a live subscription to now. */
  snapshot(live: ReadonlySet<string>): QueueHealth[] {
    return [...this.#entries].map(([queue, e]) => ({
      queue,
      subscribed: live.has(queue) && !e.lost,
      ...(e.consumers !== undefined ? { consumers: e.consumers } : {}),
      ...(e.lastDeliveryAt !== undefined ? { lastDeliveryAt: e.lastDeliveryAt } : {}),
      ...(e.lastError ? { lastError: e.lastError } : {}),
    }));
  }
}
