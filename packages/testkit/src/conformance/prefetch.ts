import { describe, expect } from 'vitest';
import { type Harness, idOf, must } from './harness.js';

/** Prefetch (QoS): the number of unsettled deliveries a consumer holds at once. */
export function prefetchSuite(h: Harness): void {
  describe('prefetch', () => {
    h.test('delivers exactly prefetch messages to a consumer that settles nothing, and one more per ack', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const producer = conn.producer();
      for (let id = 1; id <= 10; id++) await producer.publish({ id }, { routingKey: queue.name });
      const holder = await h.collect(conn, queue, { prefetch: 3, ack: false });
      await holder.waitForCount(3);
      for (let id = 11; id <= 15; id++) await producer.publish({ id }, { routingKey: queue.name });
      // Every publish has resolved, so the broker has them all: 3 held, the other 12 still ready.
      await h.waitForMessageCount(queue, 12);
      expect(holder.messages.map(idOf)).toEqual([1, 2, 3]);

      // A second consumer proves the rest were available all along.
      const otherConn = await h.open();
      const other = await h.collect(otherConn, queue.attach(otherConn), { prefetch: 1, ack: false });
      const [taken] = await other.waitForCount(1);
      expect(idOf(must(taken))).toBe(4);
      await h.waitForMessageCount(queue, 11);
      expect(holder.messages).toHaveLength(3);

      await must(holder.messages[0]).ack();
      await holder.waitForCount(4);
      expect(idOf(must(holder.messages[3]))).toBe(5);
      await h.waitForMessageCount(queue, 10);
      expect(holder.messages).toHaveLength(4);
      expect(other.messages).toHaveLength(1);
      expect(holder.consumer.unsettled).toBe(3);
    });

    h.test('keeps the flow going with prefetch 1 when each message is acked', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const producer = conn.producer();
      for (let id = 1; id <= 20; id++) await producer.publish({ id }, { routingKey: queue.name });
      const collector = await h.collect(conn, queue, { prefetch: 1 });
      const all = await collector.waitForCount(20);
      expect(all.map(idOf)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      await h.waitForMessageCount(queue, 0);
    });
  });
}
