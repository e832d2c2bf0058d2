import type { Capabilities, ExchangeType } from '@wakame/core';
import { describe, expect } from 'vitest';
import type { Harness } from './harness.js';

const has =
  (type: ExchangeType) =>
  (caps: Capabilities): boolean =>
    caps.exchangeTypes.has(type);

/** One row of the topic table: does a message with `key` reach a queue bound with `binding`? */
interface TopicRow {
  readonly binding: string;
  readonly key: string;
  readonly routes: boolean;
}

/** AMQP 0-9-1 topic semantics as RabbitMQ implements them. */
export const TOPIC_ROWS: readonly TopicRow[] = [
  { binding: 'a.b.c', key: 'a.b.c', routes: true },
  { binding: 'a.b.c', key: 'a.b.cd', routes: false },
  { binding: 'a.*.c', key: 'a.b.c', routes: true },
  { binding: 'a.*.c', key: 'a.c', routes: false },
  { binding: 'a.*', key: 'a.b.c', routes: false },
  { binding: '*', key: 'a', routes: true },
  { binding: '*', key: 'a.b', routes: false },
  { binding: '*.stock.#', key: 'usd.stock', routes: true },
  { binding: '*.stock.#', key: 'eur.stock.db', routes: true },
  { binding: '*.stock.#', key: 'stock.nasdaq', routes: false },
  { binding: 'a.#', key: 'a', routes: true },
  { binding: 'a.#', key: 'a.b.c', routes: true },
  { binding: 'a.#', key: 'ab', routes: false },
  { binding: '#.c', key: 'c', routes: true },
  { binding: '#.c', key: 'a.b.c', routes: true },
  { binding: 'a.#.c', key: 'a.c', routes: true },
  { binding: 'a.#.c', key: 'a.x.y.c', routes: true },
  { binding: 'a.#.c', key: 'a.x.y.d', routes: false },
  { binding: '#', key: 'any.thing.at.all', routes: true },
  { binding: '#', key: '', routes: true },
];

