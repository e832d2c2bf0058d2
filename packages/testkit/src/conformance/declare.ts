import { Exchange, NotBoundError, NotFoundError, Queue, TopologyConflictError } from '@wakame/core';
import { describe, expect } from 'vitest';
import { expectRejection, type Harness } from './harness.js';

/** Declarations: idempotence, conflicts, passive checks, unattached entities, server-named queues. */
export function declareSuite(h: Harness): void {
  describe('declare', () => {
    h.test('redeclares an identical exchange without error', async () => {
      const conn = await h.open();
      const exchange = await h.exchange(conn, { type: 'topic' });
      await exchange.declare();
      await new Exchange(exchange.name, { type: 'topic' }).attach(conn).declare();
      await new Exchange(exchange.name).attach(conn).declare({ passive: true });
    });

    h.test('redeclares an identical queue without error and keeps its messages', async () => {
      const conn = await h.open();
      const options = {
        ...(h.caps.messageTtl ? { messageTtl: 60_000 } : {}),
        ...(h.caps.priority ? { maxPriority: 5 } : {}),
      };
      const queue = await h.queue(conn, options);
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      const again = await new Queue(queue.name, { ...options }).attach(conn).declare();
      expect(again).toMatchObject({ name: queue.name, messageCount: 1 });
    });

    h.test('redeclares through the connection declare cache, twice, across connections', async () => {
      const conn = await h.open();
      const other = await h.open();
      const exchange = new Exchange(h.name('x'), { type: 'direct' });
      const queue = new Queue(h.name('q'), { exchange, routingKey: 'k' });
      h.trackExchange(exchange.name);
      h.trackQueue(queue.name);
      await conn.declare(exchange, queue);
      await conn.declare(exchange, queue);
      await other.declare(exchange, queue);
      await conn.producer().publish({ id: 1 }, { exchange: exchange.name, routingKey: 'k' });
      expect(await queue.attach(other).messageCount()).toBe(1);
    });

    h.test('refuses an exchange redeclared with another type, naming it', async () => {
      const conn = await h.open();
      const exchange = await h.exchange(conn, { type: 'direct' });
      const error = await expectRejection(
        new Exchange(exchange.name, { type: 'fanout' }).attach(conn).declare(),
        TopologyConflictError,
        'ERR_TOPOLOGY_CONFLICT',
      );
      expect(error).toMatchObject({ entity: { kind: 'exchange', name: exchange.name } });
      expect(error.message).toContain(exchange.name);
    });

    h.test('refuses a conflicting exchange through the connection declare cache', async () => {
      const conn = await h.open();
      const name = h.name('x');
      h.trackExchange(name);
      await conn.declare(new Exchange(name, { type: 'topic' }));
      await expectRejection(
        conn.declare(new Exchange(name, { type: 'headers' })),
        TopologyConflictError,
        'ERR_TOPOLOGY_CONFLICT',
      );
    });

    h.test(
      'refuses a queue redeclared with another maxPriority, naming it',
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn, { maxPriority: 5 });
        const error = await expectRejection(
          new Queue(queue.name, { maxPriority: 10 }).attach(conn).declare(),
          TopologyConflictError,
          'ERR_TOPOLOGY_CONFLICT',
        );
        expect(error).toMatchObject({ entity: { kind: 'queue', name: queue.name } });
        expect(error.message).toContain(queue.name);
      },
      { needs: (c) => c.priority },
    );

    h.test('refuses a queue redeclared with other durability', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn, { durable: true });
      const error = await expectRejection(
        new Queue(queue.name, { durable: false }).attach(conn).declare(),
        TopologyConflictError,
        'ERR_TOPOLOGY_CONFLICT',
      );
      expect(error).toMatchObject({ entity: { kind: 'queue', name: queue.name } });
    });

    h.test('fails a passive declare of a missing queue with NotFoundError', async () => {
      const conn = await h.open();
      const name = h.name('q');
      const error = await expectRejection(
        new Queue(name).attach(conn).declare({ passive: true }),
        NotFoundError,
        'ERR_NOT_FOUND',
      );
      expect(error).toMatchObject({ entity: { kind: 'queue', name } });
    });

    h.test('fails a passive declare of a missing exchange with NotFoundError', async () => {
      const conn = await h.open();
      const name = h.name('x');
      const error = await expectRejection(
        new Exchange(name).attach(conn).declare({ passive: true }),
        NotFoundError,
        'ERR_NOT_FOUND',
      );
      expect(error).toMatchObject({ entity: { kind: 'exchange', name } });
    });

    h.test('refuses to declare an unattached exchange or queue with NotBoundError', async () => {
      await expectRejection(new Exchange(h.name('x')).declare(), NotBoundError, 'ERR_NOT_BOUND');
      await expectRejection(new Queue(h.name('q')).declare(), NotBoundError, 'ERR_NOT_BOUND');
      await expectRejection(new Queue(h.name('q')).messageCount(), NotBoundError, 'ERR_NOT_BOUND');
      await expectRejection(new Queue(h.name('q')).purge(), NotBoundError, 'ERR_NOT_BOUND');
    });

    h.test('names a server-named queue', async () => {
      const conn = await h.open();
      const first = await h.queue(conn, { exclusive: true }, '');
      const second = await h.queue(conn, { exclusive: true }, '');
      expect(first.name).not.toBe('');
      expect(second.name).not.toBe('');
      expect(second.name).not.toBe(first.name);
      await conn.producer().publish({ id: 1 }, { routingKey: first.name });
      expect(await first.messageCount()).toBe(1);
      expect(await second.messageCount()).toBe(0);
    });
  });
}
