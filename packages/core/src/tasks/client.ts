/**
 * Sending tasks: `send(name, payload, options)` validates the payload against the task's schema,
 * routes it through the topology (its route, or the queue of a priority class), and publishes it;
 * `call()` does the same and waits for the worker's reply.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, UnknownTaskError } from '../errors.js';
import type { Connection } from '../messaging/connection.js';
import { MAX_PRIORITY } from '../model/queue-arguments.js';
import type { CompiledTask, DesiredTopology } from '../topology/desired.js';
import type { TopologyDocument } from '../topology/document.js';
import { compileDocument } from '../topology/pipeline.js';
import type { MessageProperties } from '../transport/spi.js';
import { publishDelayed } from './delay.js';
import { assertPayload } from './payload-validator.js';
import { resolveDestination, TASK_HEADERS } from './protocol.js';
import { ReplyListener } from './replies.js';
import type { SendOptions, TaskName, TaskPayloads } from './types.js';

/** Options of {@link TaskClient.call}. */
export interface CallOptions extends SendOptions {
  /** How long to wait for the reply (ms). @defaultValue 30_000 */
  readonly timeout?: number;
}

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/**
 * Sends the tasks of one topology. With a `defineTopology(...)` value, task names and payloads are
 * checked at compile time.
 *
 * @example
 * const client = new TaskClient(connection, topology);
 * await client.send('report.generate', { reportId: 'r-1' }, { priority: 'low' });
 * const sum = await client.call('math.add', { a: 1, b: 2 }, { timeout: 5_000 });
 */
export class TaskClient<T extends TopologyDocument = TopologyDocument> {
  readonly connection: Connection;
  readonly topology: DesiredTopology;
  readonly #tasks: ReadonlyMap<string, CompiledTask>;
  #replies: ReplyListener | undefined;

  /** `topology`: a document (checked and compiled here) or an already compiled topology. */
  constructor(connection: Connection, topology: T | { readonly compiled: DesiredTopology }) {
    this.connection = connection;
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
   * Publishes a task; resolves with its id once the broker has it.
   * @throws {@link UnknownTaskError}, {@link InvalidPayloadError}, {@link InvalidArgumentError} before sending anything.
   */
  async send<N extends TaskName<T>>(
    name: N,
    payload: TaskPayloads<T>[N],
    options: SendOptions = {},
  ): Promise<{ id: string }> {
    const id = options.id ?? randomUUID();
    await this.#publish(name, payload, options, id, {});
    return { id };
  }

  /**
   * Sends a task and waits for the handler's result.
   * @throws {@link TimeoutError} when no reply comes in time (a late reply is dropped);
   *   {@link TaskFailedError} when the task failed on the worker after its retries.
   */
  async call<N extends TaskName<T>>(name: N, payload: TaskPayloads<T>[N], options: CallOptions = {}): Promise<unknown> {
    const id = options.id ?? randomUUID();
    this.#replies ??= new ReplyListener(this.connection);
    const replyTo = await this.#replies.address();
    const reply = this.#replies.expect(id, name, options.timeout ?? DEFAULT_CALL_TIMEOUT_MS, options.signal);
    try {
      await this.#publish(name, payload, options, id, { replyTo, correlationId: id });
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

  async #publish(
    name: string,
    payload: unknown,
    options: SendOptions,
    id: string,
    extra: Partial<MessageProperties>,
  ): Promise<void> {
    const task = this.task(name);
    assertPayload(name, task.payload, payload);
    const priority = options.priority ?? task.priorityClass ?? task.priority;
    const priorityClass = typeof priority === 'string' ? priority : undefined;
    if (priorityClass !== undefined && this.topology.priorityClasses[priorityClass] === undefined) {
      throw new InvalidArgumentError(
        `unknown priority class '${priorityClass}' for task '${name}'; the topology defines ${Object.keys(this.topology.priorityClasses).join(', ') || 'none'}`,
      );
    }
    if (typeof priority === 'number' && (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY)) {
      throw new InvalidArgumentError(
        `priority must be a class name or an integer from 0 to ${MAX_PRIORITY}, got ${priority}`,
      );
    }
    const destination = resolveDestination(this.topology, task, priorityClass);
    if (!destination) {
      throw new InvalidArgumentError(
        `task '${name}' has no route${priorityClass ? ` to priority class '${priorityClass}'` : ''} in the topology`,
      );
    }
    const delay = delayOf(options);
    const headers: Record<string, unknown> = {
      ...options.headers,
      [TASK_HEADERS.task]: name,
      [TASK_HEADERS.id]: id,
      [TASK_HEADERS.attempt]: 1,
      [TASK_HEADERS.firstSentAt]: new Date().toISOString(),
    };
    if (options.expires !== undefined) headers[TASK_HEADERS.expiresAt] = Date.now() + delay + options.expires;
    const properties: MessageProperties = {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      headers,
      messageId: id,
      type: name,
      ...extra,
    };
    if (typeof priority === 'number') properties.priority = priority;
    if (options.expires !== undefined && delay === 0) properties.expiration = String(options.expires);
    const body = this.connection.serializers.encode(payload, { serializer: 'json' }).body;
    if (delay > 0) {
      await publishDelayed(this.connection, body, properties, destination, delay);
      return;
    }
    const transport = this.connection.currentTransport ?? (await this.connection.ready(options.signal));
    await transport.publish(
      { body, properties },
      { ...destination, mandatory: true, ...(options.signal ? { signal: options.signal } : {}) },
    );
  }
}

function delayOf(options: SendOptions): number {
  const fromEta = options.eta ? options.eta.getTime() - Date.now() : 0;
  const delay = Math.max(options.delay ?? 0, fromEta);
  if (!Number.isFinite(delay) || delay < 0)
    throw new InvalidArgumentError(`delay must be a non-negative number of ms, got ${delay}`);
  return Math.round(delay);
}
