/**
 * The worker: a {@link ConsumerMixin} configured by options. It runs the tasks of a topology (consumes the queues
 * they arrive on, runs handlers up to a concurrency limit, serves higher-priority queues first, retries failures
 * through delay queues, dead-letters what cannot be handled with the reason, answers RPC calls), any other consumers
 * you give it (queues + handler + accept list + prefetch, for messages of any kind), or both; it survives connection
 * loss and stops gracefully (see {@link ConsumerMixin}).
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { Connection } from '../messaging/connection.js';
import type { Consumer } from '../messaging/consumer.js';
import { silentLogger } from '../messaging/events.js';
import type { Message } from '../messaging/message.js';
import type { DesiredTopology } from '../topology/desired.js';
import type { TopologyDocument } from '../topology/document.js';
import { compileDocument } from '../topology/pipeline.js';
import type { HealthServer, HealthServerOptions } from './health-server.js';
import { attemptOf, TASK_HEADERS } from './protocol.js';
import type { Timers } from './schedule/clock.js';
import { type ScheduleEvent, Scheduler, type SchedulerOptions } from './schedule/scheduler.js';
import { taskLimits } from './task-limits.js';
import { TaskProtocolError } from './task-protocol-error.js';
import type { TaskHandler, TaskHandlers } from './types.js';
import { type ConsumerSpec, type MessageRunner, queueName, withRunner } from './worker-consumers.js';
import { DEFAULT_CONCURRENCY } from './worker-dispatch.js';
import { ConsumerMixin, type ConsumerMixinOptions } from './worker-mixin.js';
import type { WorkerObserver } from './worker-observer.js';
import { declareConsumed, defaultQueues } from './worker-queues.js';
import { type Outcome, TaskRunner } from './worker-tasks.js';

export type { Timers } from './schedule/clock.js';
export type { ScheduleEvent, SchedulerOptions } from './schedule/scheduler.js';
export type { ConsumerContext, ConsumerSpec } from './worker-consumers.js';
export { DEFAULT_CONCURRENCY } from './worker-dispatch.js';
export type { QueueError, QueueHealth, WorkerHealth } from './worker-health.js';
export { ConsumerMixin, type ConsumerMixinOptions } from './worker-mixin.js';
export type { ObservedScheduleEvent, ObservedTask, WorkerObserver } from './worker-observer.js';
export { DEFAULT_STOP_DEADLINE_MS } from './worker-stop.js';

/** Options of {@link Worker}: tasks (`topology` + `handlers`), plain `consumers`, or both. */
export interface WorkerOptions<T extends TopologyDocument> extends ConsumerMixinOptions {
  /** The topology the tasks come from (needed with `handlers`). */
  readonly topology?: T | { readonly compiled: DesiredTopology };
  /** Task handlers: the worker consumes the queues these tasks are routed to. */
  readonly handlers?: TaskHandlers<T>;
  /**
   * Consumers of any messages, beside the tasks or instead of them: queues, a handler that settles each message, an
   * accept list, a prefetch window (default `concurrency`).
   */
  readonly consumers?: readonly ConsumerSpec[];
  /** Task queues to consume, highest priority first. @defaultValue the priority-class queues (in class order), then every queue a handled task is routed to */
  readonly queues?: readonly string[];
  /** Task handlers running at once (the prefetch window is sized to match); also each consumer's default prefetch. @defaultValue 10 */
  readonly concurrency?: number;
  /** Where messages nobody can handle go when their task names no dead-letter target. @defaultValue 'wakame.dead-letter' */
  readonly deadLetterQueue?: string;
  /** Declare the task queues (and their exchanges and bindings) before consuming. @defaultValue true */
  readonly declare?: boolean;
  /** A (re)start failed; the worker waits `delayMs` and tries again. */
  readonly onConnectionError?: (error: unknown, delayMs: number) => void;
  /** The connection was lost; the worker reconnects (or the transport recovers by itself). */
  readonly onConnectionLost?: (error: Error) => void;
  /** Connected again after a loss (also called after the first connection, as kombu does). */
  readonly onConnectionRevived?: () => void;
  /**
   * Every consumer is subscribed (after each start and each recovery). `consumer`: the first (the task consumer
   * when the worker runs tasks); `consumers`: all of them, tasks first, then `consumers` in order.
   */
  readonly onConsumeReady?: (consumer: Consumer, consumers: readonly Consumer[]) => void;
  /** The worker has stopped: handlers finished (or the stop was forced), messages returned, connection closed. */
  readonly onConsumeEnd?: () => void;
  /** A task message that could not be decoded (it is dead-lettered once, never redelivered in a loop). */
  readonly onDecodeError?: (message: Message, error: Error) => void;
  /** Called after each handled message. */
  readonly onIteration?: () => void;
  /**
   * The topology's `schedules:`: every worker of a group competes for one lease on the broker, and the holder sends
   * the runs (see the README's "Schedules and rate limits"). `false`: this worker never sends them.
   * @defaultValue `{}` (group `default`) when the topology has schedules
   */
  readonly scheduler?: false | SchedulerOptions;
  /** What the scheduler does: leads, follows, fires a run, skips missed slots, fails. */
  readonly onScheduleEvent?: (event: ScheduleEvent) => void;
  /** The clock of schedules and task rate limits (tests move it themselves). @defaultValue the system clock */
  readonly timers?: Timers;
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
  /** What went wrong, naming it: a missing `task` header, the payload field and its JSON path, the handler's error. */
  readonly error?: { readonly name: string; readonly message: string };
}

