/**
 * Publishing an encoded Celery task: to a queue, declared first (once per publisher) the way Celery
 * declares it, then sent through the default exchange straight to it, which routes the same on
 * RabbitMQ and in kombu's Redis layout; or to an exchange and routing key a topology gives.
 *
 * @module
 */
import type { Connection } from '../messaging/connection.js';
import type { EncodedCeleryTask } from './protocol.js';
import type { CeleryTarget } from './routing.js';

/** Sends encoded tasks; remembers which queues it declared. */
export class CeleryPublisher {
  readonly #connection: Connection;
  readonly #serializer: string;
  readonly #declared = new Set<string>();

  constructor(connection: Connection, serializer = 'json') {
    this.#connection = connection;
    this.#serializer = serializer;
  }

  /**
   * Publishes to a queue (declared first, then reached through the default exchange) or to an exchange
   * with a routing key (declared elsewhere, e.g. by applying the topology).
   */
  async publish(target: CeleryTarget, task: EncodedCeleryTask, priority?: number): Promise<void> {
    if ('queue' in target && !this.#declared.has(target.queue.name)) {
      await this.#connection.declare(target.queue);
      this.#declared.add(target.queue.name);
    }
    await this.#connection.producer().publish(task.body, {
      exchange: 'queue' in target ? '' : target.exchange,
      routingKey: 'queue' in target ? target.queue.name : target.routingKey,
      serializer: this.#serializer,
      headers: task.headers,
      correlationId: task.correlationId,
      ...(task.replyTo === '' ? {} : { replyTo: task.replyTo }),
      persistent: true,
      ...(priority !== undefined ? { priority } : {}),
    });
  }
}
