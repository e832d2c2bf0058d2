import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compareBindings, compileTopology } from '../../src/topology/compile/compile.js';
import type { TopologyDocument } from '../../src/topology/document.js';
import { DEFAULT_SCHEMA_REF, exportTopology, toYaml } from '../../src/topology/render/export.js';
import type { BindingSpec, ExchangeSpec, ObservedTopology, QueueSpec } from '../../src/transport/spi.js';

function exchange(name: string, extra: Partial<ExchangeSpec> = {}): ExchangeSpec {
  return { name, type: 'direct', durable: true, autoDelete: false, internal: false, arguments: {}, ...extra };
}
function queue(name: string, extra: Partial<QueueSpec> = {}): QueueSpec & { messageCount: number } {
  return { name, durable: true, exclusive: false, autoDelete: false, arguments: {}, messageCount: 7, ...extra };
}
function binding(source: string, destination: string, extra: Partial<BindingSpec> = {}): BindingSpec {
  return { source, destination, destinationType: 'queue', routingKey: '', arguments: {}, ...extra };
}

const observed: ObservedTopology = {
  complete: true,
  exchanges: [
    exchange(''),
    exchange('amq.topic', { type: 'topic' }),
    exchange('tasks'),
    exchange('events', { type: 'topic', durable: false, autoDelete: true, alternateExchange: 'ae' }),
    exchange('ae', { type: 'fanout', internal: true, arguments: { custom: 'x' } }),
    exchange('h', { type: 'headers' }),
  ],
  queues: [
    queue('amq.gen-Xk2'),
    queue('work', { maxPriority: 10, deadLetter: { exchange: 'ae' }, queueType: 'classic' }),
    queue('delay', { messageTtl: 5000, deadLetter: { exchange: 'tasks', routingKey: 'work' }, expires: 60_000 }),
    queue('capped', { maxLength: 10, maxLengthBytes: 1024, overflow: 'reject-publish', singleActiveConsumer: true }),
    queue('temp', { durable: false, exclusive: true, autoDelete: true, arguments: { 'x-custom': 1 } }),
  ],
  bindings: [
    binding('', 'work', { routingKey: 'work' }),
    binding('', 'amq.gen-Xk2', { routingKey: 'amq.gen-Xk2' }),
    binding('tasks', 'amq.gen-Xk2', { routingKey: 'reply' }),
    binding('tasks', 'work', { routingKey: 'work' }),
    binding('tasks', 'work', { routingKey: 'work.high' }),
    binding('events', 'delay', { routingKey: 'a.*.#' }),
    binding('amq.topic', 'temp', { routingKey: 'logs.#' }),
    binding('ae', 'capped'),
    binding('h', 'capped', { arguments: { 'x-match': 'any', format: 'pdf', size: 3, ok: true } }),
    binding('h', 'temp', { arguments: { 'x-match': 'all', format: 'png', 'x-tenant': 't', nested: { a: 1 } } }),
    binding('h', 'work', { arguments: { 'x-match': 'all-with-x', 'x-tenant': 't' } }),
    binding('h', 'delay', { arguments: { 'x-match': 'all' } }),
    binding('tasks', 'events', { destinationType: 'exchange', routingKey: 'fw' }),
    binding('tasks', 'unlisted', { routingKey: 'u' }),
  ],
};

describe('exportTopology', () => {
  it('round-trips: compiling the export gives back the live exchanges, queues and bindings', () => {
    const compiled = compileTopology(exportTopology(observed));
    const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    expect(compiled.exchanges).toStrictEqual(
      observed.exchanges.filter((e) => e.name !== '' && !e.name.startsWith('amq.')).sort(byName),
    );
    expect(compiled.queues).toStrictEqual(
      observed.queues
        .filter((q) => !q.name.startsWith('amq.gen-'))
        .map(({ messageCount: _, ...q }) => q)
        .sort(byName),
    );
    expect(compiled.bindings).toStrictEqual(
      observed.bindings.filter((b) => b.source !== '' && !b.destination.startsWith('amq.gen-')).sort(compareBindings),
    );
  });

  it('omits defaults, nests queue bindings and uses the headers form', () => {
    const doc = exportTopology(observed);
    expect(doc.version).toBe(1);
    expect(doc.exchanges?.find((e) => e.name === 'tasks')).toStrictEqual({ name: 'tasks' });
    expect(doc.queues?.find((q) => q.name === 'capped')).toStrictEqual({
      name: 'capped',
      maxLength: 10,
      maxLengthBytes: 1024,
      overflow: 'reject-publish',
      singleActiveConsumer: true,
      bindings: [{ exchange: 'ae' }, { exchange: 'h', headers: { format: 'pdf', size: 3, ok: true }, match: 'any' }],
    });
    expect(doc.queues?.find((q) => q.name === 'temp')?.bindings).toStrictEqual([
      { exchange: 'amq.topic', routingKey: 'logs.#' },
      { exchange: 'h', headers: { format: 'png' }, arguments: { 'x-tenant': 't', nested: { a: 1 } } },
    ]);
    expect(doc.queues?.find((q) => q.name === 'work')?.bindings).toContainEqual({
      exchange: 'h',
      arguments: { 'x-match': 'all-with-x', 'x-tenant': 't' },
    });
    expect(doc.bindings).toStrictEqual([
      { exchange: 'tasks', destination: 'events', routingKey: 'fw', destinationType: 'exchange' },
      { exchange: 'tasks', destination: 'unlisted', routingKey: 'u' },
    ]);
  });

  it('leaves out broker-internal entities', () => {
    const doc = exportTopology(observed);
    const names = [...(doc.exchanges ?? []), ...(doc.queues ?? [])].map((e) => e.name);
    expect(names.some((n) => n === '' || n.startsWith('amq.'))).toBe(false);
    const all = JSON.stringify(doc);
    expect(all).not.toContain('amq.gen');
    expect(all).not.toContain('messageCount');
  });

  it('exports an empty broker as an empty document', () => {
    expect(
      exportTopology({ exchanges: [exchange('amq.direct')], queues: [], bindings: [], complete: true }),
    ).toStrictEqual({
      version: 1,
    });
  });
});