export const DEFAULT_DEAD_LETTER_QUEUE = 'wakame.dead-letter';

const NO_TOPOLOGY: DesiredTopology = Object.freeze({
  exchanges: [],
  queues: [],
  bindings: [],
  broadcasts: [],
  priorityClasses: {},
  routes: [],
  tasks: [],
});

/**
 * Runs task handlers, plain consumers, or both.
 *
 * @example
 * const worker = new Worker({ connection: 'amqp://…', topology, handlers: { 'report.generate': async ({ reportId }) => … } });
 * worker.handleSignals();
 * await worker.run(); // until SIGINT/SIGTERM or worker.stop(), and until running handlers have finished
 *
 * @example
 * // Any messages: queues, a handler that settles each one, what it accepts, how many at once.
 * new Worker({
 *   connection: 'amqp://…',
 *   consumers: [{ queues: ['audit'], accept: ['json', 'text'], prefetch: 10, handler: async (m) => { log(m.payload); await m.ack(); } }],
 * });
 */
export class Worker<T extends TopologyDocument = TopologyDocument> extends ConsumerMixin {
  /** The compiled topology of the tasks (empty when the worker runs no tasks). */
  readonly topology: DesiredTopology;
  readonly #options: WorkerOptions<T>;
  readonly #specs: readonly ConsumerSpec[];
  /** The task consumer, when the worker runs tasks. */
  readonly #tasks: ConsumerSpec | undefined;
  #taskQueues: readonly string[] = [];
  /** Health server and metrics; empty unless serving, and then the only cost of a task is one clock read. */
  readonly #observers = new Set<WorkerObserver>();
  /** Aborted by the first stop: tasks still waiting for their rate limit or concurrency go back to their queue. */
  readonly #stopRequested = new AbortController();
  /** Sends the topology's scheduled runs while this worker holds their lease. */
  readonly #scheduler: Scheduler | undefined;

