import { type Message, MessageStateError } from '@wakame/core';
import { describe, expect } from 'vitest';
import { waitFor } from '../wait-for.js';
import { expectRejection, FAILURE_BOUND_MS, type Harness, idOf, must } from './harness.js';

/** Settling: ack, reject, requeue, settling twice, order of requeued messages. */
export function settleSuite(h: Harness): void {
  describe('settle', () => {
    h.test('removes an acked message for good', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      const collector = await h.collect(conn, queue, { ack: false });
      const message = must((await collector.waitForCount(1))[0]);
      await message.ack();
      expect(message.state).toBe('acked');
      // Closing would return an unsettled message to the queue: nothing may come back.
      await conn.close();
      const after = await h.open();
      expect(await queue.attach(after).messageCount()).toBe(0);
      expect(await queue.attach(after).get()).toBeUndefined();
    });

    h.test('removes a rejected message for good', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      const collector = await h.collect(conn, queue, { ack: false });
      const message = must((await collector.waitForCount(1))[0]);
      await message.reject();
      expect(message.state).toBe('rejected');
      await conn.close();
      const after = await h.open();
      expect(await queue.attach(after).messageCount()).toBe(0);
    });

    h.test(
      'dead-letters a rejected message when the queue has a dead-letter exchange',
      async () => {
        const conn = await h.open();
        const { dlq, deadLetter } = await h.deadLetterQueue(conn);
        const queue = await h.queue(conn, { deadLetter });
        await conn.producer().publish({ id: 7 }, { routingKey: queue.name });
        await must(await queue.get(), 'the message').reject();
        const dead = await h.collect(conn, dlq);
        const [got] = await dead.waitForCount(1);
        expect(must(got).payload).toEqual({ id: 7 });
        expect(await queue.messageCount()).toBe(0);
      },
      { needs: (c) => c.deadLetter },
    );

    h.test('redelivers a requeued message with redelivered set', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      const first = must(await queue.get(), 'the first delivery');
      expect(first.redelivered).toBe(false);
      await first.requeue();
      expect(first.state).toBe('requeued');
      const second = must(await queue.get(), 'the second delivery');
      expect(second.payload).toEqual({ id: 1 });
      expect(second.redelivered).toBe(true);
      await second.reject({ requeue: true });
      const third = must(await queue.get(), 'the third delivery');
      expect(third.payload).toEqual({ id: 1 });
      expect(third.redelivered).toBe(true);
      await third.ack();
      expect(await queue.messageCount()).toBe(0);
    });

    h.test('redelivers a message requeued by a consumer to a consumer', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      const seen: Message[] = [];
      const consumer = conn.consumer({
        queues: [queue],
        handler: async (m) => {
          seen.push(m);
          await (seen.length === 1 ? m.requeue() : m.ack());
        },
      });
      await consumer.consume();
      await waitFor(() => seen.length >= 2 && seen[1]?.state === 'acked', {
        what: 'the redelivery',
        timeoutMs: FAILURE_BOUND_MS,
      });
      expect(seen.map((m) => [m.payload, m.redelivered])).toEqual([
        [{ id: 1 }, false],
        [{ id: 1 }, true],
      ]);
      expect(await queue.messageCount()).toBe(0);
    });

    h.test('refuses to settle a message twice with MessageStateError', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const producer = conn.producer();
      for (let id = 0; id < 3; id++) await producer.publish({ id }, { routingKey: queue.name });
      const acked = must(await queue.get(), 'message 0');
      await acked.ack();
      await expectRejection(acked.ack(), MessageStateError, 'ERR_MESSAGE_STATE');
      await expectRejection(acked.reject(), MessageStateError, 'ERR_MESSAGE_STATE');
      const rejected = must(await queue.get(), 'message 1');
      await rejected.reject();
      await expectRejection(rejected.requeue(), MessageStateError, 'ERR_MESSAGE_STATE');
      const requeued = must(await queue.get(), 'message 2');
      await requeued.requeue();
      await expectRejection(requeued.ack(), MessageStateError, 'ERR_MESSAGE_STATE');
      // The failed second settlement did not ack the requeued message. Settlements are one-way
      // frames on the delivering channel, so a count asked on another channel may lag: wait for it.
      await h.waitForMessageCount(queue, 1);
    });

    h.test('keeps the original order of requeued messages', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const producer = conn.producer();
      for (let id = 1; id <= 6; id++) await producer.publish({ id }, { routingKey: queue.name });
      const collector = await h.collect(conn, queue, { ack: false, prefetch: 4 });
      const held = await collector.waitForCount(4);
      expect(held.map(idOf)).toEqual([1, 2, 3, 4]);
      await collector.consumer.cancel();
      for (const message of [...held].reverse()) await message.requeue();
      const again = await h.collect(conn, queue, { prefetch: 1 });
      const all = await again.waitForCount(6);
      expect(all.map(idOf)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(all.map((m) => m.redelivered)).toEqual([true, true, true, true, false, false]);
    });
  });
}
