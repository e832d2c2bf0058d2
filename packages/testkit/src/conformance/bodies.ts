import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import { type Harness, must } from './harness.js';

/** Bodies arrive byte for byte: binary, unicode, large. */
export function bodiesSuite(h: Harness): void {
  describe('bodies', () => {
    h.test('round-trips a binary body holding all 256 byte values', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const body = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 256));
      expect(new Set(body).size).toBe(256);
      await conn.producer().publish(body, { routingKey: queue.name });
      const collector = await h.collect(conn, queue, { accept: ['raw'] });
      const [message] = await collector.waitForCount(1);
      expect(must(message).contentType).toBe('application/data');
      expect(Buffer.compare(must(message).body, body)).toBe(0);
      expect(Buffer.compare(must(message).payload as Buffer, body)).toBe(0);
    });

    h.test('round-trips unicode JSON', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const body = { text: 'héllo ✓ 日本語 🍣', key: 'ключ', nul: '\u0000', surrogate: '𝄞' };
      await conn.producer().publish(body, { routingKey: queue.name });
      const collector = await h.collect(conn, queue);
      const [message] = await collector.waitForCount(1);
      expect(must(message).payload).toEqual(body);
      expect(must(message).body.equals(Buffer.from(JSON.stringify(body), 'utf8'))).toBe(true);
    });

    h.test('round-trips a 1 MiB body byte-exactly', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const body = randomBytes(1024 * 1024);
      await conn.producer().publish(body, { routingKey: queue.name });
      const collector = await h.collect(conn, queue, { accept: ['raw'] });
      const [message] = await collector.waitForCount(1, 10_000);
      expect(must(message).body.length).toBe(body.length);
      expect(must(message).body.equals(body)).toBe(true);
    });

    h.test('round-trips an empty body', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      await conn.producer().publish(Buffer.alloc(0), { routingKey: queue.name });
      await conn.producer().publish('', { routingKey: queue.name });
      const collector = await h.collect(conn, queue, { accept: ['raw', 'text'] });
      const [raw, text] = await collector.waitForCount(2);
      expect(must(raw).body.length).toBe(0);
      expect(must(text).payload).toBe('');
    });
  });
}
