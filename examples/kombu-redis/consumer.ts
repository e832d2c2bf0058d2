/**
 * A Wakame consumer of the queue a Python kombu service feeds through Redis.
 *
 * Usage: pnpm exec tsx --conditions=@wakame/source examples/kombu-redis/consumer.ts [redis-url] [count]
 */
import { Connection, Exchange, Queue } from '@wakame/core';

const url = process.argv[2] ?? 'redis://127.0.0.1:6379/0';
const count = Number(process.argv[3] ?? 5);

// The same declarations as the Python side; kombu persisted the binding, Wakame adds the exchange type.
const orders = new Exchange('orders', { type: 'topic' });
const audit = new Queue('orders.audit', { exchange: orders, routingKey: 'order.#', maxPriority: 9 });

const connection = await Connection.open(url);
try {
  await connection.declare(orders, audit);
  let received = 0;
  const done = new Promise<void>((resolve) => {
    void connection
      .consumer({
        queues: [audit],
        prefetch: 10,
        handler: async (message) => {
          const { order, total, note } = message.payload as { order: number; total: number; note: string };
          process.stdout.write(
            `order ${order}: ${total} (${note}) priority=${message.properties.priority ?? 'none'} ` +
              `from ${String(message.headers.source)} via ${message.deliveryInfo.routingKey}\n`,
          );
          await message.ack();
          if (++received === count) resolve();
        },
      })
      .consume();
  });
  await done;
} finally {
  await connection.close();
}
