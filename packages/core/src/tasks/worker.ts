/**
 * The worker (kombu's ConsumerMixin, for tasks): consumes the queues its tasks arrive on, runs
 * handlers up to a concurrency limit, serves higher-priority queues first, retries failures through
 * delay queues, dead-letters what cannot be handled (with the reason), answers RPC calls, survives
 * connection loss, and stops gracefully.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Connection } from '../messaging/connection.js';
import type { Consumer } from '../messaging/consumer.js';
import type { Logger } from '../messaging/events.js';
import { silentLogger } from '../messaging/events.js';
import type { Message } from '../messaging/message.js';
import { Queue } from '../model/queue.js';
import type { CompiledTask, DesiredTopology } from '../topology/desired.js';
import type { TopologyDocument } from '../topology/document.js';
import { BUILTIN_EXCHANGES } from '../topology/graph.js';
import { compileDocument } from '../topology/pipeline.js';
import { RoutingTable } from '../virtual/routing-table.js';
import { deadLetter, deadLetterTarget, errorSummary, reply, retryLater } from './outcomes.js';
import { payloadIssues } from './payload-validator.js';
import { attemptOf, type DeadLetterReason, retryDelay, TASK_HEADERS } from './protocol.js';
import type { TaskContext, TaskHandler, TaskHandlers } from './types.js';

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
  readonly logger?: Logger;
  /** A (re)connection attempt failed; the worker waits `delayMs` and tries again. */
  readonly onConnectionError?: (error: unknown, delayMs: number) => void;
  /** Connected again after a loss (also called after the first connection, as kombu does). */
  readonly onConnectionRevived?: () => void;
  readonly onConsumeReady?: (consumer: Consumer) => void;
  readonly onConsumeEnd?: () => void;
  /** A message that could not be decoded (it is dead-lettered once, never redelivered in a loop). */
  readonly onDecodeError?: (message: Message, error: Error) => void;
  /** Called after each handled message. */
  readonly onIteration?: () => void;
  /** What became of each task: done, retried, or dead-lettered (with why). */
  readonly onTaskEvent?: (event: TaskEvent) => void;
}

type ErrorSummary = { readonly name: string; readonly message: string };
type Outcome = Pick<TaskEvent, 'type' | 'task' | 'reason' | 'error'>;

/** One task's outcome, for logs and status lines. */
export interface TaskEvent {
  readonly type: 'done' | 'retry' | 'dead-letter';
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

/** What {@link Worker.health} reports. */
export interface WorkerHealth {
  readonly status: 'idle' | 'starting' | 'ready' | 'degraded' | 'stopping' | 'stopped';
  /** True only when every queue has a live subscription (not just an open socket). */
  readonly healthy: boolean;
  readonly queues: readonly { readonly queue: string; readonly subscribed: boolean }[];
  readonly inFlight: number;
  readonly processed: number;
  readonly retried: number;
  readonly deadLettered: number;
}

/**
 * Runs task handlers.
 *
 * @example
 * const worker = new Worker({ connection: 'amqp://…', topology, handlers: { 'report.generate': async ({ reportId }) => … } });
 * worker.handleSignals();
 * await worker.run(); // until SIGINT/SIGTERM or worker.stop()
 */
export class Worker<T extends TopologyDocument = TopologyDocument> {
  readonly topology: DesiredTopology;
  readonly queues: readonly string[];
  readonly #options: WorkerOptions<T>;
  readonly #tasks: ReadonlyMap<string, CompiledTask>;
  readonly #logger: Logger;
  readonly #concurrency: number;
  readonly #stopping = new AbortController();
  #connection: Connection | undefined;
  #consumer: Consumer | undefined;
  #status: WorkerHealth['status'] = 'idle';
  #inFlight = 0;
  #counts = { processed: 0, retried: 0, deadLettered: 0 };

  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: WorkerOptions<T>) {
    this.#options = options;
    this.topology =
      'compiled' in options.topology
        ? options.topology.compiled
        : compileDocument(options.topology as TopologyDocument);
    this.#tasks = new Map(this.topology.tasks.map((t) => [t.name, t]));
    this.#logger = options.logger ?? silentLogger;
    this.#concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.queues = options.queues ?? defaultQueues(this.topology, Object.keys(options.handlers));
    if (this.queues.length === 0) {
      throw new InvalidArgumentError(
        'the worker has no queue to consume: no handled task is routed to a queue of the topology (give `queues` explicitly)',
      );
    }
  }

  /** Set to stop after the current messages (kombu's `should_stop`). */
  get shouldStop(): boolean {
    return this.#stopping.signal.aborted;
  }

  set shouldStop(value: boolean) {
    if (value) void this.stop();
  }

  health(): WorkerHealth {
    const live =
      this.#consumer?.isConsuming === true && this.#connection?.isConnected === true && this.#status === 'ready';
    return {
      status: this.#status,
      healthy: live,
      queues: this.queues.map((queue) => ({ queue, subscribed: live })),
      inFlight: this.#inFlight,
      ...this.#counts,
    };
  }

