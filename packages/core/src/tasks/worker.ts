/**
 * The worker (kombu's ConsumerMixin, for tasks): consumes the queues its tasks arrive on, runs
 * handlers up to a concurrency limit, serves higher-priority queues first, retries failures through
 * delay queues, dead-letters what cannot be handled (with the reason), answers RPC calls, survives
 * connection loss, and stops gracefully.
 *
 * Stopping (`stop()`, or SIGINT/SIGTERM after `handleSignals()`): the worker takes no more work — messages
 * delivered after that are not started and go back to their queues — lets running handlers finish and settle
 * until the deadline (`stopDeadline`, 30 s), then returns whatever is still unsettled to its queue and closes
 * what it opened. The deadline, or a second stop (signal), forces the stop at once: handlers still running see
 * `ctx.signal` aborted and their messages go back to their queues (so they run again). `run()` resolves only
 * when all of this is done.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Connection } from '../messaging/connection.js';
import type { Consumer } from '../messaging/consumer.js';
import type { Logger } from '../messaging/events.js';
import { silentLogger } from '../messaging/events.js';
import type { Message } from '../messaging/message.js';
import type { DesiredTopology } from '../topology/desired.js';
import type { TopologyDocument } from '../topology/document.js';
import { compileDocument } from '../topology/pipeline.js';
import { errorSummary } from './outcomes.js';
import { attemptOf, TASK_HEADERS } from './protocol.js';
import type { TaskHandler, TaskHandlers } from './types.js';
import { QueueBook, type WorkerHealth } from './worker-health.js';
import { declareConsumed, defaultQueues } from './worker-queues.js';
import { countSignals, DEFAULT_STOP_DEADLINE_MS, StopControl, WorkInProgress } from './worker-stop.js';
import { type Outcome, TaskRunner } from './worker-tasks.js';

export type { QueueError, QueueHealth, WorkerHealth } from './worker-health.js';
export { DEFAULT_STOP_DEADLINE_MS } from './worker-stop.js';

/** Options of {@link Worker}. */
export interface WorkerOptions<T extends TopologyDocument> {
  /** A connection (kept open on stop) or URL(s) (the worker opens and closes its own). */
  readonly connection: Connection | string | readonly string[];
  readonly topology: T | { readonly compiled: DesiredTopology };
  readonly handlers: TaskHandlers<T>;
  /** Queues to consume, highest priority first. @defaultValue the priority-class queues (in class order), then every queue a handled task is routed to */
  readonly queues?: readonly string[];
  /** Handlers running at once (the prefetch window is sized to match). @defaultValue 10 */
  readonly concurrency?: number;
  /** Where messages nobody can handle go when their task names no dead-letter target. @defaultValue 'wakame.dead-letter' */
  readonly deadLetterQueue?: string;
  /** Declare the consumed queues (and their exchanges and bindings) before consuming. @defaultValue true */
  readonly declare?: boolean;
  /**
   * Milliseconds a stop (`stop()` without a deadline, the first SIGINT/SIGTERM after `handleSignals()`) waits for
   * running handlers before returning their messages to their queues. @defaultValue 30000
   */
  readonly stopDeadline?: number;
  readonly logger?: Logger;
  /** A (re)connection attempt failed; the worker waits `delayMs` and tries again. */
  readonly onConnectionError?: (error: unknown, delayMs: number) => void;
  /** Connected again after a loss (also called after the first connection, as kombu does). */
  readonly onConnectionRevived?: () => void;
  readonly onConsumeReady?: (consumer: Consumer) => void;
  /** The worker has stopped: handlers finished (or the stop was forced), messages returned, connection closed. */
  readonly onConsumeEnd?: () => void;
  /** A message that could not be decoded (it is dead-lettered once, never redelivered in a loop). */
  readonly onDecodeError?: (message: Message, error: Error) => void;
  /** Called after each handled message. */
  readonly onIteration?: () => void;
  /** What became of each task: done, retried, dead-lettered (with why), or returned by a forced stop. */
  readonly onTaskEvent?: (event: TaskEvent) => void;
}

