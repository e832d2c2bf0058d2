import { Queue } from '@wakame/core';
import { describe, expect } from 'vitest';
import { type Harness, must } from './harness.js';

/** Message properties and delivery information, as a consumer sees them. */
export function propertiesSuite(h: Harness): void {
  describe('properties', () => {
    h.test('round-trips every basic property', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn, h.caps.priority ? { maxPriority: 10 } : {});
      const replyQueue = new Queue(h.name('reply'));
      const timestamp = new Date('2024-05-06T07:08:09.750Z');
      await conn.producer().publish(
        { hello: 'world' },
        {
          routingKey: queue.name,
          priority: 7,
          expiration: 60_000,
          persistent: true,
          replyTo: 'reply-here',
          correlationId: 'corr-1',
          messageId: 'msg-1',
          timestamp,
          type: 'greeting',
          appId: 'conformance',
        },
      );
      await conn.producer().publish({ n: 2 }, { routingKey: queue.name, persistent: false, replyTo: replyQueue });
      const collector = await h.collect(conn, queue);
      const [first, second] = await collector.waitForCount(2);
      expect(must(first).properties).toMatchObject({
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        deliveryMode: 2,
        expiration: '60000',
        replyTo: 'reply-here',
        correlationId: 'corr-1',
        messageId: 'msg-1',
        timestamp: Math.floor(timestamp.getTime() / 1000),
        type: 'greeting',
        appId: 'conformance',
      });
      if (h.caps.priority) expect(must(first).properties.priority).toBe(7);
      expect(must(first).payload).toEqual({ hello: 'world' });
      expect(must(second).properties.deliveryMode).toBe(1);
      expect(must(second).properties.replyTo).toBe(replyQueue.name);
      expect(must(second).payload).toEqual({ n: 2 });
    });

    h.test('round-trips headers of every JSON type', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const headers = {
        text: 'héllo',
        int: 42,
        negative: -7,
        float: 1.5,
        yes: true,
        no: false,
        nested: { a: 1, b: { c: 'd' } },
        list: [1, 'two', false],
        nothing: null,
      };
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name, headers });
      const message = must((await h.drain(queue))[0]);
      expect(message.headers).toMatchObject(headers);
    });

    h.test('reports exchange, routing key, queue, consumer tag and delivery tag', async () => {
      const conn = await h.open();
      const exchange = await h.exchange(conn, { type: h.caps.exchangeTypes.has('topic') ? 'topic' : 'direct' });
      const key = 'orders.created';
      const queue = await h.queue(conn, { exchange, routingKey: key });
      const a = await h.collect(conn, queue, { prefetch: 1, ack: false });
      const b = await h.collect(conn, queue, { prefetch: 1, ack: false });
      await conn.producer().publish({ id: 1 }, { exchange: exchange.name, routingKey: key });
      await conn.producer().publish({ id: 2 }, { exchange: exchange.name, routingKey: key });
      await a.waitForCount(1);
      await b.waitForCount(1);
      const [ma, mb] = [must(a.messages[0]), must(b.messages[0])];
      for (const m of [ma, mb]) {
        expect(m.deliveryInfo).toMatchObject({
          exchange: exchange.name,
          routingKey: key,
          queue: queue.name,
          redelivered: false,
        });
        expect(m.consumerTag).not.toBe('');
        expect(m.deliveryTag).toBeDefined();
      }
      expect(ma.consumerTag).toBe(a.consumer.consumerTags[0]);
      expect(mb.consumerTag).toBe(b.consumer.consumerTags[0]);
      expect(ma.consumerTag).not.toBe(mb.consumerTag);
      await ma.ack();
      await mb.ack();
    });

    h.test('gives successive deliveries on one connection distinct delivery tags', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      for (let id = 0; id < 5; id++) await conn.producer().publish({ id }, { routingKey: queue.name });
      const collector = await h.collect(conn, queue, { ack: false });
      const messages = await collector.waitForCount(5);
      expect(new Set(messages.map((m) => m.deliveryTag)).size).toBe(5);
      for (const m of messages) await m.ack();
    });
  });
}