describe('toYaml', () => {
  it('writes a header, the schema line and keys in a stable order', () => {
    expect(toYaml(exportTopology(observed))).toMatchInlineSnapshot(`
      "# Wakame topology
      # yaml-language-server: $schema=./node_modules/@wakame/core/schema/topology.schema.json
      version: 1
      exchanges:
        - name: ae
          type: fanout
          internal: true
          arguments:
            custom: x
        - name: events
          type: topic
          durable: false
          autoDelete: true
          alternateExchange: ae
        - name: h
          type: headers
        - name: tasks
      queues:
        - name: capped
          maxLength: 10
          maxLengthBytes: 1024
          overflow: reject-publish
          singleActiveConsumer: true
          bindings:
            - exchange: ae
            - exchange: h
              headers:
                format: pdf
                ok: true
                size: 3
              match: any
        - name: delay
          messageTtl: 5000
          expires: 60000
          deadLetter:
            exchange: tasks
            routingKey: work
          bindings:
            - exchange: events
              routingKey: a.*.#
            - exchange: h
              headers: {}
        - name: temp
          durable: false
          exclusive: true
          autoDelete: true
          arguments:
            x-custom: 1
          bindings:
            - exchange: amq.topic
              routingKey: logs.#
            - exchange: h
              headers:
                format: png
              arguments:
                nested:
                  a: 1
                x-tenant: t
        - name: work
          queueType: classic
          maxPriority: 10
          deadLetter:
            exchange: ae
          bindings:
            - exchange: h
              arguments:
                x-match: all-with-x
                x-tenant: t
            - exchange: tasks
              routingKey: work
            - exchange: tasks
              routingKey: work.high
      bindings:
        - exchange: tasks
          destination: events
          destinationType: exchange
          routingKey: fw
        - exchange: tasks
          destination: unlisted
          routingKey: u
      "
    `);
  });

  it('orders keys the same whatever order the document was written in', () => {
    const a: TopologyDocument = {
      routes: [{ exchange: 'x', match: '**' }],
      tasks: [{ retry: { jitter: 0, maxAttempts: 2 }, name: 't', priority: 'high' }],
      priorityClasses: { low: 'lo', high: 'hi' },
      queues: [{ bindings: [{ routingKey: 'k', exchange: 'x' }], name: 'hi', maxPriority: 5 }],
      exchanges: [{ type: 'topic', name: 'x', arguments: { z: 1, a: 2 } }],
      version: 1,
    };
    const text = toYaml(a, { schema: '../schemas/topology.schema.json', title: 'Test' });
    expect(text).toMatchInlineSnapshot(`
      "# Test
      # yaml-language-server: $schema=../schemas/topology.schema.json
      version: 1
      exchanges:
        - name: x
          type: topic
          arguments:
            a: 2
            z: 1
      queues:
        - name: hi
          maxPriority: 5
          bindings:
            - exchange: x
              routingKey: k
      priorityClasses:
        high: hi
        low: lo
      tasks:
        - name: t
          priority: high
          retry:
            maxAttempts: 2
            jitter: 0
      routes:
        - match: "**"
          exchange: x
      "
    `);
    expect(parse(text)).toStrictEqual(a);
  });

  it('uses the default schema reference', () => {
    expect(toYaml({ version: 1 })).toContain(`# yaml-language-server: $schema=${DEFAULT_SCHEMA_REF}\n`);
  });

  it('keeps the author key order inside payload schemas', () => {
    const text = toYaml({ tasks: [{ name: 't', payload: { type: 'object', required: ['url'], properties: {} } }] });
    expect(text.indexOf('type: object')).toBeLessThan(text.indexOf('required:'));
  });
});
