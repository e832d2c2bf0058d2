import { ContentNotAcceptedError, DecodeError, InvalidOperationError, type Message } from '@wakame/core';
import { describe, expect } from 'vitest';
import { waitFor } from '../wait-for.js';
import { expectRejection, expectThrow, FAILURE_BOUND_MS, type Harness, idOf, must } from './harness.js';

/** The consumer API over a real transport: iteration, handlers, errors, cancel. */
export function consumerApiSuite(h: Harness): void {
  describe('consumer api', () => {
    h.test('iterates with for await, and break returns the unprocessed messages to the queue', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const producer = conn.producer();
      for (let id = 1; id <= 5; id++) await producer.publish({ id }, { routingKey: queue.name });
      const consumer = conn.consumer({ queues: [queue], prefetch: 5 });
      const seen: number[] = [];
      for await (const message of consumer) {
        seen.push(idOf(message));
        await message.ack();
        if (seen.length === 2) break;
      }
      expect(seen).toEqual([1, 2]);
      expect(consumer.isConsuming).toBe(false);
      await h.waitForMessageCount(queue, 3);
      expect((await h.drain(queue)).map(idOf)).toEqual([3, 4, 5]);
    });

    h.test('refuses to iterate a consumer that has a handler with InvalidOperationError', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const consumer = conn.consumer({ queues: [queue], handler: () => undefined });
      expectThrow(() => consumer[Symbol.asyncIterator](), InvalidOperationError, 'ERR_INVALID_OPERATION');
    });

    h.test('refuses to iterate a consumer twice with InvalidOperationError', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const consumer = conn.consumer({ queues: [queue] });
      const first = consumer[Symbol.asyncIterator]();
      expectThrow(() => consumer[Symbol.asyncIterator](), InvalidOperationError, 'ERR_INVALID_OPERATION');
      await first.return?.();
    });

    h.test('calls onDecodeError for bodies that cannot be decoded or are not accepted, never the handler', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const producer = conn.producer();
      await producer.publish('{not json', { routingKey: queue.name, contentType: 'application/json' });
      await producer.publish('plain', { routingKey: queue.name });
      const failures: { message: Message; error: Error }[] = [];
      const handled: Message[] = [];
      const consumer = conn.consumer({
        queues: [queue],
        handler: (m) => void handled.push(m),
        onDecodeError: async (message, error) => {
          failures.push({ message, error });
          await message.ack();
        },
      });
      await consumer.consume();
      await waitFor(() => failures.length === 2, { what: 'two decode failures', timeoutMs: FAILURE_BOUND_MS });
      const [bad, unaccepted] = failures;
      expect(must(bad).error).toBeInstanceOf(DecodeError);
      expect(must(bad).error).toMatchObject({ code: 'ERR_DECODE' });
      expect(must(unaccepted).error).toBeInstanceOf(ContentNotAcceptedError);
      expect(must(unaccepted).error).toMatchObject({ code: 'ERR_CONTENT_NOT_ACCEPTED' });
      expect(must(unaccepted).message.body.toString()).toBe('plain');
      expect(handled).toEqual([]);
      await h.waitForMessageCount(queue, 0);
    });

    h.test('requeues a message whose handler throws, then rejects it when it fails again', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      const calls: boolean[] = [];
      const consumer = conn.consumer({
        queues: [queue],
        handler: (m) => {
          calls.push(m.redelivered);
          throw new Error('handler failure');
        },
      });
      await consumer.consume();
      await waitFor(() => calls.length === 2, { what: 'the redelivery', timeoutMs: FAILURE_BOUND_MS });
      await consumer.idle();
      // Closing hands back anything unsettled: a message requeued a second time would show up here.
      await consumer.close();
      expect(calls).toEqual([false, true]);
      expect(await queue.messageCount()).toBe(0);
    });

    h.test(
      'dead-letters a message whose handler keeps throwing',
      async () => {
        const conn = await h.open();
        const { dlq, deadLetter } = await h.deadLetterQueue(conn);
        const queue = await h.queue(conn, { deadLetter });
        await conn.producer().publish({ id: 9 }, { routingKey: queue.name });
        let calls = 0;
        const consumer = conn.consumer({
          queues: [queue],
          handler: () => {
            calls++;
            throw new Error('poison');
          },
        });
        await consumer.consume();
        const dead = await h.collect(conn, dlq);
        const [message] = await dead.waitForCount(1);
        expect(idOf(must(message))).toBe(9);
        expect(must(message).headers['x-first-death-reason']).toBe('rejected');
        expect(calls).toBe(2);
      },
      { needs: (c) => c.deadLetter },
    );

    h.test(
      'declares and consumes through its own connection, whatever connection a Queue was attached to',
      async () => {
        const first = await h.open();
        const queue = await h.queue(first);
        await first.close();
        const conn = await h.open();
        await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
        // `queue` is still attached to the closed connection: the consumer must use its own.
        const collector = await h.collect(conn, queue);
        const [message] = await collector.waitForCount(1);
        expect(idOf(must(message))).toBe(1);
        await conn.declare(queue);
      },
    );

    h.test('stops deliveries on cancel()', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const collector = await h.collect(conn, queue);
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      await collector.waitForCount(1);
      await collector.consumer.cancel();
      expect(collector.consumer.isConsuming).toBe(false);
      await conn.producer().publish({ id: 2 }, { routingKey: queue.name });
      await h.waitForMessageCount(queue, 1);
      expect(collector.messages.map(idOf)).toEqual([1]);
      await expectRejection(collector.consumer.consume(), InvalidOperationError, 'ERR_INVALID_OPERATION');
    });
  });
}