  constructor(options: WorkerOptions<T>) {
    super(options);
    this.#options = options;
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    const given = options.consumers ?? [];
    if (!Array.isArray(given)) throw new InvalidArgumentError('consumers must be an array of { queues, handler }');
    const plain = given.map((spec) => (spec.prefetch === undefined ? { ...spec, prefetch: concurrency } : spec));
    if (options.handlers === undefined) {
      if (options.topology !== undefined) {
        throw new InvalidArgumentError('a worker given a topology needs the handlers of its tasks');
      }
      if (plain.length === 0) {
        throw new InvalidArgumentError(
          'the worker has nothing to run: give it task handlers (with a topology) or consumers',
        );
      }
      this.topology = NO_TOPOLOGY;
      this.#tasks = undefined;
    } else {
      if (options.topology === undefined)
        throw new InvalidArgumentError('task handlers need the topology of their tasks');
      this.topology =
        'compiled' in options.topology
          ? options.topology.compiled
          : compileDocument(options.topology as TopologyDocument);
      this.#tasks = this.#taskConsumer(concurrency);
    }
    this.#specs = this.#tasks ? [this.#tasks, ...plain] : plain;
    this.#scheduler =
      options.scheduler === false || (this.topology.schedules ?? []).length === 0
        ? undefined
        : new Scheduler(this.topology, {
            ...options.scheduler,
            logger: options.logger ?? silentLogger,
            ...(options.timers ? { timers: options.timers } : {}),
            onEvent: (event) => {
              this.#notify('scheduleEvent', event);
              options.onScheduleEvent?.(event);
            },
          });
    this.trackQueues(this.#specs.flatMap((spec) => spec.queues.map(queueName)));
  }

  /** The task consumer (when there are tasks), then the given consumers; declares the task queues first. */
  protected override async getConsumers(connection: Connection): Promise<readonly ConsumerSpec[]> {
    if (this.#tasks && (this.#options.declare ?? true)) {
      await declareConsumed(connection, this.topology, this.#taskQueues, this.#deadLetterQueue);
    }
    return this.#specs;
  }

  protected override onConnectionError(error: unknown, delayMs: number): void {
    this.#options.onConnectionError?.(error, delayMs);
  }

  protected override onConnectionLost(error: Error): void {
    void this.#scheduler?.pause();
    this.#options.onConnectionLost?.(error);
  }

  protected override onConnectionRevived(connection: Connection): void {
    this.#notify('connected', connection);
    this.#options.onConnectionRevived?.();
  }

  protected override onConsumeReady(consumers: readonly Consumer[], connection: Connection): void {
    this.#scheduler?.start(connection);
    this.#options.onConsumeReady?.(consumers[0] as Consumer, consumers);
  }

  /** Whether this worker sends the topology's scheduled runs now (it holds their lease). */
  get isScheduleLeader(): boolean {
    return this.#scheduler?.isLeader ?? false;
  }

  override async stop(options: { deadline?: number } = {}): Promise<void> {
    this.#stopRequested.abort(new Error('the worker is stopping'));
    // The lease goes at once, so another worker can take over while this one finishes its handlers (not awaited: a
    // stop must not wait on an unreachable broker; the lease goes with the connection anyway).
    void this.#scheduler?.stop();
    await super.stop(options);
  }

  protected override onConsumeEnd(): void {
    void this.#scheduler?.stop();
    this.#notify('stopped');
    this.#options.onConsumeEnd?.();
  }

  /**
   * Serves `/healthz`, `/readyz` and `/metrics` over HTTP (127.0.0.1 unless `host` says otherwise) until the worker
   * stops or the returned server is closed. See the README's "In production" for the endpoints and metric names.
   *
   * @example
   * const health = await worker.serveHealth({ port: 8080 });
   * logger.info(`probes on ${health.url}/readyz`);
   * await worker.run();
   *
   * @throws {@link HealthServerError} when it cannot listen (the port is taken, …).
   */
  async serveHealth(options: HealthServerOptions = {}): Promise<HealthServer> {
    // Loaded on first use: a worker that serves nothing never loads node:http or prom-client.
    const { startHealthServer } = await import('./health-server.js');
    const connection = () => this.connection;
    const consumers = this.#specs.map((spec) => ({
      queues: spec.queues.map(queueName),
      prefetch: spec.prefetch ?? this.#options.concurrency ?? DEFAULT_CONCURRENCY,
    }));
    return startHealthServer(
      {
        health: () => this.health(),
        checkHealth: () => this.checkHealth(),
        get connection() {
          return connection();
        },
        consumers,
        ...(this.#scheduler ? { scheduleLeader: () => this.isScheduleLeader } : {}),
        observe: (observer) => this.observe(observer),
      },
      options,
    );
  }

