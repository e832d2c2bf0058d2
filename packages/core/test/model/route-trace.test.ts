import { describe, expect, it } from 'vitest';
import { traceRoute } from '../../src/model/route-trace.js';
import type { BindingSpec, ExchangeSpec, ExchangeType } from '../../src/model/specs.js';
import { RoutingTable } from '../../src/virtual/routing-table.js';

function exchange(name: string, type: ExchangeType, alternateExchange?: string): ExchangeSpec {
  return {
    name,
    type,
    durable: true,
    autoDelete: false,
    internal: false,
    arguments: {},
    ...(alternateExchange === undefined ? {} : { alternateExchange }),
  };
}

function bind(
  source: string,
  destination: string,
  routingKey = '',
  options: { toExchange?: boolean; arguments?: Record<string, unknown> } = {},
): BindingSpec {
  return {
    source,
    destination,
    destinationType: options.toExchange ? 'exchange' : 'queue',
    routingKey,
    arguments: options.arguments ?? {},
  };
}

const topology = {
  exchanges: [
    exchange('tasks', 'topic', 'unrouted'),
    exchange('media', 'headers'),
    exchange('unrouted', 'fanout'),
    exchange('loop', 'fanout'),
  ],
  bindings: [
    bind('tasks', 'media', 'video.*', { toExchange: true }),
    bind('tasks', 'archive', '#.encode'),
    bind('media', 'videos', '', { arguments: { 'x-match': 'all', format: 'mp4' } }),
    bind('media', 'images', '', { arguments: { format: 'png' } }),
    bind('unrouted', 'lost'),
    // A cycle: each exchange is routed once.
    bind('loop', 'tasks', '', { toExchange: true }),
    bind('tasks', 'loop', 'cycle', { toExchange: true }),
  ],
  queues: [{ name: 'videos' }, { name: 'images' }, { name: 'archive' }, { name: 'lost' }],
};

describe('traceRoute', () => {
  it('follows exchange-to-exchange bindings and matches headers', () => {
    const trace = traceRoute(topology, 'tasks', { routingKey: 'video.encode', headers: { format: 'mp4' } });
    expect(trace.queues).toEqual(['archive', 'videos']);
    expect(trace.hops.map((h) => [h.exchange, h.reason.kind, h.matched.map((b) => b.destination)])).toEqual([
      ['tasks', 'publish', ['media', 'archive']],
      ['media', 'binding', ['videos']],
    ]);
  });

  it('goes to the alternate exchange only when no binding matched', () => {
    const trace = traceRoute(topology, 'tasks', { routingKey: 'audio.play' });
    expect(trace.queues).toEqual(['lost']);
    expect(trace.hops[0]?.alternate).toBe('unrouted');
    expect(trace.hops[1]).toMatchObject({ exchange: 'unrouted', reason: { kind: 'alternate', from: 'tasks' } });
  });

  it('counts an exchange that matched only exchange bindings as routed (no alternate), like RabbitMQ', () => {
    const trace = traceRoute(topology, 'tasks', { routingKey: 'video.play', headers: { format: 'avi' } });
    expect(trace.queues).toEqual([]);
    expect(trace.hops.map((h) => h.exchange)).toEqual(['tasks', 'media']);
  });

  it('routes each exchange once, so cycles end', () => {
    const trace = traceRoute(topology, 'loop', { routingKey: 'cycle' });
    // 'tasks' matched its binding back to 'loop', so it counts as routed and its alternate is not used.
    expect(trace.hops.map((h) => h.exchange)).toEqual(['loop', 'tasks']);
    expect(trace.queues).toEqual([]);
  });

  it('reports a missing exchange, and knows the default and built-in exchanges', () => {
    expect(traceRoute(topology, 'nope', { routingKey: 'x' }).exchangeFound).toBe(false);
    expect(traceRoute(topology, '', { routingKey: 'videos' }).queues).toEqual(['videos']);
    expect(traceRoute(topology, '', { routingKey: 'ghost' }).queues).toEqual([]);
    expect(traceRoute(topology, 'amq.topic', { routingKey: 'x' })).toMatchObject({ exchangeFound: true, queues: [] });
  });

  it('agrees with the virtual transport routing table', () => {
    const table = new RoutingTable(topology);
    const keys = ['', 'video', 'video.encode', 'a.encode', 'audio.play', 'cycle', 'video.x.encode', 'encode'];
    const headerSets = [undefined, { format: 'mp4' }, { format: 'png' }, { format: 'avi' }];
    for (const name of ['tasks', 'media', 'unrouted', 'loop']) {
      for (const routingKey of keys) {
        for (const headers of headerSets) {
          const message = headers === undefined ? { routingKey } : { routingKey, headers };
          const expected = [...table.route(name, routingKey, headers).queues].sort();
          expect([name, routingKey, headers, traceRoute(topology, name, message).queues]).toEqual([
            name,
            routingKey,
            headers,
            expected,
          ]);
        }
      }
    }
  });
});
