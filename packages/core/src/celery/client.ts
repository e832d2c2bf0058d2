/**
 * Sends tasks to Celery workers and reads their results: `send` publishes a protocol v2 message
 * (serialized as json or msgpack) to the task's route, `call` also waits for the result through the
 * configured result backend and returns the value or throws {@link CeleryTaskError}.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { Connection } from '../messaging/connection.js';
import type { Queue } from '../model/queue.js';
import { assertPayload } from '../tasks/payload-validator.js';
import type { TopologyDocument } from '../topology/document.js';
import { type CelerySignature, type CeleryTaskSpec, encodeCeleryTask } from './protocol.js';
import { CeleryPublisher } from './publish.js';
import { type CeleryResultBackend, type CeleryState, errorOf } from './results.js';
import { type CeleryRoute, CeleryRouter } from './routing.js';
import { type CeleryArguments, type CeleryTopologyTask, celeryTasksOf } from './topology.js';

/** How long `get`/`call` wait by default. */
export const DEFAULT_CELERY_RESULT_TIMEOUT_MS = 60_000;

/** Options of {@link CeleryClient}. */
export interface CeleryClientOptions<T extends TopologyDocument = TopologyDocument> {
  /**
   * A topology whose tasks marked `protocol: celery` this client sends: their payload schemas (of
   * `{ args, kwargs }`) type and check each send, and their routes say where they go.
   */
  readonly topology?: T;
  /** Where results are read from; without one, `send` works and `get` refuses. */
  readonly backend?: CeleryResultBackend;
  /** Celery's `task_routes`: task name or glob (`proj.*`) → queue name or route. */
  readonly routes?: Readonly<Record<string, CeleryRoute | string>>;
  /** Celery's `task_default_queue`. @defaultValue `'celery'` */
  readonly defaultQueue?: string;
  /** Celery's `task_serializer`: `'json'` or `'msgpack'`. @defaultValue `'json'` */
  readonly serializer?: string;
  /** Default wait of `get` and `call`. @defaultValue {@link DEFAULT_CELERY_RESULT_TIMEOUT_MS} */
  readonly resultTimeoutMs?: number;
}

/**
 * Options of one send: the task's arguments, timing and route. With `chain` (the steps after this
 * task, in running order), `send` returns the handle of the chain's last step, as Celery's
 * `chain(...).apply_async()` does.
 */
export interface CelerySendOptions extends Omit<CeleryTaskSpec, 'name' | 'replyTo' | 'now'> {
  /** A queue for this send only (overrides the routes). */
  readonly queue?: string | Queue;
  /** Message priority (the queue needs `maxPriority` on RabbitMQ). */
  readonly priority?: number;
}

/**
 * A chain step as Celery freezes it before sending: its id fixed now (so its result can be awaited)
 * and its result sent to this client's reply queue.
 */
function frozen(step: CelerySignature, replyTo: string): CelerySignature {
  const options = step.options ?? {};
  // Celery rebuilds a signature from every field of its dict form: none may be missing.
  return {
    task: step.task,
    args: step.args ?? [],
    kwargs: step.kwargs ?? {},
    options: { ...options, task_id: options.task_id ?? randomUUID(), reply_to: options.reply_to ?? replyTo },
    subtask_type: step.subtask_type ?? null,
    immutable: step.immutable ?? false,
  };
}

/** A sent task: Celery's `AsyncResult`. */
export class CeleryResult<T = unknown> {
  readonly id: string;
  readonly #backend: CeleryResultBackend | undefined;
  readonly #timeoutMs: number;

  constructor(id: string, backend: CeleryResultBackend | undefined, timeoutMs: number) {
    this.id = id;
    this.#backend = backend;
    this.#timeoutMs = timeoutMs;
  }

  /** The return value; throws {@link CeleryTaskError} when the task failed or was revoked. */
  async get(timeoutMs = this.#timeoutMs): Promise<T> {
    const meta = await this.#need().waitFor(this.id, timeoutMs);
    if (meta.status !== 'SUCCESS') throw errorOf(meta);
    return meta.result as T;
  }

  /** The latest state the backend knows (PENDING when none). */
  state(): Promise<CeleryState> {
    return this.#need().state(this.id);
  }

  #need(): CeleryResultBackend {
    if (!this.#backend) throw new InvalidArgumentError('this Celery client has no result backend: pass `backend`');
    return this.#backend;
  }
}

/** A sent group: Celery's `GroupResult`. */
export class CeleryGroupResult<R = unknown> {
  readonly id: string;
  readonly results: readonly CeleryResult<R>[];

  constructor(id: string, results: readonly CeleryResult<R>[]) {
    this.id = id;
    this.results = results;
  }

