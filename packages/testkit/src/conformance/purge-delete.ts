import { Exchange, type Message, NotFoundError, PreconditionFailedError, Queue } from '@wakame/core';
import { describe, expect } from 'vitest';
import { waitFor } from '../wait-for.js';
import { expectRejection, FAILURE_BOUND_MS, type Harness } from './harness.js';

/** Purging and deleting queues and exchanges. */
export function purgeDeleteSuite(h: Harness): void {
  describe('purge and delete', () => {
    h.test('purges a queue, returning how many messages went', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const producer = conn.producer();
      for (let id = 0; id < 3; id++) await producer.publish({ id }, { routingKey: queue.name });
      expect(await queue.purge()).toBe(3);
      expect(await queue.messageCount()).toBe(0);
      expect(await queue.get()).toBeUndefined();
      expect(await queue.purge()).toBe(0);
      await producer.publish({ id: 9 }, { routingKey: queue.name });
      expect(await queue.messageCount()).toBe(1);
    });

    h.test('deletes a queue, returning how many messages went with it', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const producer = conn.producer();
      for (let id = 0; id < 2; id++) await producer.publish({ id }, { routingKey: queue.name });
      expect(await queue.delete()).toBe(2);
      await expectRejection(queue.declare({ passive: true }), NotFoundError, 'ERR_NOT_FOUND');
      // Recreated, it starts empty.
      await queue.declare();
      expect(await queue.messageCount()).toBe(0);
    });

    h.test('refuses to delete a non-empty queue with ifEmpty with PreconditionFailedError', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      await expectRejection(queue.delete({ ifEmpty: true }), PreconditionFailedError, 'ERR_PRECONDITION_FAILED');
      const after = await h.open();
      expect(await queue.attach(after).messageCount()).toBe(1);
      await queue.attach(after).purge();
      expect(await queue.attach(after).delete({ ifEmpty: true })).toBe(0);
    });

    h.test('ends a for-await loop with NotFoundError when its queue is deleted', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const consumer = conn.consumer({ queues: [queue] });
      const received: Message[] = [];
      const loop = (async () => {
        for await (const message of consumer) {
          received.push(message);
          await message.ack();
        }
      })();
      const outcome = loop.then(
        () => 'ended without error' as const,
        (error: unknown) => error,
      );
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      await waitFor(() => received.length === 1, { what: 'the first message', timeoutMs: FAILURE_BOUND_MS });
      const admin = await h.open();
      await queue.attach(admin).delete();
      const error = await outcome;
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).toMatchObject({ code: 'ERR_NOT_FOUND' });
      expect(consumer.isConsuming).toBe(false);
    });

    h.test('stops a handler consumer when its queue is deleted', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const collector = await h.collect(conn, queue);
      expect(collector.consumer.isConsuming).toBe(true);
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      await collector.waitForCount(1);
      const admin = await h.open();
      await queue.attach(admin).delete();
      await waitFor(() => !collector.consumer.isConsuming, {
        what: 'the consumer to stop',
        timeoutMs: FAILURE_BOUND_MS,
      });
      // The deleted queue stays deleted: the consumer did not silently redeclare it.
      await expectRejection(queue.declare({ passive: true }), NotFoundError, 'ERR_NOT_FOUND');
    });

    h.test('removes the bindings of a deleted exchange', async () => {
      const conn = await h.open();
      const exchange = await h.exchange(conn, { type: 'direct' });
      const queue = await h.queue(conn, { exchange, routingKey: 'k' });
      await exchange.delete();
      await expectRejection(
        conn.producer().publish({ id: 1 }, { exchange: exchange.name, routingKey: 'k' }),
        NotFoundError,
        'ERR_NOT_FOUND',
      );
      await expectRejection(
        new Exchange(exchange.name).attach(conn).declare({ passive: true }),
        NotFoundError,
        'ERR_NOT_FOUND',
      );
      // Recreated, the exchange has no bindings: the queue's old binding is gone.
      await new Exchange(exchange.name, { type: 'direct' }).attach(conn).declare();
      await conn.producer().publish({ id: 2 }, { exchange: exchange.name, routingKey: 'k' });
      expect(await new Queue(queue.name).attach(conn).messageCount()).toBe(0);
    });
  });
}
