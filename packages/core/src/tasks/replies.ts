/**
 * RPC replies for `TaskClient.call`. On RabbitMQ they come through direct reply-to (no queue to
 * declare or clean up); elsewhere through one exclusive, auto-deleting reply queue per client.
 * Replies are matched by correlation id; one that arrives after its caller gave up is dropped.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { ConnectionClosedError, TaskFailedError, TimeoutError } from '../errors.js';
import type { Connection } from '../messaging/connection.js';
import type { Consumer } from '../messaging/consumer.js';
import type { Message } from '../messaging/message.js';
import { Queue } from '../model/queue.js';

/** What a worker sends back to `call`. */
export type TaskReply =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: { readonly name: string; readonly message: string } };

/** The pseudo-queue RabbitMQ answers direct replies on. */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

interface Pending {
  readonly task: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class ReplyListener {
  readonly #pending = new Map<string, Pending>();
  #consumer: Consumer | undefined;
  #address: Promise<string> | undefined;

  constructor(private readonly connection: Connection) {}

  /** Where replies must be sent (starts listening on first use). */
  address(): Promise<string> {
    this.#address ??= this.#listen().catch((error: unknown) => {
      this.#address = undefined;
      throw error;
    });
    return this.#address;
  }

  /** Waits for the reply to `id`. */
  expect(id: string, task: string, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TimeoutError(`no reply to task '${task}' (id ${id}) within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { task, resolve, reject, timer });
      signal?.addEventListener(
        'abort',
        () => {
          if (this.forget(id))
            reject(signal.reason instanceof Error ? signal.reason : new TimeoutError('call aborted'));
        },
        { once: true },
      );
    });
  }

  /** Stops waiting for `id`; true when it was pending. */
  forget(id: string): boolean {
    const pending = this.#pending.get(id);
    if (!pending) return false;
    clearTimeout(pending.timer);
    this.#pending.delete(id);
    return true;
  }

  async close(): Promise<void> {
    for (const [id, pending] of this.#pending) {
      this.forget(id);
      pending.reject(new ConnectionClosedError(`the client closed while waiting for task '${pending.task}'`));
    }
    await this.#consumer?.close();
    this.#consumer = undefined;
  }

  async #listen(): Promise<string> {
    const transport = await this.connection.ready();
    const direct = transport.capabilities.directReplyTo === true;
    const queue = direct
      ? DIRECT_REPLY_TO
      : new Queue(`wakame.reply.${randomUUID()}`, { durable: false, exclusive: true });
    const consumer = this.connection.consumer({
      queues: [queue],
      noAck: true,
      handler: (message) => this.#receive(message),
      // A reply too large for `maxBodyBytes`, or not decodable: its caller fails now, not at its timeout.
      onDecodeError: (message, error) => this.#unreadable(message, error),
    });
    await consumer.consume();
    this.#consumer = consumer;
    return typeof queue === 'string' ? queue : queue.name;
  }

  #unreadable(message: Message, error: Error): void {
    const id = message.properties.correlationId;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (!pending || id === undefined) return;
    this.forget(id);
    pending.reject(
      new TaskFailedError(pending.task, { name: error.name, message: `the reply could not be read: ${error.message}` }),
    );
  }

  #receive(message: Message): void {
    const id = message.properties.correlationId;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (!pending || id === undefined) return; // late or foreign: nobody waits for it any more
    this.forget(id);
    const reply = message.payload as TaskReply;
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(new TaskFailedError(pending.task, reply.error));
  }
}
