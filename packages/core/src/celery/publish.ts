/**
 * Publishing an encoded Celery task to a queue: declared first (once per publisher) the way Celery
 * declares it, then sent through the default exchange straight to the queue, which routes the same
 * on RabbitMQ and in kombu's Redis layout.
 *
 * @module
 */
import type { Connection } from '../messaging/connection.js';
import type { Queue } from '../model/queue.js';
import type { EncodedCeleryTask } from './protocol.js';

/** Sends encoded tasks; remembers which queues it declared. */
export class CeleryPublisher {
  readonly #connection: Connection;
  readonly #serializer: string;
  readonly #declared = new Set<string>();

  constructor(connection: Connection, serializer = 'json') {
    this.#connection = connection;
    this.#serializer = serializer;
  }

  async publish(queue: Queue, task: EncodedCeleryTask, priority?: number): Promise<void> {
    if (!this.#declared.has(queue.name)) {
      await this.#connection.declare(queue);
      this.#declared.add(queue.name);
    }
    await this.#connection.producer().publish(task.body, {
      exchange: '',
      routingKey: queue.name,
      serializer: this.#serializer,
      headers: task.headers,
      correlationId: task.correlationId,
      ...(task.replyTo === '' ? {} : { replyTo: task.replyTo }),
      persistent: true,
      ...(priority !== undefined ? { priority } : {}),
    });
  }
}