/** One task's outcome, for logs and status lines. */
export interface TaskEvent {
  /** `returned`: a forced stop gave the message back to its queue while the handler ran; it will run again. */
  readonly type: Outcome['type'];
  readonly task: string;
  readonly id: string;
  readonly queue: string;
  readonly attempt: number;
  readonly durationMs: number;
  readonly reason?: string;
  readonly error?: { readonly name: string; readonly message: string };
}

export const DEFAULT_CONCURRENCY = 10;
export const DEFAULT_DEAD_LETTER_QUEUE = 'wakame.dead-letter';
const COUNTER = { done: 'processed', retry: 'retried', 'dead-letter': 'deadLettered', returned: 'returned' } as const;

/**
 * Runs task handlers.
 *
 * @example
 * const worker = new Worker({ connection: 'amqp://…', topology, handlers: { 'report.generate': async ({ reportId }) => … } });
 * worker.handleSignals();
 * await worker.run(); // until SIGINT/SIGTERM or worker.stop(), and until running handlers have finished
 */
export class Worker<T extends TopologyDocument = TopologyDocument> {
  readonly topology: DesiredTopology;
  readonly queues: readonly string[];
  readonly #options: WorkerOptions<T>;
  readonly #runner: TaskRunner;
  readonly #logger: Logger;
  readonly #concurrency: number;
  readonly #stopDeadline: number;
  readonly #stop = new StopControl();
  /** Handlers and decode-error hooks running now, across consumptions. */
  readonly #work = new WorkInProgress();
  readonly #book: QueueBook;
  readonly #signalHooks = new Set<() => void>();
  #connection: Connection | undefined;
  #consumer: Consumer | undefined;
  #status: WorkerHealth['status'] = 'idle';
  #inFlight = 0;
  #counts = { processed: 0, retried: 0, deadLettered: 0, returned: 0 };

  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: WorkerOptions<T>) {
    this.#options = options;
    this.topology =
      'compiled' in options.topology
        ? options.topology.compiled
        : compileDocument(options.topology as TopologyDocument);
    this.#logger = options.logger ?? silentLogger;
    this.#concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.#stopDeadline = options.stopDeadline ?? DEFAULT_STOP_DEADLINE_MS;
    if (!(this.#stopDeadline >= 0)) {
      throw new InvalidArgumentError(`stopDeadline must be a number of milliseconds ≥ 0, got ${this.#stopDeadline}`);
    }
    this.queues = options.queues ?? defaultQueues(this.topology, Object.keys(options.handlers));
    if (this.queues.length === 0) {
      throw new InvalidArgumentError(
        'the worker has no queue to consume: no handled task is routed to a queue of the topology (give `queues` explicitly)',
      );
    }
    this.#book = new QueueBook(this.queues);
    this.#runner = new TaskRunner({
      tasks: new Map(this.topology.tasks.map((t) => [t.name, t])),
      handlers: options.handlers as Record<string, TaskHandler | undefined>,
      deadLetterQueue: this.#deadLetterQueue,
      stop: this.#stop,
    });
  }

  /** Set to stop after the current messages (kombu's `should_stop`). */
  get shouldStop(): boolean {
    return this.#stop.isRequested;
  }

  set shouldStop(value: boolean) {
    if (value) void this.stop();
  }

  /** Where the worker is, and per queue what it knows; `checkHealth()` adds the broker's consumer counts. */
  health(): WorkerHealth {
    const live =
      this.#consumer?.isConsuming === true && this.#connection?.isConnected === true && this.#status === 'ready';
    const queues = this.#book.snapshot(live);
    return {
      status: this.#status,
      healthy: queues.every((q) => q.subscribed),
      queues,
      inFlight: this.#inFlight,
      ...this.#counts,
    };
  }

  /** {@link Worker.health}, after asking the broker about each queue: does it exist, how many consumers has it. */
  async checkHealth(): Promise<WorkerHealth> {
    const connection = this.#connection;
    if (connection?.isConnected) await this.#book.check(connection, this.health().queues);
    return this.health();
  }

  /**
   * Consumes until stopped, reconnecting (with backoff) whenever the connection is lost for good. Resolves once
   * the worker has stopped: running handlers finished (or the stop was forced), unsettled messages returned to
   * their queues, its own connection closed.
   */
  run(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  /**
   * Stops taking messages, lets running handlers finish until `deadline` (ms; default `stopDeadline`, 30 s), then
   * returns every unsettled message to its queue and closes; resolves when `run()` does. A second call forces the
   * stop at once, as does `deadline: 0`. Safe while the broker is unreachable.
   */
  async stop(options: { deadline?: number } = {}): Promise<void> {
    if (!this.#stop.isRequested && this.#status !== 'stopped') this.#status = this.#running ? 'stopping' : 'stopped';
    // Not running: nothing to wait for (and no deadline timer to keep the process alive).
    this.#stop.request(this.#running ? (options.deadline ?? this.#stopDeadline) : 0);
    this.#wake?.();
    await this.#running?.catch(() => undefined);
  }

  /**
   * SIGINT/SIGTERM stop gracefully (`deadline` ms for running handlers, default `stopDeadline`); a second signal
   * forces the stop. The same signal twice within 300 ms counts once (a terminal's Ctrl-C, forwarded again by a
   * launcher). The listeners go once the worker has stopped; the returned function removes them earlier.
   */
  handleSignals(deadline = this.#stopDeadline): () => void {
    const onSignal = countSignals((first) => void this.stop({ deadline: first ? deadline : 0 }));
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const unhook = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      this.#signalHooks.delete(unhook);
    };
    this.#signalHooks.add(unhook);
    return unhook;
  }

  async #run(): Promise<void> {
    const owned = !(this.#options.connection instanceof Connection);
    let attempt = 0;
    try {
      while (!this.shouldStop) {
        this.#status = 'starting';
        try {
          const connection = await this.#connect();
          if (this.shouldStop) break;
          attempt = 0;
          this.#options.onConnectionRevived?.();
          await this.#consume(connection);
        } catch (error) {
          if (this.shouldStop) break;
          const delayMs = Math.min(5_000, 100 * 2 ** attempt++);
          this.#status = 'degraded';
          this.#book.brokerFailed(error, { lost: true });
          this.#logger.warn('worker lost its broker; retrying', { error: errorSummary(error).message, delayMs });
          this.#options.onConnectionError?.(error, delayMs);
          await this.#sleep(delayMs);
        }
      }
      // Handlers of a consumption that ended earlier (its connection lost) may still be running.
      this.#status = 'stopping';
      await this.#stop.untilForced(this.#work.idle());
    } finally {
      this.#stop.dispose();
      if (owned) await this.#connection?.close().catch(() => undefined);
      this.#status = 'stopped';
      for (const unhook of [...this.#signalHooks]) unhook();
      this.#options.onConsumeEnd?.();
    }
  }

  async #connect(): Promise<Connection> {
    const given = this.#options.connection;
    if (given instanceof Connection) {
      this.#connection = given;
      // Someone else's connection: stop waiting for it, but do not abort its attempt.
      await Promise.race([given.ready(), this.#stop.requested]);
      return given;
    }
    if (!this.#connection || this.#connection.isClosed) this.#connection = new Connection(given);
    await this.#connection.ready(this.#stop.requestedSignal);
    return this.#connection;
  }

  /**
   * One consumption: returns once the worker has stopped consuming (see {@link Worker.#drain}); throws when the
   * subscription or connection ends first.
   */
  async #consume(connection: Connection): Promise<void> {
    if (this.#options.declare ?? true) {
      await declareConsumed(connection, this.topology, this.queues, this.#deadLetterQueue);
      if (this.shouldStop) return;
    }
    let ended: (reason: Error) => void = () => {};
    const over = new Promise<void>((_, reject) => {
      ended = reject;
    });
    over.catch(() => undefined); // it may end before anyone awaits it
    const held = new Set<Message>();
    const consumer = connection.consumer({
      queues: this.queues,
      prefetch: this.#concurrency,
      order: 'priority',
      accept: ['json'],
      handler: (message) => this.#handle(connection, message, held),
      onDecodeError: (message, error) => this.#undecodable(connection, message, error),
      tagPrefix: 'wakame-worker',
    });
    const unlisten = [
      connection.events.on('consumer.cancelled_by_broker', (e) => {
        this.#book.brokerFailed(e.payload.reason, { lost: true });
        ended(new Error(e.payload.reason));
      }),
      connection.events.on('consumer.cancel', (e) => {
        // Deliveries have stopped: what arrived after the stop began goes back now, not after the handlers.
        if (e.payload.consumerTags[0] !== consumer.consumerTags[0]) return;
        for (const message of held) void message.requeue().catch(() => undefined);
        held.clear();
      }),
      connection.events.on('connection.lost', (e) => {
        this.#status = 'degraded';
        this.#book.brokerFailed(e.payload.error, { lost: false });
      }),
      connection.events.on('connection.revived', () => {
        this.#status = this.shouldStop ? 'stopping' : 'ready';
        this.#options.onConnectionRevived?.();
      }),
      connection.onClose(() => ended(new Error('connection closed'))),
    ];
    this.#consumer = consumer;
    try {
      await consumer.consume();
      this.#book.subscribed();
      if (!this.shouldStop) {
        this.#status = 'ready';
        this.#options.onConsumeReady?.(consumer);
        await Promise.race([over, this.#stop.requested]);
      }
    } catch (error) {
      if (!this.shouldStop) {
        for (const off of unlisten) off();
        await consumer.close().catch(() => undefined);
        throw error;
      }
    }
    try {
      await this.#drain(consumer);
    } finally {
      for (const off of unlisten) off();
    }
  }

  /**
   * The stop, for one consumer: no more deliveries; running handlers finish and settle (until the stop is forced);
   * then whatever is unsettled goes back to its queue.
   */
  async #drain(consumer: Consumer): Promise<void> {
    this.#status = 'stopping';
    await this.#stop.untilForced(consumer.cancel());
    await this.#stop.untilForced(this.#work.idle());
    await this.#stop.untilForced(consumer.close());
  }

  async #handle(connection: Connection, message: Message, held: Set<Message>): Promise<void> {
    if (this.shouldStop) {
      // Delivered while the subscription was being cancelled: not started; back to its queue once deliveries stop.
      held.add(message);
      return;
    }
    this.#book.delivered(message.queue);
    this.#inFlight++;
    const leave = this.#work.enter();
    const hook = this.#options.onTaskEvent;
    const started = hook ? performance.now() : 0;
    try {
      const outcome = await this.#runner.run(connection, message);
      this.#counts[COUNTER[outcome.type]]++;
      if (outcome.type === 'retry' || outcome.type === 'dead-letter')
        this.#book.taskFailed(message.queue, outcome.error);
      hook?.({
        ...outcome,
        id: String(message.headers[TASK_HEADERS.id] ?? message.properties.messageId ?? ''),
        queue: message.queue,
        attempt: attemptOf(message.properties),
        durationMs: performance.now() - started,
      });
    } finally {
      this.#inFlight--;
      leave();
      this.#options.onIteration?.();
    }
  }

  async #undecodable(connection: Connection, message: Message, error: Error): Promise<void> {
    if (this.shouldStop) return; // not settled: back to its queue with the others
    const leave = this.#work.enter();
    try {
      this.#options.onDecodeError?.(message, error);
      await this.#runner.undecodable(connection, message, error);
      this.#counts.deadLettered++;
    } finally {
      leave();
    }
  }

  get #deadLetterQueue(): string {
    return this.#options.deadLetterQueue ?? DEFAULT_DEAD_LETTER_QUEUE;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
