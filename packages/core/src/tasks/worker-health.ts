/**
 * What a worker reports about itself ({@link Worker.health}) and, per queue it consumes, what it knows: whether it
 * holds a live subscription, how many consumers the broker counts (when asked), when a message last arrived and
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
   * a check failed; `task` — a task from this queue failed (and was retried or dead-lettered).
   */
  readonly lastError?: QueueError;
}

/** An error in {@link QueueHealth}. */
export interface QueueError {
  readonly source: 'broker' | 'task';
  readonly name: string;
  readonly message: string;
  /** When (ms since the epoch). */
  readonly at: number;
}

/** What {@link Worker.health} reports. */
export interface WorkerHealth {
  /** `stopping`: taking no more work, waiting for running handlers; `stopped`: `run()` has returned (or never ran). */
  readonly status: 'idle' | 'starting' | 'ready' | 'degraded' | 'stopping' | 'stopped';
  /** True only when every queue has a live subscription (not just an open socket). */
  readonly healthy: boolean;
  readonly queues: readonly QueueHealth[];
  /** Handlers running now. */
  readonly inFlight: number;
  readonly processed: number;
  readonly retried: number;
  readonly deadLettered: number;
  /** Tasks whose handler was still running when a stop was forced: their messages went back to their queues. */
  readonly returned: number;
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
  readonly #entries: ReadonlyMap<string, Entry>;

  constructor(queues: readonly string[]) {
    this.#entries = new Map(queues.map((q) => [q, { lost: false }]));
  }

  delivered(queue: string): void {
    const entry = this.#entries.get(queue);
    if (entry) entry.lastDeliveryAt = Date.now();
  }

  /** A task from `queue` failed. */
  taskFailed(queue: string, error: { name: string; message: string } | undefined): void {
    const entry = this.#entries.get(queue);
    if (entry && error) entry.lastError = { source: 'task', ...error, at: Date.now() };
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

  snapshot(live: boolean): QueueHealth[] {
    return [...this.#entries].map(([queue, e]) => ({
      queue,
      subscribed: live && !e.lost,
      ...(e.consumers !== undefined ? { consumers: e.consumers } : {}),
      ...(e.lastDeliveryAt !== undefined ? { lastDeliveryAt: e.lastDeliveryAt } : {}),
      ...(e.lastError ? { lastError: e.lastError } : {}),
    }));
  }
}
