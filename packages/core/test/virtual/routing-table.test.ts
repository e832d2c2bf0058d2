import { describe, expect, it } from 'vitest';
import { InvalidOperationError } from '../../src/errors.js';
import type { BindingSpec, ExchangeSpec, ExchangeType } from '../../src/transport/spi.js';
import { RoutingTable } from '../../src/virtual/routing-table.js';

function exchange(name: string, type: ExchangeType, extra: Partial<ExchangeSpec> = {}): ExchangeSpec {
  return { name, type, durable: true, autoDelete: false, internal: false, arguments: {}, ...extra };
}

function bind(
  source: string,
  destination: string,
  routingKey = '',
  extra: Partial<Pick<BindingSpec, 'destinationType' | 'arguments'>> = {},
): BindingSpec {
  return { source, destination, routingKey, destinationType: 'queue', arguments: {}, ...extra };
}

function toExchange(source: string, destination: string, routingKey = ''): BindingSpec {
  return bind(source, destination, routingKey, { destinationType: 'exchange' });
}

/** The routed queue names, sorted, for readable assertions. */
function queues(table: RoutingTable, name: string, routingKey: string, headers?: Record<string, unknown>): string[] {
  return [...table.route(name, routingKey, headers).queues].sort();
}

describe('RoutingTable', () => {
  it('routes a direct exchange by exact key', () => {
    const table = new RoutingTable({
      exchanges: [exchange('logs', 'direct')],
      bindings: [bind('logs', 'errors', 'error'), bind('logs', 'all', 'error'), bind('logs', 'all', 'info')],
    });
    expect(queues(table, 'logs', 'error')).toEqual(['all', 'errors']);
    expect(queues(table, 'logs', 'info')).toEqual(['all']);
    expect(queues(table, 'logs', 'debug')).toEqual([]);
    expect(table.route('logs', 'debug').exchangeFound).toBe(true);
  });

  it('routes a fanout exchange to every binding, whatever the key', () => {
    const table = new RoutingTable({
      exchanges: [exchange('news', 'fanout'), exchange('empty', 'fanout')],
      bindings: [bind('news', 'a', 'ignored'), bind('news', 'b'), bind('news', 'a', 'other')],
    });
    expect(queues(table, 'news', 'anything')).toEqual(['a', 'b']);
    expect(queues(table, 'news', '')).toEqual(['a', 'b']);
    expect(queues(table, 'empty', 'x')).toEqual([]);
  });

  it('routes a topic exchange by pattern', () => {
    const table = new RoutingTable({
      exchanges: [exchange('stocks', 'topic')],
      bindings: [bind('stocks', 'usd', 'usd.#'), bind('stocks', 'db', '*.stock.db'), bind('stocks', 'all', '#')],
    });
    expect(queues(table, 'stocks', 'usd.stock.db')).toEqual(['all', 'db', 'usd']);
    expect(queues(table, 'stocks', 'eur.stock.db')).toEqual(['all', 'db']);
    expect(queues(table, 'stocks', '')).toEqual(['all']);
    // A second lookup comes from the cache and gives the same answer.
    expect(table.route('stocks', 'eur.stock.db')).toBe(table.route('stocks', 'eur.stock.db'));
  });

  it('routes a headers exchange by binding arguments, ignoring the routing key', () => {
    const table = new RoutingTable({
      exchanges: [exchange('docs', 'headers')],
      bindings: [
        bind('docs', 'pdf', 'ignored', { arguments: { 'x-match': 'all', format: 'pdf', type: 'report' } }),
        bind('docs', 'any', '', { arguments: { 'x-match': 'any', format: 'pdf', type: 'log' } }),
      ],
    });
    expect(queues(table, 'docs', 'x', { format: 'pdf', type: 'report' })).toEqual(['any', 'pdf']);
    expect(queues(table, 'docs', 'x', { type: 'log' })).toEqual(['any']);
    expect(queues(table, 'docs', 'x', { format: 'zip' })).toEqual([]);
    expect(queues(table, 'docs', 'x')).toEqual([]);
  });

  it('delivers one copy to a queue reached several ways', () => {
    const table = new RoutingTable({
      exchanges: [exchange('t', 'topic'), exchange('d', 'direct'), exchange('f', 'fanout')],
      bindings: [
        bind('t', 'q', 'a.*'),
        bind('t', 'q', 'a.#'),
        bind('d', 'q', 'k'),
        bind('d', 'q', 'k'),
        toExchange('f', 't'),
        toExchange('f', 'd'),
        bind('f', 'q'),
      ],
    });
    expect(queues(table, 't', 'a.b')).toEqual(['q']);
    expect(queues(table, 'd', 'k')).toEqual(['q']);
    expect(queues(table, 'f', 'k')).toEqual(['q']);
    expect(table.route('f', 'a.b').queues.size).toBe(1);
  });

  it('routes the default exchange to the queue named by the routing key', () => {
    const table = new RoutingTable({ exchanges: [], bindings: [] });
    expect(table.hasExchange('')).toBe(true);
    expect(table.exchange('')).toMatchObject({ name: '', type: 'direct', internal: false });
    expect(queues(table, '', 'tasks')).toEqual(['tasks']);
    expect(table.route('', 'tasks').exchangeFound).toBe(true);
    expect(queues(table, '', '')).toEqual([]);
  });

  it('reports a missing exchange', () => {
    const table = new RoutingTable({ exchanges: [exchange('x', 'direct')], bindings: [] });
    expect(table.hasExchange('nope')).toBe(false);
    expect(table.exchange('nope')).toBeUndefined();
    expect(table.route('nope', 'k')).toEqual({ queues: new Set(), exchangeFound: false });
  });

  it('exposes exchange declarations, internal ones included', () => {
    const spec = exchange('inner', 'fanout', { internal: true });
    const table = new RoutingTable({ exchanges: [spec], bindings: [] });
    expect(table.hasExchange('inner')).toBe(true);
    expect(table.exchange('inner')).toBe(spec);
  });

  it('follows exchange-to-exchange bindings with the same routing key and headers', () => {
    const table = new RoutingTable({
      exchanges: [exchange('entry', 'direct'), exchange('mid', 'topic'), exchange('hdr', 'headers')],
      bindings: [
        toExchange('entry', 'mid', 'order.created'),
        bind('mid', 'orders', 'order.*'),
        toExchange('mid', 'hdr', '#'),
        bind('hdr', 'vip', '', { arguments: { tier: 'gold' } }),
      ],
    });
    expect(queues(table, 'entry', 'order.created')).toEqual(['orders']);
    expect(queues(table, 'entry', 'order.created', { tier: 'gold' })).toEqual(['orders', 'vip']);
    expect(queues(table, 'entry', 'order.deleted', { tier: 'gold' })).toEqual([]);
    expect(queues(table, 'mid', 'order.deleted', { tier: 'gold' })).toEqual(['orders', 'vip']);
  });

  it('terminates on exchange-to-exchange cycles', () => {
    const table = new RoutingTable({
      exchanges: [exchange('a', 'fanout'), exchange('b', 'fanout'), exchange('c', 'topic')],
      bindings: [
        toExchange('a', 'b'),
        toExchange('b', 'c'),
        toExchange('c', 'a', '#'),
        toExchange('c', 'c', '#'),
        bind('b', 'qb'),
        bind('c', 'qc', 'k'),
      ],
    });
    expect(queues(table, 'a', 'k')).toEqual(['qb', 'qc']);
    expect(queues(table, 'c', 'k')).toEqual(['qb', 'qc']);
    expect(queues(table, 'c', 'other')).toEqual(['qb']);
  });

  it('sends what an exchange cannot route to its alternate exchange', () => {
    const table = new RoutingTable({
      exchanges: [
        exchange('main', 'direct', { alternateExchange: 'unrouted' }),
        exchange('viaArgs', 'topic', { arguments: { 'alternate-exchange': 'unrouted' } }),
        exchange('unrouted', 'fanout'),
      ],
      bindings: [bind('main', 'known', 'k'), bind('viaArgs', 'known', 'k.#'), bind('unrouted', 'lost')],
    });
    expect(queues(table, 'main', 'k')).toEqual(['known']);
    expect(queues(table, 'main', 'other')).toEqual(['lost']);
    expect(queues(table, 'viaArgs', 'k.x')).toEqual(['known']);
    expect(queues(table, 'viaArgs', 'other')).toEqual(['lost']);
  });

  it('chains alternate exchanges and survives alternate cycles', () => {
    const table = new RoutingTable({
      exchanges: [
        exchange('a', 'direct', { alternateExchange: 'b' }),
        exchange('b', 'direct', { alternateExchange: 'a' }),
        exchange('c', 'direct', { alternateExchange: 'c' }),
      ],
      bindings: [bind('b', 'qb', 'kb')],
    });
    expect(queues(table, 'a', 'kb')).toEqual(['qb']);
    expect(queues(table, 'a', 'none')).toEqual([]);
    expect(queues(table, 'c', 'none')).toEqual([]);
  });

  it('uses an alternate exchange only when the exchange itself matched no binding (RabbitMQ rule)', () => {
    const table = new RoutingTable({
      exchanges: [
        exchange('front', 'direct', { alternateExchange: 'ae' }),
        exchange('back', 'direct', { alternateExchange: 'backAe' }),
        exchange('ae', 'fanout'),
        exchange('backAe', 'fanout'),
      ],
      bindings: [toExchange('front', 'back', 'k'), bind('ae', 'frontLost'), bind('backAe', 'backLost')],
    });
    // `front` matched its binding to `back`, so `front`'s alternate is not used; `back` matched nothing and uses its own.
    expect(queues(table, 'front', 'k')).toEqual(['backLost']);
    expect(queues(table, 'front', 'x')).toEqual(['frontLost']);
  });

  it('ignores a missing alternate exchange, bindings from unknown exchanges and to or from the default exchange', () => {
    const table = new RoutingTable({
      exchanges: [exchange('x', 'direct', { alternateExchange: 'missing' }), exchange('y', 'fanout')],
      bindings: [
        bind('ghost', 'q', 'k'),
        bind('', 'q', 'k'),
        toExchange('y', ''),
        toExchange('y', 'ghost'),
        bind('x', 'q', 'k'),
      ],
    });
    expect(queues(table, 'x', 'nope')).toEqual([]);
    expect(queues(table, 'x', 'k')).toEqual(['q']);
    expect(queues(table, 'ghost', 'k')).toEqual([]);
    expect(table.route('ghost', 'k').exchangeFound).toBe(false);
    expect(queues(table, '', 'k')).toEqual(['k']);
    expect(queues(table, 'y', 'k')).toEqual([]);
  });

  it('does not cache routes that depend on headers', () => {
    const table = new RoutingTable({
      exchanges: [exchange('topic', 'topic'), exchange('hdr', 'headers')],
      bindings: [toExchange('topic', 'hdr', '#'), bind('hdr', 'q', '', { arguments: { on: true } })],
    });
    expect(queues(table, 'topic', 'k', { on: true })).toEqual(['q']);
    expect(queues(table, 'topic', 'k', { on: false })).toEqual([]);
    expect(queues(table, 'topic', 'k', { on: true })).toEqual(['q']);
  });

  it('keeps routing correctly after the route cache fills up', () => {
    const table = new RoutingTable({
      exchanges: [exchange('t', 'topic')],
      bindings: [bind('t', 'even', '*.0'), bind('t', 'odd', '*.1')],
    });
    for (let i = 0; i < 25_000; i++) {
      expect(queues(table, 't', `k${i}.${i % 2}`)).toEqual([i % 2 === 0 ? 'even' : 'odd']);
    }
  });

  it('hands out results that cannot be modified', () => {
    const table = new RoutingTable({ exchanges: [exchange('d', 'direct')], bindings: [bind('d', 'q', 'k')] });
    const routed = table.route('d', 'k');
    const set = routed.queues as Set<string>;
    expect(() => set.add('intruder')).toThrow(InvalidOperationError);
    expect(() => set.delete('q')).toThrow(InvalidOperationError);
    expect(() => set.clear()).toThrow(InvalidOperationError);
    expect(Object.isFrozen(routed)).toBe(true);
    expect(queues(table, 'd', 'k')).toEqual(['q']);
  });
});
