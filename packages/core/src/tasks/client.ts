/**
 * Sending tasks: `send(name, payload, options)` validates the payload against the task's schema,
 * routes it through the topology (its route, or the queue of a priority class), and publishes it
 * through the client's {@link Producer}; `call()` does the same and waits for the worker's reply.
 * A task the topology marks `protocol: celery` is refused ({@link TaskProtocolError}): Celery workers
 * need Celery's message format, which `CeleryClient` sends.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, UnknownTaskError } from '../errors.js';
import type { Connection } from '../messaging/connection.js';
import type { Producer } from '../messaging/producer.js';
import type { RetryPolicy } from '../messaging/retry.js';
import type { CompiledTask, DesiredTopology } from '../topology/desired.js';
import type { TopologyDocument } from '../topology/document.js';
import { compileDocument } from '../topology/pipeline.js';
import { publishDelayed } from './delay.js';
import { assertPayload } from './payload-validator.js';
import { resolveDestination, resolvePriority, taskPublishOptions } from './protocol.js';
import { ReplyListener } from './replies.js';
import { TaskProtocolError } from './task-protocol-error.js';
import type { SendOptions, TaskName, TaskPayloads } from './types.js';

/** Options of {@link TaskClient.call}. */
export interface CallOptions extends SendOptions {
  /** How long to wait for the reply (ms). @defaultValue 30_000 */
  readonly timeout?: number;
}

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/** Options of {@link TaskClient}: how its {@link Producer} publishes. */
export interface TaskClientOptions {
  /** Compress task bodies (`zlib`, `gzip`, `deflate`, `brotli`); workers decompress by the header. @defaultValue none */
  readonly compression?: string;
  /** Retry publishes across reconnects. @defaultValue `false` */
  readonly retry?: RetryPolicy | boolean;
}

/** Where a task goes (see {@link TaskClient.destination}). */
export interface TaskDestination {
  readonly exchange: string;
  readonly routingKey: string;
  readonly priorityClass?: string;
  readonly messagePriority?: number;
}

/**
 * Sends the tasks of one topology. With a `defineTopology(...)` value, task names and payloads are
 * checked at compile time.
 *
 * @example
 * const client = new TaskClient(connection, topology);
 * await client.send('report.generate', { reportId: 'r-1' }, { priority: 'low' });
 * await client.send('user.notify', { userId: 'u-1' }, { priority: 'high', messagePriority: 9 });
 * const sum = await client.call('math.add', { a: 1, b: 2 }, { timeout: 5_000 });
 */
export class TaskClient<T extends TopologyDocument = TopologyDocument> {
  readonly connection: Connection;
  readonly topology: DesiredTopology;
  /** Publishes every task of this client (so compression, the size bound, confirms and `producer.*` events apply). */
  readonly producer: Producer;
  readonly #tasks: ReadonlyMap<string, CompiledTask>;
  #replies: ReplyListener | undefined;

  /** `topology`: a document (checked and compiled here) or an already compiled topology. */
  constructor(
    connection: Connection,
    topology: T | { readonly compiled: DesiredTopology },
    options: TaskClientOptions = {},
  ) {
    this.connection = connection;
    this.producer = connection.producer({
      ...(options.compression !== undefined ? { compression: options.compression } : {}),
      ...(options.retry !== undefined ? { retry: options.retry } : {}),
    });
    this.topology = 'compiled' in topology ? topology.compiled : compileDocument(topology as TopologyDocument);
    this.#tasks = new Map(this.topology.tasks.map((t) => [t.name, t]));
  }

