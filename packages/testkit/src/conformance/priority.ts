import { InvalidArgumentError, type Queue } from '@wakame/core';
import { describe, expect } from 'vitest';
import { expectRejection, type Harness } from './harness.js';

/** Publishes `[id, priority]` pairs to `queue` in order, then consumes them one at a time; returns ids in delivery order. */
async function consumeInPriorityOrder(
  h: Harness,
  queue: Queue,
  items: readonly (readonly [string, number])[],
): Promise<string[]> {
  const conn = await h.open();
  const producer = conn.producer();
  for (const [id, priority] of items) await producer.publish({ id }, { routingKey: queue.name, priority });
  // Everything is queued before anyone consumes, so the broker orders the whole backlog.
  await h.waitForMessageCount(queue, items.length);
  const collector = await h.collect(conn, queue, { prefetch: 1 });
  await collector.waitForCount(items.length);
  return collector.messages.map((m) => (m.payload as { id: string }).id);
}

/** Priority queues: ordering, clamping to the queue's maximum, and refused priorities. */
export function prioritySuite(h: Harness): void {
  describe('priority', () => {
    h.test(
      'delivers the highest priority first, FIFO within a priority',
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn, { maxPriority: 10 });
        const order = await consumeInPriorityOrder(h, queue, [
          ['low-1', 1],
          ['high-1', 9],
          ['low-2', 1],
          ['mid-1', 5],
          ['high-2', 9],
          ['none-1', 0],
          ['low-3', 1],
          ['mid-2', 5],
        ]);
        expect(order).toEqual(['high-1', 'high-2', 'mid-1', 'mid-2', 'low-1', 'low-2', 'low-3', 'none-1']);
      },
      { needs: (c) => c.priority },
    );

    h.test(
      "treats a priority above the queue's maximum as the maximum",
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn, { maxPriority: 10 });
        const order = await consumeInPriorityOrder(h, queue, [
          ['max-1', 10],
          ['above', 200],
          ['max-2', 10],
          ['low', 2],
        ]);
        expect(order).toEqual(['max-1', 'above', 'max-2', 'low']);
      },
      { needs: (c) => c.priority },
    );

    h.test('refuses priorities 256, -1 and 1.5 at publish with InvalidArgumentError', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      for (const priority of [256, -1, 1.5, Number.NaN]) {
        await expectRejection(
          conn.producer().publish({ priority }, { routingKey: queue.name, priority }),
          InvalidArgumentError,
          'ERR_INVALID_ARGUMENT',
        );
      }
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name, priority: 255 });
      expect((await h.drain(queue)).map((m) => m.payload)).toEqual([{ id: 1 }]);
    });
  });
}
