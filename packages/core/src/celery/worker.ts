/**
 * A Wakame worker for Celery tasks: it consumes protocol v2 messages that Python sent (`send_task`,
 * `apply_async`, `self.retry`, chains), runs the handler registered for the task name, and stores the
 * outcome in the result backend so Python's `AsyncResult.get()` sees it. Like Celery's worker it waits
 * for an `eta` holding the message unacked, skips an expired task as REVOKED, acks before running by
 * default (`acksLate` to ack after), retries by sending the task again, and sends a chain's next step.
 *
 * @module
 */

import { InvalidArgumentError, UnknownTaskError } from '../errors.js';
import { sleep } from '../internal/sleep.js';
import type { Connection } from '../messaging/connection.js';
import type { Consumer } from '../messaging/consumer.js';
import type { Message } from '../messaging/message.js';
import type { Queue } from '../model/queue.js';
import { assertPayload } from '../tasks/payload-validator.js';
import type { TopologyDocument } from '../topology/document.js';
import { type CeleryHandler, type CeleryHandlers, CeleryRetry, callOf, DEFAULT_MAX_RETRIES } from './call.js';
import { CeleryEventDispatcher, type CeleryEventOptions } from './events.js';
import { type FollowUp, failureFollowUps, retryMessage, successFollowUps } from './follow-ups.js';
import { type CeleryTask, decodeCeleryTask, reprOf } from './protocol.js';
import { CeleryPublisher } from './publish.js';
import {
  type CeleryResultBackend,
  type CeleryResultMeta,
  exceptionInfo,
  messageText,
  resultMeta,
  tracebackOf,
} from './results.js';
import { CELERY_DEFAULT_QUEUE, type CeleryRoute, CeleryRouter, celeryQueue } from './routing.js';
import { withinTimeLimits } from './time-limits.js';
import { type CeleryTopologyTask, celeryTasksOf } from './topology.js';

/** Options of {@link CeleryWorker}. */
export interface CeleryWorkerOptions<T extends TopologyDocument = TopologyDocument> {
  /** Handlers by Celery task name. */
  readonly handlers: CeleryHandlers<T>;
  /**
   * A topology whose payload schemas (of `{ args, kwargs }`) type the handlers and check each task
   * before it runs: a mismatch fails the task with `InvalidPayloadError`, as Python then sees.
   */
  readonly topology?: T;
  /** Queues to consume: names (declared as Celery declares them) or declarations. @defaultValue `['celery']` */
  readonly queues?: readonly (string | Queue)[];
  /** Where outcomes are stored; without one, results are not stored (as with Celery's `ignore_result`). */
  readonly backend?: CeleryResultBackend;
  /** Ack after the handler instead of before it (Celery's `task_acks_late`). @defaultValue `false` */
  readonly acksLate?: boolean;
  /** Store STARTED before running (Celery's `task_track_started`). @defaultValue `false` */
  readonly trackStarted?: boolean;
  /** Routes of the tasks this worker sends (chain steps, callbacks). */
  readonly routes?: Readonly<Record<string, CeleryRoute | string>>;
  /** Queue of sent tasks without a route. @defaultValue `'celery'` */
  readonly defaultQueue?: string;
  /** Messages held at once, those waiting for their eta included. @defaultValue `16` */
  readonly prefetch?: number;
  /** Serializer of the tasks this worker sends. @defaultValue `'json'` */
  readonly serializer?: string;
  /** Send Celery's worker and task events (for Flower, `celery events`). @defaultValue `false` */
  readonly events?: boolean | CeleryEventOptions;
  /** Told of messages the worker could not handle (not Celery v2, unknown task, a backend failure). */
  readonly onError?: (error: unknown, message: Message) => void;
}