  /** Consumes until stopped, reconnecting (with backoff) whenever the connection is lost for good. */
  run(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  /**
   * Stops taking messages, lets running handlers finish until `deadline` (ms), then returns every
   * unsettled message to its queue and closes. Safe while the broker is unreachable.
   */
  async stop(options: { deadline?: number } = {}): Promise<void> {
    if (!this.#stopping.signal.aborted) {
      this.#status = 'stopping';
      this.#stopping.abort();
      this.#wake?.();
    }
    const deadline = options.deadline ?? 30_000;
    const consumer = this.#consumer;
    if (consumer) await withinDeadline(consumer.cancel(), deadline);
    await consumer?.close().catch(() => undefined);
    await this.#running?.catch(() => undefined);
  }

  /** SIGINT/SIGTERM stop gracefully (30 s for running handlers); a second signal stops at once. */
  handleSignals(deadline = 30_000): () => void {
    let signalled = 0;
    const onSignal = (): void => {
      signalled++;
      void this.stop({ deadline: signalled === 1 ? deadline : 0 });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  }

  async #run(): Promise<void> {
    const owned = !(this.#options.connection instanceof Connection);
    let attempt = 0;
    try {
      while (!this.shouldStop) {
        this.#status = 'starting';
        try {
          const connection = await this.#connect();
          attempt = 0;
          this.#options.onConnectionRevived?.();
          await this.#consume(connection);
        } catch (error) {
          if (this.shouldStop) break;
          const delayMs = Math.min(5_000, 100 * 2 ** attempt++);
          this.#status = 'degraded';
          this.#logger.warn('worker lost its broker; retrying', { error: errorSummary(error).message, delayMs });
          this.#options.onConnectionError?.(error, delayMs);
          await this.#sleep(delayMs);
        }
      }
    } finally {
      this.#status = 'stopped';
      this.#options.onConsumeEnd?.();
      if (owned) await this.#connection?.close().catch(() => undefined);
    }
  }

  async #connect(): Promise<Connection> {
    const given = this.#options.connection;
    if (given instanceof Connection) {
      this.#connection = given;
      await given.ready();
      return given;
    }
    if (!this.#connection || this.#connection.isClosed) this.#connection = new Connection(given);
    await this.#connection.ready();
    return this.#connection;
  }

  /** One consumption: returns when the worker stops; throws when the subscription or connection ends. */
  async #consume(connection: Connection): Promise<void> {
    if (this.#options.declare ?? true) await this.#declare(connection);
    let ended: (reason: Error) => void = () => {};
    const over = new Promise<void>((_, reject) => {
      ended = reject;
    });
    const unlisten = [
      connection.events.on('consumer.cancelled_by_broker', (e) => ended(new Error(e.payload.reason))),
      connection.events.on('connection.lost', () => {
        this.#status = 'degraded';
      }),
      connection.events.on('connection.revived', () => {
        this.#status = 'ready';
        this.#options.onConnectionRevived?.();
      }),
      connection.onClose(() => ended(new Error('connection closed'))),
    ];
    const consumer = connection.consumer({
      queues: this.queues,
      prefetch: this.#concurrency,
      order: 'priority',
      accept: ['json'],
      handler: (message) => this.#handle(connection, message),
      onDecodeError: (message, error) => this.#undecodable(connection, message, error),
      tagPrefix: 'wakame-worker',
    });
    this.#consumer = consumer;
    try {
      await consumer.consume();
      this.#status = 'ready';
      this.#options.onConsumeReady?.(consumer);
      await Promise.race([
        over,
        new Promise<void>((resolve) => this.#stopping.signal.addEventListener('abort', () => resolve())),
      ]);
    } finally {
      for (const off of unlisten) off();
      if (!this.shouldStop) await consumer.close().catch(() => undefined);
    }
  }

  async #declare(connection: Connection): Promise<void> {
    const wanted = new Set(this.queues);
    const queues = this.topology.queues.filter((q) => wanted.has(q.name));
    const bindings = this.topology.bindings.filter((b) => b.destinationType === 'queue' && wanted.has(b.destination));
    const sources = new Set(bindings.map((b) => b.source));
    for (const e of this.topology.exchanges) if (sources.has(e.name)) await connection.admin.declareExchange(e);
    for (const q of queues) await connection.admin.declareQueue(q);
    for (const b of bindings) await connection.admin.bind(b);
    await connection.declare(new Queue(this.#options.deadLetterQueue ?? DEFAULT_DEAD_LETTER_QUEUE, { durable: true }));
  }

  async #handle(connection: Connection, message: Message): Promise<void> {
    this.#inFlight++;
    const hook = this.#options.onTaskEvent;
    const started = hook ? performance.now() : 0;
    try {
      const outcome = await this.#process(connection, message);
      this.#counts[outcome.type === 'done' ? 'processed' : outcome.type === 'retry' ? 'retried' : 'deadLettered']++;
      hook?.({
        ...outcome,
        id: String(message.headers[TASK_HEADERS.id] ?? message.properties.messageId ?? ''),
        queue: message.queue,
        attempt: attemptOf(message.properties),
        durationMs: performance.now() - started,
      });
    } finally {
      this.#inFlight--;
      this.#options.onIteration?.();
    }
  }

  /** Outcome of a task that completed: one frozen object, not one per message. */
  static readonly #DONE = new Map<string, Outcome>();

  async #process(connection: Connection, message: Message): Promise<Outcome> {
    const name = String(message.headers[TASK_HEADERS.task] ?? message.properties.type ?? '');
    const task = this.#tasks.get(name);
    const handler = (this.#options.handlers as Record<string, TaskHandler | undefined>)[name];
    const dead = (reason: DeadLetterReason, details: Record<string, unknown> = {}) =>
      this.#deadLetter(connection, message, task, name, reason, details);
    if (!task) return dead('unknown-task', { error: { name: 'UnknownTaskError', message: `unknown task '${name}'` } });
    if (!handler)
      return dead('no-handler', { error: { name: 'Error', message: `this worker has no handler for '${name}'` } });
    const expiresAt = Number(message.headers[TASK_HEADERS.expiresAt]);
    if (Number.isFinite(expiresAt) && Date.now() > expiresAt) return dead('expired');
    const payload = message.payload;
    const issues = payloadIssues(task.payload, payload);
    if (issues.length > 0) return dead('invalid-payload', { issues });
    const attempt = attemptOf(message.properties);
    const traceparent = message.headers[TASK_HEADERS.traceparent];
    const context: TaskContext = {
      id: String(message.headers[TASK_HEADERS.id] ?? message.properties.messageId ?? ''),
      task: name,
      attempt,
      maxAttempts: task.retry.maxAttempts,
      ...(typeof traceparent === 'string' ? { traceparent } : {}),
      message,
      signal: this.#stopping.signal,
    };
    let result: unknown;
    try {
      result = handler(payload, context);
      // Awaiting only real promises spares synchronous handlers a microtask turn.
      if (result instanceof Promise) result = await result;
    } catch (error) {
      if (attempt < task.retry.maxAttempts) {
        await retryLater(connection, message, attempt + 1, retryDelay(task, attempt + 1), error);
        return { type: 'retry', task: name, error: errorSummary(error) };
      }
      await reply(connection, message, { ok: false, error: errorSummary(error) });
      return dead('failed', {
        error: errorSummary(error),
        attempts: attempt,
        firstSentAt: message.headers[TASK_HEADERS.firstSentAt],
      });
    }
    if (message.properties.replyTo) await reply(connection, message, { ok: true, result });
    if (!message.settled) await message.ack();
    const done = Worker.#DONE.get(name) ?? Object.freeze<Outcome>({ type: 'done', task: name });
    Worker.#DONE.set(name, done);
    return done;
  }

  async #deadLetter(
    connection: Connection,
    message: Message,
    task: CompiledTask | undefined,
    name: string,
    reason: DeadLetterReason,
    details: Record<string, unknown>,
  ): Promise<Outcome> {
    await deadLetter(connection, message, deadLetterTarget(task, this.#deadLetterQueue), reason, {
      task: name,
      ...details,
    });
    return {
      type: 'dead-letter',
      task: name,
      reason,
      ...(details.error ? { error: details.error as ErrorSummary } : {}),
    };
  }

  async #undecodable(connection: Connection, message: Message, error: Error): Promise<void> {
    this.#options.onDecodeError?.(message, error);
    const name = String(message.headers[TASK_HEADERS.task] ?? message.properties.type ?? '');
    await deadLetter(
      connection,
      message,
      deadLetterTarget(this.#tasks.get(name), this.#deadLetterQueue),
      'undecodable',
      {
        task: name,
        error: errorSummary(error),
      },
    );
    this.#counts.deadLettered++;
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

/** Priority-class queues first (in class order), then the queues handled tasks are routed to. */
function defaultQueues(topology: DesiredTopology, handled: readonly string[]): string[] {
  const out: string[] = [];
  const add = (q: string): void => {
    if (!out.includes(q)) out.push(q);
  };
  for (const queue of Object.values(topology.priorityClasses)) add(queue);
  // The broker's own exchanges (amq.direct, …) route too, though topologies do not declare them.
  const builtin = [...BUILTIN_EXCHANGES]
    .filter(([name]) => !topology.exchanges.some((e) => e.name === name))
    .map(([name, type]) => ({ name, type, durable: true, autoDelete: false, internal: false, arguments: {} }));
  const table = new RoutingTable({ exchanges: [...topology.exchanges, ...builtin], bindings: topology.bindings });
  const existing = new Set(topology.queues.map((q) => q.name));
  for (const task of topology.tasks) {
    if (!handled.includes(task.name) || !task.route) continue;
    const routed =
      task.route.exchange === ''
        ? [task.route.routingKey]
        : [...table.route(task.route.exchange, task.route.routingKey).queues];
    for (const q of routed) if (existing.has(q)) add(q);
  }
  return out;
}

async function withinDeadline(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
