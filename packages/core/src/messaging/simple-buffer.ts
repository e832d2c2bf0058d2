/**
 * {@link SimpleBuffer}: kombu's `SimpleBuffer`, the throw-away variant of {@link SimpleQueue}. Same
 * API; its queue and exchange are transient and auto-deleted (gone with the broker's restart, or
 * once the last consumer leaves), and its messages are published transient. For scratch work and
 * tests where durability would only cost disk writes.
 *
 * @module
 */
import { Exchange } from '../model/exchange.js';
import { Queue } from '../model/queue.js';
import type { Connection } from './connection.js';
import { type SimplePutOptions, SimpleQueue, type SimpleQueueOptions } from './simple-queue.js';

/**
 * A {@link SimpleQueue} whose queue, exchange and messages are transient (kombu's `SimpleBuffer`).
 * Given a {@link Queue} declaration, it uses it as it is; given a name, it declares a non-durable,
 * auto-delete queue bound to a non-durable, auto-delete direct exchange of the same name.
 *
 * @example
 * const buffer = new SimpleBuffer(connection, 'scratch');
 * await buffer.put({ step: 1 });
 * const message = await buffer.get({ timeout: 1000 });
 * await message.ack();
 */
export class SimpleBuffer extends SimpleQueue {
  constructor(connection: Connection, name: string | Queue, options: SimpleQueueOptions = {}) {
    const queue =
      typeof name === 'string'
        ? new Queue(name, {
            exchange: new Exchange(name, { type: 'direct', durable: false, autoDelete: true }),
            routingKey: name,
            durable: false,
            autoDelete: true,
            ...options.queue,
          })
        : name;
    super(connection, queue, options);
  }

  /** Publishes `body` transient (delivery mode 1) unless `options.persistent` says otherwise. */
  override put(body: unknown, options: SimplePutOptions = {}): Promise<void> {
    return super.put(body, { persistent: false, ...options });
  }
}

/** Shorthand for `new SimpleBuffer(connection, name, options)`. */
export function simpleBuffer(connection: Connection, name: string | Queue, options?: SimpleQueueOptions): SimpleBuffer {
  return new SimpleBuffer(connection, name, options);
}
