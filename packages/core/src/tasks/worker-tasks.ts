/**
 * Running one task message for the worker: check it (known task, handler, expiry, payload), run its handler, then
 * ack it, retry it through a delay queue, or dead-letter it with the reason — or, when the worker's stop was forced
 * while the handler ran, leave it returned to its queue.
 *
 * @module
 */
import { InvalidPayloadError, PayloadTooLargeError, UnknownTaskError } from '../errors.js';
import { isSettled } from '../internal/settled.js';
import type { Connection } from '../messaging/connection.js';
import type { Message } from '../messaging/message.js';
import type { CompiledTask } from '../topology/desired.js';
import { deadLetter, deadLetterTarget, errorSummary, reply, retryLater } from './outcomes.js';
import { payloadIssues } from './payload-validator.js';
import { attemptOf, type DeadLetterReason, retryDelay, TASK_HEADERS } from './protocol.js';
import type { TaskLimit } from './task-limits.js';
import type { TaskContext, TaskHandler } from './types.js';

type ErrorSummary = { readonly name: string; readonly message: string };

/** What became of a task message. */
export interface Outcome {
  /** `returned`: a forced stop gave the message back to its queue while the handler ran; it will run again. */
  readonly type: 'done' | 'retry' | 'dead-letter' | 'returned';
  readonly task: string;
  readonly reason?: string;
  readonly error?: ErrorSummary;
}

/** What a {@link TaskRunner} works with. */
export interface TaskRunnerOptions {
  readonly tasks: ReadonlyMap<string, CompiledTask>;
  readonly handlers: Readonly<Record<string, TaskHandler | undefined>>;
  readonly deadLetterQueue: string;
  /** Per-task concurrency and rate limits, for the tasks that have any. */
  readonly limits?: ReadonlyMap<string, TaskLimit>;
  /** Aborted once the worker's stop is requested: a message still waiting for its limits goes back unrun. */
  readonly stopRequested?: AbortSignal;
}

/** Outcome of a task that completed, and a function returning it: one of each per task name, not per message. */
const DONE = new Map<string, { readonly outcome: Outcome; readonly resolve: () => Outcome }>();

function doneOf(name: string): { readonly outcome: Outcome; readonly resolve: () => Outcome } {
  let done = DONE.get(name);
  if (done === undefined) {
    const outcome = Object.freeze<Outcome>({ type: 'done', task: name });
    done = { outcome, resolve: () => outcome };
    DONE.set(name, done);
  }
  return done;
}

async function replyThenAck(
  connection: Connection,
  message: Message,
  result: unknown,
  done: Outcome,
): Promise<Outcome> {
  await reply(connection, message, { ok: true, result });
  if (!message.settled) await message.ack();
  return done;
}

/** The task name a message carries. */
export function taskName(message: Message): string {
  return String(message.headers[TASK_HEADERS.task] ?? message.properties.type ?? '');
}

export class TaskRunner {
  /**
   * Each forced-stop signal joined with the stop request, made once rather than per limited message: every join
   * stays registered on both long-lived signals.
   */
  readonly #untilStopped = new WeakMap<AbortSignal, AbortSignal>();

  constructor(private readonly options: TaskRunnerOptions) {}

