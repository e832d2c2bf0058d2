import { ContentNotAcceptedError } from '@wakame/core';
import { describe, expect } from 'vitest';
import { expectThrow, type Harness, must } from './harness.js';

interface SerializerCase {
  readonly serializer: string;
  readonly contentType: string;
  readonly body: unknown;
}

const SERIALIZERS: readonly SerializerCase[] = [
  { serializer: 'json', contentType: 'application/json', body: { a: 1, list: [true, null, 'x'], nested: { s: 'é' } } },
  { serializer: 'text', contentType: 'text/plain', body: 'plain text ✓' },
  { serializer: 'raw', contentType: 'application/data', body: Buffer.from([0, 1, 2, 254, 255]) },
  { serializer: 'msgpack', contentType: 'application/x-msgpack', body: { a: 1, list: [true, null, 'x'], n: -2.5 } },
  { serializer: 'yaml', contentType: 'application/x-yaml', body: { a: 1, list: [true, null, 'x'], s: 'yes' } },
];

const COMPRESSIONS: readonly { readonly name: string; readonly header: string }[] = [
  { name: 'zlib', header: 'application/x-gzip' },
  { name: 'gzip', header: 'application/gzip' },
  { name: 'deflate', header: 'application/x-deflate' },
  { name: 'brotli', header: 'application/x-brotli' },
];

/** Serializers, compression and the accept whitelist, end to end through the broker. */
export function serializationSuite(h: Harness): void {
  describe('serialization', () => {
    for (const { serializer, contentType, body } of SERIALIZERS) {
      h.test(`round-trips a ${serializer} body`, async () => {
        const conn = await h.open();
        const queue = await h.queue(conn);
        await conn.producer().publish(body, { routingKey: queue.name, serializer });
        const collector = await h.collect(conn, queue, { accept: [serializer] });
        const [message] = await collector.waitForCount(1);
        expect(must(message).contentType).toBe(contentType);
        expect(must(message).payload).toEqual(body);
      });
    }

    for (const { name, header } of COMPRESSIONS) {
      h.test(`round-trips a ${name}-compressed body`, async () => {
        const conn = await h.open();
        const queue = await h.queue(conn);
        const body = { text: 'compress me '.repeat(200), n: 1 };
        await conn.producer().publish(body, { routingKey: queue.name, compression: name });
        const collector = await h.collect(conn, queue);
        const [message] = await collector.waitForCount(1);
        expect(must(message).headers.compression).toBe(header);
        expect(must(message).rawBody.length).toBeLessThan(JSON.stringify(body).length);
        expect(must(message).payload).toEqual(body);
      });
    }

    h.test(
      'rejects a message its consumer does not accept, so it is dead-lettered, never acked silently',
      async () => {
        const conn = await h.open();
        const { dlq, deadLetter } = await h.deadLetterQueue(conn);
        const queue = await h.queue(conn, { deadLetter });
        await conn.producer().publish('not json', { routingKey: queue.name });
        const seen: unknown[] = [];
        const consumer = conn.consumer({ queues: [queue], handler: (m) => void seen.push(m.payload) });
        await consumer.consume();
        const dead = await h.collect(conn, dlq, { accept: ['text'] });
        const [message] = await dead.waitForCount(1);
        expect(must(message).payload).toBe('not json');
        expect(must(message).headers['x-first-death-reason']).toBe('rejected');
        expect(seen).toEqual([]);
        expect(await queue.messageCount()).toBe(0);
      },
      { needs: (c) => c.deadLetter },
    );

    h.test('refuses to decode a message whose content type is not accepted', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      await conn.producer().publish('not json', { routingKey: queue.name });
      const message = must(await queue.get());
      expectThrow(() => message.payload, ContentNotAcceptedError, 'ERR_CONTENT_NOT_ACCEPTED');
      await message.ack();
    });
  });
}