/** The `exc_type` Celery stores for an expired task. */
const EXPIRED = { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' };

export class CeleryWorker<T extends TopologyDocument = TopologyDocument> {
  readonly connection: Connection;
  readonly #options: CeleryWorkerOptions<T>;
  readonly #handlers: Readonly<Record<string, CeleryHandler | undefined>>;
  readonly #schemas: ReadonlyMap<string, CeleryTopologyTask>;
  readonly #queues: readonly Queue[];
  readonly #router: CeleryRouter;
  readonly #publisher: CeleryPublisher;
  readonly #stopping = new AbortController();
  readonly #events: CeleryEventDispatcher | undefined;
  #consumer: Consumer | undefined;

  constructor(connection: Connection, options: CeleryWorkerOptions<T>) {
    if (typeof options.handlers !== 'object' || options.handlers === null) {
      throw new InvalidArgumentError('a Celery worker needs handlers: { "task.name": (call) => result }');
    }
    this.connection = connection;
    this.#options = options;
    this.#handlers = options.handlers as Readonly<Record<string, CeleryHandler | undefined>>;
    this.#schemas = options.topology ? celeryTasksOf(options.topology) : new Map();
    this.#queues = (options.queues ?? [CELERY_DEFAULT_QUEUE]).map((q) => (typeof q === 'string' ? celeryQueue(q) : q));
    this.#router = new CeleryRouter(options.routes, options.defaultQueue);
    this.#publisher = new CeleryPublisher(connection, options.serializer ?? 'json');
    if (options.events) {
      this.#events = new CeleryEventDispatcher(connection, options.events === true ? {} : options.events);
    }
  }

  /** The name Celery's events give this worker, when it sends events. */
  get hostname(): string | undefined {
    return this.#events?.hostname;
  }

  /** Declares the queues and starts consuming. */
  async start(): Promise<this> {
    this.#consumer = this.connection.consumer({
      queues: this.#queues,
      accept: ['json', 'msgpack'],
      prefetch: this.#options.prefetch ?? 16,
      handler: (message) => this.#handle(message),
      onDecodeError: async (message, error) => {
        this.#options.onError?.(error, message);
        await message.reject();
      },
    });
    await this.#consumer.consume();
    await this.#events?.start();
    return this;
  }

  /** Stops consuming; tasks waiting for their eta go back to their queue unacked. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#consumer?.close();
    await this.#events?.stop();
  }

  async #handle(message: Message): Promise<void> {
    let task: CeleryTask;
    try {
      task = decodeCeleryTask(message.payload, message.headers, message.properties);
    } catch (error) {
      this.#options.onError?.(error, message);
      await message.reject();
      return;
    }
    const handler = this.#handlers[task.name];
    if (handler === undefined) {
      // Celery discards unregistered tasks with an error in its log; rejecting dead-letters them where configured.
      this.#options.onError?.(new UnknownTaskError(task.name, Object.keys(this.#handlers)), message);
      await message.reject();
      return;
    }
    await this.#events?.send('task-received', {
      uuid: task.id,
      name: task.name,
      args: task.headers.argsrepr ?? reprOf(task.args),
      kwargs: task.headers.kwargsrepr ?? reprOf(task.kwargs),
      root_id: task.rootId,
      parent_id: task.parentId,
      retries: task.retries,
      eta: task.headers.eta ?? null,
      expires: task.headers.expires ?? null,
    });
    if (await this.#revokedIfExpired(task, message)) return;
    if (task.eta && !(await this.#until(task.eta))) return; // stopping: the consumer returns it unacked
    // It may have expired while waiting for its eta.
    if (task.eta && (await this.#revokedIfExpired(task, message))) return;
    if (!this.#options.acksLate) await message.ack();
    await this.#run(task, handler, message);
    if (this.#options.acksLate && !message.settled) await message.ack();
  }

  /** Celery's handling of an expired task: not run, stored as REVOKED. True when it was. */
  async #revokedIfExpired(task: CeleryTask, message: Message): Promise<boolean> {
    if (!task.expires || task.expires.getTime() >= Date.now()) return false;
    await message.ack();
    await this.#events?.send('task-revoked', { uuid: task.id, terminated: false, signum: null, expired: true });
    await this.#store(task, resultMeta(task.id, 'REVOKED', EXPIRED), message);
    return true;
  }

  /** Waits until `eta`; false when the worker stops first. */
  async #until(eta: Date): Promise<boolean> {
    // Node's timers may fire a millisecond early (they count from the event loop's cached clock), and
    // sleep() waits at most MAX_TIMER_MS (about 24.8 days) at once: check again, so a task never runs before its eta.
    for (let delay = eta.getTime() - Date.now(); delay > 0; delay = eta.getTime() - Date.now()) {
      try {
        await sleep(delay, this.#stopping.signal);
      } catch {
        return false; // stopping
      }
    }
    return true;
  }

  async #run(task: CeleryTask, handler: CeleryHandler, message: Message): Promise<void> {
    if (this.#options.trackStarted)
      await this.#store(task, resultMeta(task.id, 'STARTED', { pid: process.pid }), message);
    await this.#events?.send('task-started', { uuid: task.id, pid: process.pid });
    this.#events?.taskStarted();
    const started = performance.now();
    let result: unknown;
    try {
      const schema = this.#schemas.get(task.name)?.payload;
      if (schema) assertPayload(task.name, schema, { args: task.args, kwargs: task.kwargs });
      const delivery = { queue: message.queue, priority: message.properties.priority };
      result = await withinTimeLimits((signal) => handler(callOf(task, { ...delivery, signal })), task.timelimit);
    } catch (error) {
      if (error instanceof CeleryRetry) await this.#retry(task, error, message);
      else await this.#fail(task, error, message);
      return;
    } finally {
      this.#events?.taskDone();
    }
    const runtime = (performance.now() - started) / 1000;
    const success = resultMeta(task.id, 'SUCCESS', result ?? null, { parentId: task.parentId });
    if (!(await this.#store(task, success, message))) {
      // Most likely a value the result serializer cannot write (a BigInt, a cycle): Python gets a failure, not silence.
      await this.#fail(task, new TypeError(`the result of ${task.name} could not be stored`), message);
      return;
    }
    await this.#events?.send('task-succeeded', { uuid: task.id, result: reprOf(result ?? null), runtime });
    let followUps: FollowUp[] = [];
    try {
      followUps = successFollowUps(task, result ?? null, this.#router);
    } catch (error) {
      this.#options.onError?.(error, message); // a canvas this worker cannot continue (a chord)
    }
    for (const next of followUps) await this.#send(next, message);
  }

  async #retry(task: CeleryTask, retry: CeleryRetry, message: Message): Promise<void> {
    const { exc, maxRetries = DEFAULT_MAX_RETRIES } = retry.options;
    if (task.retries >= maxRetries) {
      const exhausted = Object.assign(new Error(`Can't retry ${task.name}[${task.id}] args:${reprOf(task.args)}`), {
        name: 'MaxRetriesExceededError',
      });
      await this.#fail(task, exc ?? exhausted, message);
      return;
    }
    const queue = this.#queues.find((q) => q.name === message.queue) ?? celeryQueue(message.queue);
    await this.#send(retryMessage(task, retry.options, queue, message.properties.priority), message);
    const reason = exc ?? retry;
    await this.#events?.send('task-retried', {
      uuid: task.id,
      exception: exceptionRepr(reason),
      traceback: tracebackOf(reason),
    });
    await this.#store(
      task,
      resultMeta(task.id, 'RETRY', exceptionInfo(reason), { traceback: tracebackOf(reason) }),
      message,
    );
  }

  async #fail(task: CeleryTask, error: unknown, message: Message): Promise<void> {
    const meta = resultMeta(task.id, 'FAILURE', exceptionInfo(error), {
      traceback: tracebackOf(error),
      parentId: task.parentId,
    });
    await this.#store(task, meta, message);
    for (const next of failureFollowUps(task, this.#router)) await this.#send(next, message);
    await this.#events?.send('task-failed', {
      uuid: task.id,
      exception: exceptionRepr(error),
      traceback: tracebackOf(error),
    });
  }

  async #send(next: FollowUp, message: Message): Promise<void> {
    try {
      await this.#publisher.publish(next.target, next.task, next.priority);
    } catch (error) {
      this.#options.onError?.(error, message);
    }
  }

  /** Stores a record; false (after telling `onError`) when the backend refused it. */
  async #store(task: CeleryTask, meta: CeleryResultMeta, message: Message): Promise<boolean> {
    if (!this.#options.backend || task.ignoreResult) return true;
    try {
      await this.#options.backend.store(
        { taskId: task.id, replyTo: task.replyTo, correlationId: task.correlationId },
        meta,
      );
      return true;
    } catch (error) {
      this.#options.onError?.(error, message);
      return false;
    }
  }
}

/** An exception as Celery's events show it: `ValueError('boom')`. */
function exceptionRepr(error: unknown): string {
  const info = exceptionInfo(error);
  return `${info.exc_type}(${JSON.stringify(messageText(info.exc_message)).replace(/^"|"$/g, "'")})`;
}