  /**
   * Calls `observer` on each task's outcome, each (re)connection and the stop: what the health server and metrics
   * are built on. Returns a function that removes it.
   */
  observe(observer: WorkerObserver): () => void {
    this.#observers.add(observer);
    return () => void this.#observers.delete(observer);
  }

  /**
   * Tells every observer that has it of `event` (with its one argument, if any). By name rather than by a
   * callback: `taskFinished` comes once per message, and a closure per call would be garbage per message.
   */
  #notify<K extends keyof WorkerObserver>(event: K, arg?: Parameters<NonNullable<WorkerObserver[K]>>[0]): void {
    for (const observer of this.#observers) {
      try {
        (observer[event] as ((a: typeof arg) => void) | undefined)?.(arg);
      } catch (error) {
        // An observer (metrics) must never break the worker.
        this.#options.logger?.error('a worker observer threw', { error: String(error) });
      }
    }
  }

  protected override onIteration(): void {
    this.#options.onIteration?.();
  }

  /** The consumer of the task queues, run by a {@link TaskRunner}. */
  #taskConsumer(concurrency: number): ConsumerSpec {
    const options = this.#options;
    const handled = new Set(Object.keys(options.handlers ?? {}));
    for (const task of this.topology.tasks) {
      if (handled.has(task.name) && task.protocol !== 'wakame')
        throw new TaskProtocolError(task.name, task.protocol, 'run');
    }
    const queues = options.queues ?? defaultQueues(this.topology, [...handled]);
    if (queues.length === 0) {
      throw new InvalidArgumentError(
        'the worker has no queue to consume: no handled task is routed to a queue of the topology (give `queues` explicitly)',
      );
    }
    this.#taskQueues = queues;
    const tasks = new TaskRunner({
      tasks: new Map(this.topology.tasks.map((t) => [t.name, t])),
      handlers: options.handlers as Record<string, TaskHandler | undefined>,
      deadLetterQueue: this.#deadLetterQueue,
      limits: taskLimits(this.topology.tasks, options.timers),
      stopRequested: this.#stopRequested.signal,
    });
    const hook = options.onTaskEvent;
    const observers = this.#observers;
    const finished = (message: Message, outcome: Outcome, started: number): Outcome => {
      const event = taskEvent(message, outcome, performance.now() - started);
      this.#notify('taskFinished', event);
      hook?.(event);
      return outcome;
    };
    // Not async: a task that finished synchronously (in memory) is observed without a promise or a turn.
    const observed: MessageRunner['run'] = (message, { connection, signal }) => {
      const started = performance.now();
      const outcome = tasks.run(connection, message, signal);
      return outcome instanceof Promise
        ? outcome.then((done) => finished(message, done, started))
        : finished(message, outcome, started);
    };
    const runner: MessageRunner = {
      source: 'task',
      run: hook
        ? observed
        : (message, context) =>
            observers.size > 0 ? observed(message, context) : tasks.run(context.connection, message, context.signal),
      undecodable: (message, error, { connection }) => {
        options.onDecodeError?.(message, error);
        return tasks.undecodable(connection, message, error);
      },
    };
    // Highest priority first; the runner, not a handler, runs the messages.
    const spec: ConsumerSpec = {
      queues,
      prefetch: concurrency,
      order: 'priority',
      accept: ['json'],
      handler: () => {},
    };
    return withRunner(spec, runner);
  }

  get #deadLetterQueue(): string {
    return this.#options.deadLetterQueue ?? DEFAULT_DEAD_LETTER_QUEUE;
  }
}

function taskEvent(message: Message, outcome: Outcome, durationMs: number): TaskEvent {
  return {
    ...outcome,
    id: String(message.headers[TASK_HEADERS.id] ?? message.properties.messageId ?? ''),
    queue: message.queue,
    attempt: attemptOf(message.properties),
    durationMs,
  };
}
