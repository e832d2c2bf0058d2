import { Connection, ConnectionClosedError, Queue, withConnection } from '@wakame/core';
import { describe, expect } from 'vitest';
import { expectRejection, type Harness } from './harness.js';

/** Opening and closing connections, and what a closed connection refuses. */
export function connectionSuite(h: Harness): void {
  describe('connection', () => {
    h.test('opens on the URL and closes idempotently', async () => {
      const conn = await Connection.open(h.url, h.options.connectionOptions);
      try {
        expect(conn.isConnected).toBe(true);
        expect(conn.capabilities.exchangeTypes.size).toBeGreaterThan(0);
        const queue = await h.queue(conn);
        expect(await queue.messageCount()).toBe(0);
      } finally {
        await conn.close();
      }
      expect(conn.isClosed).toBe(true);
      expect(conn.isConnected).toBe(false);
      await conn.close();
      expect(conn.isClosed).toBe(true);
    });

    h.test('refuses every operation after close with ConnectionClosedError', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      await conn.close();
      const code = 'ERR_CONNECTION_CLOSED';
      await expectRejection(
        conn.producer().publish({ id: 1 }, { routingKey: queue.name }),
        ConnectionClosedError,
        code,
      );
      await expectRejection(queue.declare(), ConnectionClosedError, code);
      await expectRejection(new Queue(h.name('q')).attach(conn).declare(), ConnectionClosedError, code);
      await expectRejection(queue.messageCount(), ConnectionClosedError, code);
      await expectRejection(queue.get(), ConnectionClosedError, code);
      await expectRejection(queue.purge(), ConnectionClosedError, code);
      await expectRejection(conn.consumer({ queues: [queue] }).consume(), ConnectionClosedError, code);
      await expectRejection(conn.connect(), ConnectionClosedError, code);
      // The queue itself is untouched: another connection still sees it.
      const other = await h.open();
      expect(await queue.attach(other).messageCount()).toBe(0);
    });

    h.test('closes the connection of withConnection after the callback', async () => {
      let seen: Connection | undefined;
      const result = await withConnection(
        h.url,
        async (conn) => {
          seen = conn;
          expect(conn.isConnected).toBe(true);
          return 42;
        },
        h.options.connectionOptions,
      );
      expect(result).toBe(42);
      expect(seen?.isClosed).toBe(true);
    });

    h.test('closes the connection of withConnection when the callback throws', async () => {
      let seen: Connection | undefined;
      const failure = new Error('callback failed');
      const outcome = withConnection(
        h.url,
        async (conn) => {
          seen = conn;
          throw failure;
        },
        h.options.connectionOptions,
      );
      await expect(outcome).rejects.toBe(failure);
      expect(seen?.isClosed).toBe(true);
    });
  });
}
