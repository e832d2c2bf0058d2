/**
 * Celery's `rpc://` result backend over the broker connection: a worker sends each record as a
 * message to the task's `reply_to` queue through the default exchange, with the task id as
 * correlation id; a client owns one reply queue for all its tasks and matches records to tasks by id.
 * Records for tasks nobody waits for yet are kept, so `waitFor` after the fact still resolves.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Connection } from '../messaging/connection.js';
import type { Consumer } from '../messaging/consumer.js';
import type { Message } from '../messaging/message.js';
import { Queue } from '../model/queue.js';
import { CeleryResultTimeoutError } from './errors.js';
import {
  type CeleryResultBackend,
  type CeleryResultMeta,
  type CeleryResultTarget,
  type CeleryState,
  READY_STATES,
} from './results.js';

/** Options of {@link RpcResultBackend}. */
export interface RpcResultBackendOptions {
  /** Serializer of the records this side sends. @defaultValue `'json'` (Celery's `result_serializer`) */
  readonly serializer?: string;
  /** Name of this client's reply queue. @defaultValue `celery-reply.<uuid>` */
  readonly replyQueue?: string;
}

/** Records kept for `state()` and late `waitFor()` calls; the oldest go first beyond this. */
const MAX_KEPT_RECORDS = 10_000;

interface Waiter {
  readonly resolve: (meta: CeleryResultMeta) => void;
}

/** The `rpc://` backend: results as messages on the sender's reply queue. */
export class RpcResultBackend implements CeleryResultBackend {
  readonly url = 'rpc://';
  readonly #connection: Connection;
  readonly #serializer: string;
  readonly #queueName: string;
  readonly #latest = new Map<string, CeleryResultMeta>();
  readonly #waiters = new Map<string, Set<Waiter>>();
  #consumer: Consumer | undefined;
  #starting: Promise<string> | undefined;

  constructor(connection: Connection, options: RpcResultBackendOptions = {}) {
    this.#connection = connection;
    this.#serializer = options.serializer ?? 'json';
    this.#queueName = options.replyQueue ?? `celery-reply.${randomUUID()}`;
  }

  replyTo(): Promise<string> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<string> {
    // Like Celery's reply queue: one per client, gone when the client goes.
    const queue = new Queue(this.#queueName, { durable: false, autoDelete: true });
    this.#consumer = this.#connection.consumer({
      queues: [queue],
      accept: ['json', 'msgpack'],
      handler: (message) => this.#received(message),
    });
    await this.#consumer.consume();
    return this.#queueName;
  }

  async #received(message: Message): Promise<void> {
    await message.ack();
    const meta = message.payload as CeleryResultMeta;
    if (typeof meta !== 'object' || meta === null || typeof meta.task_id !== 'string') return;
    this.#latest.delete(meta.task_id); // re-inserted last: the map stays in arrival order
    this.#latest.set(meta.task_id, meta);
    if (this.#latest.size > MAX_KEPT_RECORDS) this.#latest.delete(this.#latest.keys().next().value as string);
    if (!READY_STATES.has(meta.status)) return;
    for (const waiter of this.#waiters.get(meta.task_id) ?? []) waiter.resolve(meta);
  }

  async store(target: CeleryResultTarget, meta: CeleryResultMeta): Promise<void> {
    // A sender that asked for no result (no reply queue) gets none, as with Celery.
    if (target.replyTo === '') return;
    await this.#connection.producer().publish(meta, {
      exchange: '',
      routingKey: target.replyTo,
      correlationId: target.correlationId,
      serializer: this.#serializer,
      persistent: false,
    });
  }

  waitFor(taskId: string, timeoutMs: number): Promise<CeleryResultMeta> {
    const known = this.#latest.get(taskId);
    if (known && READY_STATES.has(known.status)) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const waiters = this.#waiters.get(taskId) ?? new Set<Waiter>();
      this.#waiters.set(taskId, waiters);
      const forget = () => {
        waiters.delete(waiter);
        if (waiters.size === 0 && this.#waiters.get(taskId) === waiters) this.#waiters.delete(taskId);
      };
      const waiter: Waiter = {
        resolve: (meta) => {
          clearTimeout(timer);
          forget();
          resolve(meta);
        },
      };
      const timer = setTimeout(() => {
        forget();
        reject(new CeleryResultTimeoutError(`no result for Celery task ${taskId} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  }

  async state(taskId: string): Promise<CeleryState> {
    return this.#latest.get(taskId)?.status ?? 'PENDING';
  }

  async close(): Promise<void> {
    await this.#consumer?.close();
  }
}