/** Routing through each of the four exchange types. */
export function routingExchangesSuite(h: Harness): void {
  describe('direct exchange', () => {
    h.test(
      'routes by exact key only',
      async () => {
        const conn = await h.open();
        const exchange = await h.exchange(conn, { type: 'direct' });
        const errors = await h.queue(conn, { exchange, routingKey: 'error' });
        const info = await h.queue(conn, { exchange, routingKey: 'info' });
        const producer = conn.producer({ exchange });
        await producer.publish({ id: 1 }, { routingKey: 'error' });
        await producer.publish({ id: 2 }, { routingKey: 'error.x' });
        await producer.publish({ id: 3 }, { routingKey: 'Error' });
        await producer.publish({ id: 4 }, { routingKey: 'info' });
        expect((await h.drain(errors)).map((m) => m.payload)).toEqual([{ id: 1 }]);
        expect((await h.drain(info)).map((m) => m.payload)).toEqual([{ id: 4 }]);
      },
      { needs: has('direct') },
    );

    h.test(
      'delivers a message with an unknown key to nobody',
      async () => {
        const conn = await h.open();
        const exchange = await h.exchange(conn, { type: 'direct' });
        const a = await h.queue(conn, { exchange, routingKey: 'a' });
        const b = await h.queue(conn, { exchange, routingKey: 'b' });
        await conn.producer().publish({ id: 1 }, { exchange: exchange.name, routingKey: 'c' });
        expect(await a.messageCount()).toBe(0);
        expect(await b.messageCount()).toBe(0);
        await conn.producer().publish({ id: 2 }, { exchange: exchange.name, routingKey: 'a' });
        expect(await a.messageCount()).toBe(1);
      },
      { needs: has('direct') },
    );
  });

  describe('topic exchange', () => {
    for (const { binding, key, routes } of TOPIC_ROWS) {
      h.test(
        `${routes ? 'routes' : 'does not route'} '${key}' to '${binding}' binding`,
        async () => {
          const conn = await h.open();
          const exchange = await h.exchange(conn, { type: 'topic' });
          const queue = await h.queue(conn, { exchange, routingKey: binding });
          // A catch-all queue proves the publish itself went through.
          const all = await h.queue(conn, { exchange, routingKey: '#' });
          await conn.producer().publish({ key }, { exchange: exchange.name, routingKey: key });
          expect(await all.messageCount()).toBe(1);
          expect(await queue.messageCount()).toBe(routes ? 1 : 0);
        },
        { needs: has('topic') },
      );
    }

    h.test(
      'routes one message to every matching binding of different queues',
      async () => {
        const conn = await h.open();
        const exchange = await h.exchange(conn, { type: 'topic' });
        const usd = await h.queue(conn, { exchange, routingKey: 'usd.*' });
        const stock = await h.queue(conn, { exchange, routingKey: '*.stock' });
        const eur = await h.queue(conn, { exchange, routingKey: 'eur.#' });
        await conn.producer().publish({ id: 1 }, { exchange: exchange.name, routingKey: 'usd.stock' });
        expect([await usd.messageCount(), await stock.messageCount(), await eur.messageCount()]).toEqual([1, 1, 0]);
      },
      { needs: has('topic') },
    );
  });

  describe('fanout exchange', () => {
    h.test(
      'gives every bound queue one copy regardless of key',
      async () => {
        const conn = await h.open();
        const exchange = await h.exchange(conn, { type: 'fanout' });
        const queues = [
          await h.queue(conn, { exchange, routingKey: 'x' }),
          await h.queue(conn, { exchange, routingKey: '' }),
          await h.queue(conn, { exchange, routingKey: 'whatever.#' }),
        ];
        await conn.producer().publish({ id: 1 }, { exchange: exchange.name, routingKey: 'unrelated' });
        await conn.producer().publish({ id: 2 }, { exchange: exchange.name, routingKey: '' });
        for (const queue of queues) {
          expect((await h.drain(queue)).map((m) => m.payload)).toEqual([{ id: 1 }, { id: 2 }]);
        }
      },
      { needs: has('fanout') },
    );
  });

  describe('headers exchange', () => {
    h.test(
      "routes with x-match 'all' only when every header matches",
      async () => {
        const conn = await h.open();
        const exchange = await h.exchange(conn, { type: 'headers' });
        const queue = await h.queue(conn, {
          bindings: [{ exchange, headers: { format: 'pdf', type: 'report' }, match: 'all' }],
        });
        const producer = conn.producer({ exchange });
        await producer.publish({ id: 1 }, { headers: { format: 'pdf', type: 'report', extra: 1 } });
        await producer.publish({ id: 2 }, { headers: { format: 'pdf' } });
        await producer.publish({ id: 3 }, { headers: { format: 'pdf', type: 'log' } });
        await producer.publish({ id: 4 } /* no headers */);
        expect((await h.drain(queue)).map((m) => m.payload)).toEqual([{ id: 1 }]);
      },
      { needs: has('headers') },
    );

    h.test(
      "routes with x-match 'any' when at least one header matches",
      async () => {
        const conn = await h.open();
        const exchange = await h.exchange(conn, { type: 'headers' });
        const queue = await h.queue(conn, {
          bindings: [{ exchange, headers: { format: 'pdf', type: 'report' }, match: 'any' }],
        });
        const producer = conn.producer({ exchange });
        await producer.publish({ id: 1 }, { headers: { format: 'pdf' } });
        await producer.publish({ id: 2 }, { headers: { format: 'zip', type: 'report' } });
        await producer.publish({ id: 3 }, { headers: { format: 'zip', type: 'log' } });
        await producer.publish({ id: 4 }, { routingKey: 'format' });
        expect((await h.drain(queue)).map((m) => m.payload)).toEqual([{ id: 1 }, { id: 2 }]);
      },
      { needs: has('headers') },
    );

    h.test(
      'ignores the routing key',
      async () => {
        const conn = await h.open();
        const exchange = await h.exchange(conn, { type: 'headers' });
        const queue = await h.queue(conn, { bindings: [{ exchange, headers: { k: 'v' }, routingKey: 'bound-key' }] });
        await conn
          .producer()
          .publish({ id: 1 }, { exchange: exchange.name, routingKey: 'other-key', headers: { k: 'v' } });
        expect(await queue.messageCount()).toBe(1);
      },
      { needs: has('headers') },
    );
  });
}