  /** The compiled definition of a task. @throws {@link UnknownTaskError} */
  task(name: string): CompiledTask {
    const task = this.#tasks.get(name);
    if (!task) throw new UnknownTaskError(name, [...this.#tasks.keys()]);
    return task;
  }

  /**
   * The compiled definition of a task this client sends: one in Wakame's protocol.
   * @throws {@link UnknownTaskError}; {@link TaskProtocolError} for a task marked `protocol: celery`.
   */
  #wakameTask(name: string): CompiledTask {
    const task = this.task(name);
    if (task.protocol !== 'wakame') throw new TaskProtocolError(name, task.protocol);
    return task;
  }

  /**
   * Publishes a task; resolves with its id once the broker has it.
   * @throws {@link UnknownTaskError}, {@link TaskProtocolError} (a Celery task: send it with a `CeleryClient`),
   *   {@link InvalidPayloadError}, {@link InvalidArgumentError} before sending anything.
   */
  async send<N extends TaskName<T>>(
    name: N,
    payload: TaskPayloads<T>[N],
    options: SendOptions = {},
  ): Promise<{ id: string }> {
    const id = options.id ?? randomUUID();
    await this.#publish(name, payload, options, id, undefined);
    return { id };
  }

  /**
   * Sends a task and waits for the handler's result.
   * @throws what {@link TaskClient.send} throws, before sending anything (or listening for replies);
   *   {@link TimeoutError} when no reply comes in time (a late reply is dropped);
   *   {@link TaskFailedError} when the task failed on the worker after its retries.
   */
  async call<N extends TaskName<T>>(name: N, payload: TaskPayloads<T>[N], options: CallOptions = {}): Promise<unknown> {
    this.#wakameTask(name);
    const id = options.id ?? randomUUID();
    this.#replies ??= new ReplyListener(this.connection);
    const replyTo = await this.#replies.address();
    const reply = this.#replies.expect(id, name, options.timeout ?? DEFAULT_CALL_TIMEOUT_MS, options.signal);
    try {
      await this.#publish(name, payload, options, id, replyTo);
    } catch (error) {
      this.#replies.forget(id);
      throw error;
    }
    return reply;
  }

  /** Stops listening for replies (pending calls fail). The connection stays open. */
  async close(): Promise<void> {
    await this.#replies?.close();
    this.#replies = undefined;
  }

  /**
   * Where a send with `options` goes: the exchange and routing key, the priority class and the
   * message priority. Nothing is sent.
   * @throws {@link UnknownTaskError}, {@link TaskProtocolError} (a Celery task, which goes by Celery's routing),
   *   {@link InvalidArgumentError} (unknown class, no route).
   */
  destination(name: string, options: Pick<SendOptions, 'priority' | 'messagePriority'> = {}): TaskDestination {
    const task = this.#wakameTask(name);
    const { priorityClass, messagePriority } = resolvePriority(this.topology, task, options);
    const target = resolveDestination(this.topology, task, priorityClass);
    if (!target) {
      throw new InvalidArgumentError(
        `task '${name}' has no route${priorityClass ? ` to priority class '${priorityClass}'` : ''} in the topology`,
      );
    }
    const out: { -readonly [K in keyof TaskDestination]: TaskDestination[K] } = { ...target };
    if (priorityClass !== undefined) out.priorityClass = priorityClass;
    if (messagePriority !== undefined) out.messagePriority = messagePriority;
    return out;
  }

  async #publish(
    name: string,
    payload: unknown,
    options: SendOptions,
    id: string,
    replyTo: string | undefined,
  ): Promise<void> {
    assertPayload(name, this.#wakameTask(name).payload, payload);
    const target = this.destination(name, options);
    const delay = delayOf(options);
    const publish = taskPublishOptions(name, id, options, target, delay, replyTo);
    if (delay > 0) await publishDelayed(this.producer, payload, publish, target, delay);
    else await this.producer.publish(payload, publish);
  }
}

function delayOf(options: SendOptions): number {
  const fromEta = options.eta ? options.eta.getTime() - Date.now() : 0;
  const delay = Math.max(options.delay ?? 0, fromEta);
  if (!Number.isFinite(delay) || delay < 0)
    throw new InvalidArgumentError(`delay must be a non-negative number of ms, got ${delay}`);
  return Math.round(delay);
}
