import { type Message, PublishRejectedError } from '@wakame/core';
import { describe, expect } from 'vitest';
import { waitFor } from '../wait-for.js';
import { expectRejection, type Harness, idOf, must } from './harness.js';

/** Checks the dead-letter headers RabbitMQ writes, which kombu and the tooling read. */
function expectDeath(message: Message, queue: string, reason: 'expired' | 'rejected' | 'maxlen'): void {
  const deaths = message.headers['x-death'];
  expect(Array.isArray(deaths), 'x-death is an array').toBe(true);
  expect((deaths as unknown[])[0]).toMatchObject({ queue, reason, count: 1 });
  expect(message.headers['x-first-death-reason']).toBe(reason);
  expect(message.headers['x-first-death-queue']).toBe(queue);
}

/** Waits until the wall clock has moved `ms` past `since` (what a TTL measures), without a fixed sleep. */
async function clockPassed(since: number, ms: number): Promise<void> {
  await waitFor(() => Date.now() >= since + ms, { what: `${ms} ms to pass`, intervalMs: 2 });
}

const ttlAndDeadLetter = { needs: (c: { messageTtl: boolean; deadLetter: boolean }) => c.messageTtl && c.deadLetter };

/** Message TTL, queue TTL, max-length overflow and dead-lettering. */
export function ttlDeadLetterSuite(h: Harness): void {
  describe('ttl and dead-letter', () => {
    h.test(
      'dead-letters a message whose expiration passed, without any consumer on its queue',
      async () => {
        const conn = await h.open();
        const { dlq, deadLetter } = await h.deadLetterQueue(conn);
        const queue = await h.queue(conn, { deadLetter });
        await conn.producer().publish({ id: 1 }, { routingKey: queue.name, expiration: 1 });
        const dead = await h.collect(conn, dlq);
        const [message] = await dead.waitForCount(1);
        expect(idOf(must(message))).toBe(1);
        expectDeath(must(message), queue.name, 'expired');
        expect(await queue.get()).toBeUndefined();
      },
      ttlAndDeadLetter,
    );

    h.test(
      "dead-letters a message older than the queue's messageTtl, without any consumer on its queue",
      async () => {
        const conn = await h.open();
        const { dlq, deadLetter } = await h.deadLetterQueue(conn);
        const queue = await h.queue(conn, { deadLetter, messageTtl: 5 });
        await conn.producer().publish({ id: 2 }, { routingKey: queue.name });
        const dead = await h.collect(conn, dlq);
        const [message] = await dead.waitForCount(1);
        expect(idOf(must(message))).toBe(2);
        expectDeath(must(message), queue.name, 'expired');
        expect(await queue.messageCount()).toBe(0);
      },
      ttlAndDeadLetter,
    );

    h.test(
      'dead-letters an expired message after its publisher disconnected',
      async () => {
        const conn = await h.open();
        const { dlq, deadLetter } = await h.deadLetterQueue(conn);
        const queue = await h.queue(conn, { deadLetter });
        // Expiry is the broker's job: the publishing connection going away must not keep the message alive.
        const publisher = await h.open();
        await publisher.producer().publish({ id: 5 }, { routingKey: queue.name, expiration: 30 });
        await publisher.close();
        const dead = await h.collect(conn, dlq);
        const [message] = await dead.waitForCount(1);
        expect(idOf(must(message))).toBe(5);
        expectDeath(must(message), queue.name, 'expired');
      },
      ttlAndDeadLetter,
    );

    h.test(
      'never hands an expired message to a consumer',
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn);
        const producer = conn.producer();
        const start = Date.now();
        await producer.publish({ id: 1 }, { routingKey: queue.name, expiration: 1 });
        await producer.publish({ id: 2 }, { routingKey: queue.name, expiration: 60_000 });
        await clockPassed(start, 20);
        const collector = await h.collect(conn, queue);
        await collector.waitForCount(1);
        await producer.publish({ id: 3 }, { routingKey: queue.name });
        await collector.waitForCount(2);
        expect(collector.messages.map(idOf)).toEqual([2, 3]);
      },
      { needs: (c) => c.messageTtl },
    );

    h.test(
      'dead-letters an expired message as expired instead of delivering it to a consumer',
      async () => {
        const conn = await h.open();
        const { dlq, deadLetter } = await h.deadLetterQueue(conn);
        const queue = await h.queue(conn, { deadLetter });
        const start = Date.now();
        await conn.producer().publish({ id: 4 }, { routingKey: queue.name, expiration: 1 });
        await clockPassed(start, 20);
        const consumer = await h.collect(conn, queue);
        const dead = await h.collect(conn, dlq);
        const [message] = await dead.waitForCount(1);
        expect(idOf(must(message))).toBe(4);
        expectDeath(must(message), queue.name, 'expired');
        expect(must(message).properties.expiration).toBeUndefined();
        expect(must(message).headers['x-death']).toMatchObject([{ 'original-expiration': '1' }]);
        expect(consumer.messages).toEqual([]);
      },
      ttlAndDeadLetter,
    );

    h.test(
      'dead-letters a rejected message with an x-death record',
      async () => {
        const conn = await h.open();
        const { dlq, deadLetter } = await h.deadLetterQueue(conn);
        const queue = await h.queue(conn, { deadLetter });
        await conn.producer().publish({ id: 3 }, { routingKey: queue.name, headers: { keep: 'me' } });
        const collector = await h.collect(conn, queue, { ack: false });
        const [received] = await collector.waitForCount(1);
        await must(received).reject();
        const dead = await h.collect(conn, dlq);
        const [message] = await dead.waitForCount(1);
        expect(idOf(must(message))).toBe(3);
        expect(must(message).headers.keep).toBe('me');
        expectDeath(must(message), queue.name, 'rejected');
      },
      { needs: (c) => c.deadLetter },
    );

    h.test(
      'drops the head of a full queue by default and dead-letters it as maxlen',
      async () => {
        const conn = await h.open();
        const { dlq, deadLetter } = await h.deadLetterQueue(conn);
        const queue = await h.queue(conn, { deadLetter, maxLength: 2 });
        const producer = conn.producer();
        for (let id = 1; id <= 3; id++) await producer.publish({ id }, { routingKey: queue.name });
        const dead = await h.collect(conn, dlq);
        const [message] = await dead.waitForCount(1);
        expect(idOf(must(message))).toBe(1);
        expectDeath(must(message), queue.name, 'maxlen');
        expect((await h.drain(queue)).map(idOf)).toEqual([2, 3]);
        expect(dead.messages).toHaveLength(1);
      },
      { needs: (c) => c.maxLength && c.deadLetter },
    );

    h.test(
      'keeps the newest messages of a full queue without a dead-letter exchange',
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn, { maxLength: 3 });
        const producer = conn.producer();
        for (let id = 1; id <= 5; id++) await producer.publish({ id }, { routingKey: queue.name });
        expect((await h.drain(queue)).map(idOf)).toEqual([3, 4, 5]);
      },
      { needs: (c) => c.maxLength },
    );

    h.test(
      "refuses a publish to a full queue with overflow 'reject-publish' with PublishRejectedError",
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn, { maxLength: 1, overflow: 'reject-publish' });
        const producer = conn.producer();
        await producer.publish({ id: 1 }, { routingKey: queue.name });
        await expectRejection(
          producer.publish({ id: 2 }, { routingKey: queue.name }),
          PublishRejectedError,
          'ERR_PUBLISH_REJECTED',
        );
        expect((await h.drain(queue)).map(idOf)).toEqual([1]);
        await producer.publish({ id: 3 }, { routingKey: queue.name });
        expect((await h.drain(queue)).map(idOf)).toEqual([3]);
      },
      { needs: (c) => c.maxLength && c.confirms },
    );
  });
}