  /** Every result, in the order sent; throws the first {@link CeleryTaskError} when a task failed. */
  get(timeoutMs?: number): Promise<R[]> {
    return Promise.all(this.results.map((result) => result.get(timeoutMs)));
  }
}

/**
 * A Celery client on a Wakame connection.
 *
 * @example
 * const celery = new CeleryClient(connection, { backend: new RpcResultBackend(connection) });
 * const sum = await celery.call<number>('proj.tasks.add', { args: [2, 3] });
 */
export class CeleryClient<T extends TopologyDocument = TopologyDocument> {
  readonly connection: Connection;
  readonly backend: CeleryResultBackend | undefined;
  readonly #router: CeleryRouter;
  readonly #publisher: CeleryPublisher;
  readonly #timeoutMs: number;
  readonly #tasks: ReadonlyMap<string, CeleryTopologyTask>;

  constructor(connection: Connection, options: CeleryClientOptions<T> = {}) {
    this.connection = connection;
    this.backend = options.backend;
    this.#router = new CeleryRouter(options.routes, options.defaultQueue);
    this.#publisher = new CeleryPublisher(connection, options.serializer ?? 'json');
    this.#timeoutMs = options.resultTimeoutMs ?? DEFAULT_CELERY_RESULT_TIMEOUT_MS;
    this.#tasks = options.topology ? celeryTasksOf(options.topology) : new Map();
  }

  /** Publishes the task; the result is read later with the returned handle. */
  async send<R = unknown, K extends string = string>(
    name: K,
    options: CelerySendOptions & CeleryArguments<T, K> = {} as CelerySendOptions & CeleryArguments<T, K>,
  ): Promise<CeleryResult<R>> {
    const { queue: queueOverride, priority, chain, ...spec } = options as CelerySendOptions;
    const declared = this.#checked(name, spec);
    const route =
      queueOverride !== undefined ? { queue: queueOverride } : (declared?.route ?? this.#router.route(name));
    const replyTo = this.backend ? await this.backend.replyTo() : '';
    const steps = chain?.map((step) => frozen(step, replyTo)) ?? [];
    const encoded = encodeCeleryTask({ ...spec, name, replyTo, chain: steps });
    await this.#publisher.publish(CeleryRouter.targetOf(route), encoded, priority ?? route.priority);
    const last = steps.at(-1)?.options?.task_id;
    return new CeleryResult<R>(typeof last === 'string' ? last : encoded.id, this.backend, this.#timeoutMs);
  }

  /** The topology's declaration of `name`, once its arguments match the payload schema. */
  #checked(name: string, spec: { args?: readonly unknown[]; kwargs?: object }): CeleryTopologyTask | undefined {
    const task = this.#tasks.get(name);
    if (task === undefined) return undefined;
    if (!task.celery) {
      throw new InvalidArgumentError(
        `task '${name}' uses Wakame's protocol in the topology: send it with a TaskClient, or mark it protocol: celery`,
      );
    }
    const payload = { ...(spec.args ? { args: spec.args } : {}), ...(spec.kwargs ? { kwargs: spec.kwargs } : {}) };
    assertPayload(name, task.payload, payload);
    return task;
  }

  /** Sends the task and waits for its result. */
  async call<R = unknown, K extends string = string>(
    name: K,
    options: CelerySendOptions & CeleryArguments<T, K> & { timeoutMs?: number } = {} as CelerySendOptions &
      CeleryArguments<T, K>,
  ): Promise<R> {
    const { timeoutMs, ...send } = options as CelerySendOptions & { timeoutMs?: number };
    const result = await this.send<R, K>(name, send as CelerySendOptions & CeleryArguments<T, K>);
    return result.get(timeoutMs);
  }

  /**
   * Sends tasks as one Celery group (each message carries the group's id and its index in the group,
   * as `group(...).apply_async()` does); the handle gets all results in order.
   */
  async sendGroup<R = unknown>(
    tasks: readonly { readonly name: string; readonly options?: CelerySendOptions }[],
  ): Promise<CeleryGroupResult<R>> {
    const group = randomUUID();
    const results: CeleryResult<R>[] = [];
    for (const [index, task] of tasks.entries()) {
      const options = { ...task.options, group, groupIndex: index } as CelerySendOptions & CeleryArguments<T, string>;
      results.push(await this.send<R>(task.name, options));
    }
    return new CeleryGroupResult<R>(group, results);
  }

  /** A result handle for a task id sent elsewhere. */
  result<R = unknown>(id: string): CeleryResult<R> {
    return new CeleryResult<R>(id, this.backend, this.#timeoutMs);
  }
}
