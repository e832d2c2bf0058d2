import { NotFoundError, UnroutableError } from '@wakame/core';
import { describe, expect } from 'vitest';
import { expectRejection, type Harness } from './harness.js';

/** Routing beyond one exchange: duplicates, the default exchange, exchange-to-exchange, alternates, mandatory. */
export function routingFeaturesSuite(h: Harness): void {
  describe('routing', () => {
    h.test(
      'gives a queue bound twice one copy',
      async () => {
        const conn = await h.open();
        const exchange = await h.exchange(conn, { type: 'topic' });
        const queue = await h.queue(conn, {
          bindings: [
            { exchange, routingKey: 'a.*' },
            { exchange, routingKey: '*.b' },
            { exchange, routingKey: '#' },
          ],
        });
        await conn.producer().publish({ id: 1 }, { exchange: exchange.name, routingKey: 'a.b' });
        expect((await h.drain(queue)).map((m) => m.payload)).toEqual([{ id: 1 }]);
      },
      { needs: (c) => c.exchangeTypes.has('topic') },
    );

    h.test(
      'gives a queue reachable through two exchanges one copy',
      async () => {
        const conn = await h.open();
        const source = await h.exchange(conn, { type: 'fanout' });
        const destination = await h.exchange(conn, { type: 'fanout' });
        await destination.bindTo(source);
        const queue = await h.queue(conn, { bindings: [{ exchange: source }, { exchange: destination }] });
        await conn.producer().publish({ id: 1 }, { exchange: source.name });
        expect((await h.drain(queue)).map((m) => m.payload)).toEqual([{ id: 1 }]);
      },
      { needs: (c) => c.exchangeToExchange && c.exchangeTypes.has('fanout') },
    );

    h.test('routes through the default exchange by queue name', async () => {
      const conn = await h.open();
      const queue = await h.queue(conn);
      const other = await h.queue(conn);
      await conn.producer().publish({ id: 1 }, { routingKey: queue.name });
      await conn.producer().publish({ id: 2 }, { exchange: '', routingKey: h.name('nobody') });
      expect((await h.drain(queue)).map((m) => m.payload)).toEqual([{ id: 1 }]);
      expect(await other.messageCount()).toBe(0);
    });

    h.test(
      'routes exchange to exchange by the binding key',
      async () => {
        const conn = await h.open();
        const source = await h.exchange(conn, { type: 'direct' });
        const destination = await h.exchange(conn, { type: 'fanout' });
        await destination.bindTo(source, { routingKey: 'forward' });
        const queue = await h.queue(conn, { exchange: destination, routingKey: '' });
        const producer = conn.producer({ exchange: source });
        await producer.publish({ id: 1 }, { routingKey: 'forward' });
        await producer.publish({ id: 2 }, { routingKey: 'stay' });
        expect((await h.drain(queue)).map((m) => m.payload)).toEqual([{ id: 1 }]);
        await destination.unbindFrom(source, { routingKey: 'forward' });
        await producer.publish({ id: 3 }, { routingKey: 'forward' });
        expect(await queue.messageCount()).toBe(0);
      },
      { needs: (c) => c.exchangeToExchange && c.exchangeTypes.has('direct') && c.exchangeTypes.has('fanout') },
    );

    h.test(
      'sends what an exchange cannot route to its alternate exchange',
      async () => {
        const conn = await h.open();
        const alternate = await h.exchange(conn, { type: 'fanout' });
        const unrouted = await h.queue(conn, { exchange: alternate, routingKey: '' });
        const main = await h.exchange(conn, { type: 'direct', alternateExchange: alternate.name });
        const routed = await h.queue(conn, { exchange: main, routingKey: 'known' });
        const producer = conn.producer({ exchange: main });
        await producer.publish({ id: 1 }, { routingKey: 'known' });
        await producer.publish({ id: 2 }, { routingKey: 'unknown' });
        await producer.publish({ id: 3 }, { routingKey: 'unknown', mandatory: true });
        expect((await h.drain(routed)).map((m) => m.payload)).toEqual([{ id: 1 }]);
        expect((await h.drain(unrouted)).map((m) => m.payload)).toEqual([{ id: 2 }, { id: 3 }]);
      },
      { needs: (c) => c.alternateExchange && c.exchangeTypes.has('direct') && c.exchangeTypes.has('fanout') },
    );

    h.test(
      'fails a mandatory publish that no binding matches with UnroutableError',
      async () => {
        const conn = await h.open();
        const exchange = await h.exchange(conn, { type: 'direct' });
        const queue = await h.queue(conn, { exchange, routingKey: 'bound' });
        const producer = conn.producer();
        const error = await expectRejection(
          producer.publish({ id: 1 }, { exchange: exchange.name, routingKey: 'unbound', mandatory: true }),
          UnroutableError,
          'ERR_UNROUTABLE',
        );
        expect(error).toMatchObject({ exchange: exchange.name, routingKey: 'unbound' });
        // The same message without `mandatory` is dropped silently; a routable mandatory one goes through.
        await producer.publish({ id: 2 }, { exchange: exchange.name, routingKey: 'unbound' });
        await producer.publish({ id: 3 }, { exchange: exchange.name, routingKey: 'bound', mandatory: true });
        expect((await h.drain(queue)).map((m) => m.payload)).toEqual([{ id: 3 }]);
      },
      { needs: (c) => c.mandatory && c.exchangeTypes.has('direct') },
    );

    h.test(
      'fails a mandatory publish to a missing queue through the default exchange with UnroutableError',
      async () => {
        const conn = await h.open();
        await expectRejection(
          conn.producer().publish({ id: 1 }, { routingKey: h.name('nobody'), mandatory: true }),
          UnroutableError,
          'ERR_UNROUTABLE',
        );
      },
      { needs: (c) => c.mandatory },
    );

    h.test(
      'fails a publish to an undeclared exchange with NotFoundError, and the connection stays usable',
      async () => {
        const conn = await h.open();
        const missing = h.name('x');
        const producer = conn.producer();
        const error = await expectRejection(
          producer.publish({ id: 1 }, { exchange: missing, routingKey: 'k' }),
          NotFoundError,
          'ERR_NOT_FOUND',
        );
        expect(error).toMatchObject({ entity: { kind: 'exchange', name: missing } });
        await expectRejection(
          producer.publish({ id: 2 }, { exchange: missing, routingKey: 'k', mandatory: true }),
          NotFoundError,
          'ERR_NOT_FOUND',
        );
        const queue = await h.queue(conn);
        await producer.publish({ id: 3 }, { routingKey: queue.name });
        expect((await h.drain(queue)).map((m) => m.payload)).toEqual([{ id: 3 }]);
      },
    );
  });
}