  /**
   * `signal`: aborted when the worker's stop is forced (the handler's `ctx.signal`). Synchronous until
   * something has to wait: a synchronous handler's task costs one `then` (on its ack), not async frames.
   */
  run(connection: Connection, message: Message, signal: AbortSignal): Outcome | Promise<Outcome> {
    try {
      return this.#run(connection, message, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #run(connection: Connection, message: Message, signal: AbortSignal): Outcome | Promise<Outcome> {
    const { tasks, handlers } = this.options;
    const headers = message.headers;
    const name = taskName(message);
    const task = tasks.get(name);
    const handler = handlers[name];
    // The failure paths call #deadLetter directly: no closure per message on the path that succeeds.
    if (!task)
      return this.#deadLetter(connection, message, task, name, 'unknown-task', { error: unknownTask(name, tasks) });
    if (!handler) {
      return this.#deadLetter(connection, message, task, name, 'no-handler', {
        error: { name: 'Error', message: `this worker has no handler for '${name}'` },
      });
    }
    const expiresAt = Number(headers[TASK_HEADERS.expiresAt]);
    if (Number.isFinite(expiresAt) && Date.now() > expiresAt) {
      return this.#deadLetter(connection, message, task, name, 'expired', {});
    }
    const payload = message.payload;
    const issues = payloadIssues(task.payload, payload);
    if (issues.length > 0) {
      return this.#deadLetter(connection, message, task, name, 'invalid-payload', {
        issues,
        error: errorSummary(new InvalidPayloadError(name, issues)),
      });
    }
    const attempt = attemptOf(message.properties);
    const traceparent = headers[TASK_HEADERS.traceparent];
    const context: { -readonly [K in keyof TaskContext]: TaskContext[K] } = {
      id: String(headers[TASK_HEADERS.id] ?? message.properties.messageId ?? ''),
      task: name,
      attempt,
      maxAttempts: task.retry.maxAttempts,
      message,
      signal,
    };
    if (typeof traceparent === 'string') context.traceparent = traceparent;
    const limit = this.options.limits?.get(name);
    if (limit !== undefined) return this.#limited(limit, connection, message, task, attempt, signal, handler, context);
    return this.#invoke(connection, message, task, attempt, signal, handler, context);
  }

  /** Runs the handler once the task's limits let it start; its place is given back when it is settled. */
  async #limited(
    limit: TaskLimit,
    connection: Connection,
    message: Message,
    task: CompiledTask,
    attempt: number,
    signal: AbortSignal,
    handler: TaskHandler,
    context: TaskContext,
  ): Promise<Outcome> {
    try {
      await limit.enter(this.#waitSignal(signal));
    } catch (error) {
      // A stop ends the wait: the message goes back to its queue, not run (it never started).
      if (signal.aborted || this.options.stopRequested?.aborted) return returned(message, task.name);
      throw error;
    }
    try {
      return await this.#invoke(connection, message, task, attempt, signal, handler, context);
    } finally {
      limit.release();
    }
  }

  /** What ends a wait for limits: `signal` (the forced stop) or the worker's stop request. */
  #waitSignal(signal: AbortSignal): AbortSignal {
    const stop = this.options.stopRequested;
    if (stop === undefined) return signal;
    let joined = this.#untilStopped.get(signal);
    if (joined === undefined) {
      joined = AbortSignal.any([signal, stop]);
      this.#untilStopped.set(signal, joined);
    }
    return joined;
  }

  #invoke(
    connection: Connection,
    message: Message,
    task: CompiledTask,
    attempt: number,
    signal: AbortSignal,
    handler: TaskHandler,
    context: TaskContext,
  ): Outcome | Promise<Outcome> {
    const payload = message.payload;
    const name = task.name;
    let result: unknown;
    try {
      result = handler(payload, context);
    } catch (error) {
      return this.#failed(connection, message, task, attempt, signal, error);
    }
    // Awaiting only real promises spares synchronous handlers a microtask turn.
    if (result instanceof Promise) return this.#settleLater(connection, message, task, attempt, signal, result);
    return this.#succeeded(connection, message, name, signal, result);
  }

  async #settleLater(
    connection: Connection,
    message: Message,
    task: CompiledTask,
    attempt: number,
    signal: AbortSignal,
    pending: Promise<unknown>,
  ): Promise<Outcome> {
    let result: unknown;
    try {
      result = await pending;
    } catch (error) {
      return this.#failed(connection, message, task, attempt, signal, error);
    }
    return this.#succeeded(connection, message, task.name, signal, result);
  }

  /** The handler threw: retry through a delay queue while attempts are left, else answer and dead-letter. */
  async #failed(
    connection: Connection,
    message: Message,
    task: CompiledTask,
    attempt: number,
    signal: AbortSignal,
    error: unknown,
  ): Promise<Outcome> {
    const name = task.name;
    // After a forced stop a failure is the abort (or the closing connection): the message goes back as it was.
    if (signal.aborted && message.state !== 'acked') return returned(message, name);
    if (attempt < task.retry.maxAttempts) {
      await retryLater(connection, message, attempt + 1, retryDelay(task, attempt + 1), error);
      return { type: 'retry', task: name, error: errorSummary(error) };
    }
    await reply(connection, message, { ok: false, error: errorSummary(error) });
    return this.#deadLetter(connection, message, task, name, 'failed', {
      error: errorSummary(error),
      attempts: attempt,
      firstSentAt: message.headers[TASK_HEADERS.firstSentAt],
    });
  }

  #succeeded(
    connection: Connection,
    message: Message,
    name: string,
    signal: AbortSignal,
    result: unknown,
  ): Outcome | Promise<Outcome> {
    // A forced stop gave the message back while the handler ran: it will run again, and answer then. The state
    // first: it is a field, where `aborted` is a checked getter of the signal (every task passes here).
    if (message.state === 'requeued' && signal.aborted) return returned(message, name);
    const done = doneOf(name);
    if (message.properties.replyTo) return replyThenAck(connection, message, result, done.outcome);
    if (message.settled) return done.outcome;
    // An ack the transport finished synchronously (in memory) leaves nothing to wait for: the task ends here,
    // without a promise, closure or microtask hop per message in this runner, the dispatch or the consumer.
    const acked = message.ack();
    return isSettled(acked) ? done.outcome : acked.then(done.resolve);
  }

  /** Dead-letters a message that could not be decoded (or whose body is over the bound), once, with the reason. */
  async undecodable(connection: Connection, message: Message, error: Error): Promise<Outcome> {
    const name = taskName(message);
    const tooLarge = error instanceof PayloadTooLargeError;
    return this.#deadLetter(
      connection,
      message,
      this.options.tasks.get(name),
      name,
      tooLarge ? 'too-large' : 'undecodable',
      { error: errorSummary(error), ...(tooLarge ? { size: error.size, limit: error.limit } : {}) },
    );
  }

  async #deadLetter(
    connection: Connection,
    message: Message,
    task: CompiledTask | undefined,
    name: string,
    reason: DeadLetterReason,
    details: Record<string, unknown>,
  ): Promise<Outcome> {
    await deadLetter(connection, message, deadLetterTarget(task, this.options.deadLetterQueue), reason, {
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
}

/** Why a message names no task the worker knows: no task header at all, or a name the topology does not define. */
function unknownTask(name: string, tasks: ReadonlyMap<string, CompiledTask>): ErrorSummary {
  if (name === '') {
    return {
      name: 'UnknownTaskError',
      message:
        `the message has no '${TASK_HEADERS.task}' header (nor a 'type' property) naming its task: ` +
        'it was not sent as a task (a worker runs such messages with `consumers`, not task handlers)',
    };
  }
  return errorSummary(new UnknownTaskError(name, [...tasks.keys()]));
}

async function returned(message: Message, name: string): Promise<Outcome> {
  if (!message.settled) await message.requeue().catch(() => undefined);
  return { type: 'returned', task: name };
}
