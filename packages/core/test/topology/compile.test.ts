import { describe, expect, it } from 'vitest';
import { compileTopology, DEFAULT_TASK_RETRY } from '../../src/topology/compile/compile.js';
import { compileGlob, isMatchAll } from '../../src/topology/compile/task-glob.js';
import type { TopologyDocument } from '../../src/topology/document.js';

describe('compileGlob', () => {
  it('matches exact names when the pattern has no star', () => {
    const match = compileGlob('media.process');
    expect(match('media.process')).toBe(true);
    expect(match('media.processx')).toBe(false);
    expect(match('xmedia.process')).toBe(false);
  });

  it('* stays within one dotted segment, and may be part of one', () => {
    expect(compileGlob('media.*')('media.resize')).toBe(true);
    expect(compileGlob('media.*')('media.')).toBe(true);
    expect(compileGlob('media.*')('media.image.resize')).toBe(false);
    expect(compileGlob('media.*')('media')).toBe(false);
    expect(compileGlob('*.resize')('image.resize')).toBe(true);
    expect(compileGlob('media.re*')('media.resize')).toBe(true);
    expect(compileGlob('media.re*')('media.crop')).toBe(false);
    expect(compileGlob('a*c')('abbbc')).toBe(true);
    expect(compileGlob('a*c')('ab.c')).toBe(false);
  });

  it('** crosses segments', () => {
    expect(compileGlob('media.**')('media.image.resize')).toBe(true);
    expect(compileGlob('media.**')('media.x')).toBe(true);
    expect(compileGlob('media.**')('other.x')).toBe(false);
    expect(compileGlob('**.resize')('a.b.resize')).toBe(true);
    expect(compileGlob('**.resize')('a.b.crop')).toBe(false);
    expect(compileGlob('**')('anything.at.all')).toBe(true);
    expect(compileGlob('***')('')).toBe(true);
  });

  it('is anchored at both ends', () => {
    expect(compileGlob('*.a')('x.a.b')).toBe(false);
    expect(compileGlob('a.*')('b.a.c')).toBe(false);
  });

  it('treats regular-expression characters literally', () => {
    expect(compileGlob('a+b.(x)')('a+b.(x)')).toBe(true);
    expect(compileGlob('a+b.*')('aab.x')).toBe(false);
    expect(compileGlob('a?c')('abc')).toBe(false);
    expect(compileGlob('[ab].*')('[ab].x')).toBe(true);
    expect(compileGlob('a.b')('axb')).toBe(false);
  });

  it('handles astral characters as one character', () => {
    expect(compileGlob('🐟.*')('🐟.x')).toBe(true);
    expect(compileGlob('*.x')('🐟.x')).toBe(true);
  });

  it('does not backtrack exponentially', () => {
    const started = performance.now();
    expect(compileGlob('**a**a**a**a**a**a**a**b')('a'.repeat(5000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('isMatchAll recognises patterns that match everything', () => {
    expect(isMatchAll('**')).toBe(true);
    expect(isMatchAll('****')).toBe(true);
    expect(isMatchAll('*')).toBe(false);
    expect(isMatchAll('a.**')).toBe(false);
  });
});

describe('compileTopology', () => {
  it('applies the built-in defaults and keeps only the typed queue arguments that are set', () => {
    const desired = compileTopology({ exchanges: [{ name: 'e' }], queues: [{ name: 'q', maxPriority: 5 }] });
    expect(desired.exchanges).toStrictEqual([
      { name: 'e', type: 'direct', durable: true, autoDelete: false, internal: false, arguments: {} },
    ]);
    expect(desired.queues).toStrictEqual([
      { name: 'q', durable: true, exclusive: false, autoDelete: false, arguments: {}, maxPriority: 5 },
    ]);
    expect(desired).toMatchObject({ bindings: [], broadcasts: [], priorityClasses: {}, routes: [], tasks: [] });
  });

  it('applies defaults field by field to entities that do not set the field', () => {
    const desired = compileTopology({
      defaults: {
        exchange: { type: 'topic', durable: false, alternateExchange: 'ae', arguments: { a: 1 } },
        queue: { queueType: 'quorum', messageTtl: 1000, deadLetter: { exchange: 'dlx' }, arguments: { 'x-x': 1 } },
      },
      exchanges: [{ name: 'a' }, { name: 'b', type: 'fanout', arguments: {} }],
      queues: [
        { name: 'q1' },
        { name: 'q2', messageTtl: 50, deadLetter: { exchange: 'other', routingKey: 'k' }, durable: false },
      ],
    });
    expect(desired.exchanges).toStrictEqual([
      {
        name: 'a',
        type: 'topic',
        durable: false,
        autoDelete: false,
        internal: false,
        alternateExchange: 'ae',
        arguments: { a: 1 },
      },
      {
        name: 'b',
        type: 'fanout',
        durable: false,
        autoDelete: false,
        internal: false,
        alternateExchange: 'ae',
        arguments: {},
      },
    ]);
    expect(desired.queues).toStrictEqual([
      {
        name: 'q1',
        durable: true,
        exclusive: false,
        autoDelete: false,
        arguments: { 'x-x': 1 },
        queueType: 'quorum',
        messageTtl: 1000,
        deadLetter: { exchange: 'dlx' },
      },
      {
        name: 'q2',
        durable: false,
        exclusive: false,
        autoDelete: false,
        arguments: { 'x-x': 1 },
        queueType: 'quorum',
        messageTtl: 50,
        deadLetter: { exchange: 'other', routingKey: 'k' },
      },
    ]);
  });

  it('flattens queue bindings, reads top-level ones, and deduplicates and sorts them', () => {
    const desired = compileTopology({
      exchanges: [{ name: 'x', type: 'topic' }, { name: 'y' }],
      queues: [
        {
          name: 'b',
          bindings: [
            { exchange: 'x', routingKey: 'k.#' },
            { exchange: 'x', routingKey: 'k.#' },
          ],
        },
        { name: 'a', bindings: [{ exchange: 'y' }] },
      ],
      bindings: [
        { exchange: 'x', destination: 'b', routingKey: 'k.#' },
        { exchange: 'x', destination: 'y', destinationType: 'exchange', routingKey: 'fw' },
        { exchange: 'x', destination: 'a', routingKey: 'z' },
      ],
    });
    // Sorted by source, then destination type ('exchange' before 'queue'), destination, key.
    expect(desired.bindings).toStrictEqual([
      { source: 'x', destination: 'y', destinationType: 'exchange', routingKey: 'fw', arguments: {} },
      { source: 'x', destination: 'a', destinationType: 'queue', routingKey: 'z', arguments: {} },
      { source: 'x', destination: 'b', destinationType: 'queue', routingKey: 'k.#', arguments: {} },
      { source: 'y', destination: 'a', destinationType: 'queue', routingKey: '', arguments: {} },
    ]);
  });

  it('compiles headers bindings to arguments with x-match, merged with raw arguments', () => {
    const desired = compileTopology({
      exchanges: [{ name: 'h', type: 'headers' }],
      queues: [
        {
          name: 'q',
          bindings: [
            { exchange: 'h', headers: { format: 'pdf', size: 3 } },
            { exchange: 'h', headers: { format: 'png' }, match: 'any', arguments: { 'x-tenant': 't' } },
            { exchange: 'h', arguments: { 'x-match': 'all-with-x', 'x-a': 1 } },
          ],
        },
      ],
    });
    expect(desired.bindings.map((b) => b.arguments)).toStrictEqual([
      { format: 'pdf', size: 3, 'x-match': 'all' },
      { format: 'png', 'x-match': 'any', 'x-tenant': 't' },
      { 'x-a': 1, 'x-match': 'all-with-x' },
    ]);
  });

  it('deduplicates bindings whose arguments differ only in key order', () => {
    const desired = compileTopology({
      queues: [
        {
          name: 'q',
          bindings: [
            { exchange: 'h', headers: { a: 1, b: 2 } },
            { exchange: 'h', headers: { b: 2, a: 1 }, match: 'all' },
          ],
        },
      ],
    });
    expect(desired.bindings).toHaveLength(1);
  });

  it('adds a fanout exchange for each broadcast that is not declared', () => {
    const desired = compileTopology({
      exchanges: [{ name: 'declared', type: 'fanout', durable: false }],
      broadcasts: [
        { name: 'events' },
        { name: 'declared', queuePrefix: 'p', durable: false },
        { name: 'b2', durable: false },
      ],
      defaults: { exchange: { type: 'topic' } },
    });
    expect(desired.broadcasts).toStrictEqual([
      { exchange: 'b2', queuePrefix: 'bcast', durable: false },
      { exchange: 'declared', queuePrefix: 'p', durable: false },
      { exchange: 'events', queuePrefix: 'bcast', durable: true },
    ]);
    expect(desired.exchanges).toStrictEqual([
      { name: 'b2', type: 'fanout', durable: false, autoDelete: false, internal: false, arguments: {} },
      { name: 'declared', type: 'fanout', durable: false, autoDelete: false, internal: false, arguments: {} },
      { name: 'events', type: 'fanout', durable: true, autoDelete: false, internal: false, arguments: {} },
    ]);
  });

  it('resolves task routes: own route first, else the first matching routes entry', () => {
    const desired = compileTopology({
      routes: [
        { match: 'media.*', exchange: 'media' },
        { match: 'media.**', exchange: 'deep', routingKey: 'deep-key' },
        { match: '**', exchange: '', routingKey: 'fallback' },
      ],
      tasks: [
        { name: 'media.resize' },
        { name: 'media.image.crop' },
        { name: 'mail.send' },
        { name: 'media.own', route: { exchange: 'x' } },
        { name: 'media.own-key', route: { exchange: 'x', routingKey: 'k' } },
      ],
    });
    const routes = Object.fromEntries(desired.tasks.map((t) => [t.name, t.route]));
    expect(routes).toStrictEqual({
      'mail.send': { exchange: '', routingKey: 'fallback' },
      'media.image.crop': { exchange: 'deep', routingKey: 'deep-key' },
      'media.own': { exchange: 'x', routingKey: 'media.own' },
      'media.own-key': { exchange: 'x', routingKey: 'k' },
      'media.resize': { exchange: 'media', routingKey: 'media.resize' },
    });
    expect(desired.routes).toStrictEqual([
      { match: 'media.*', exchange: 'media' },
      { match: 'media.**', exchange: 'deep', routingKey: 'deep-key' },
      { match: '**', exchange: '', routingKey: 'fallback' },
    ]);
  });

  it('leaves a task without a matching route unrouted', () => {
    const [task] = compileTopology({ routes: [{ match: 'a.*', exchange: 'x' }], tasks: [{ name: 'b.c' }] }).tasks;
    expect(task).toStrictEqual({ name: 'b.c', protocol: 'wakame', retry: DEFAULT_TASK_RETRY });
  });

  it("resolves each task's protocol: its own, else the document's, else 'wakame'", () => {
    const protocols = (doc: Parameters<typeof compileTopology>[0]) =>
      compileTopology(doc).tasks.map((t) => [t.name, t.protocol]);
    expect(protocols({ tasks: [{ name: 'a' }, { name: 'b', protocol: 'celery' }] })).toStrictEqual([
      ['a', 'wakame'],
      ['b', 'celery'],
    ]);
    expect(protocols({ protocol: 'celery', tasks: [{ name: 'a' }, { name: 'b', protocol: 'wakame' }] })).toStrictEqual([
      ['a', 'celery'],
      ['b', 'wakame'],
    ]);
  });

  it('merges defaults.task, splits priority into class or number, and fills the retry policy', () => {
    const desired = compileTopology({
      priorityClasses: { low: 'lopri', high: 'hipri' },
      defaults: { task: { priority: 'low', retry: { maxAttempts: 3, jitter: 0 }, deadLetter: { queue: 'dead' } } },
      tasks: [
        { name: 'b', priority: 7, retry: { initialDelay: 10 }, description: 'B', payload: { type: 'object' } },
        { name: 'a' },
        { name: 'c', priority: 'high', deadLetter: { exchange: 'dlx', routingKey: 'c' } },
      ],
    });
    expect(desired.priorityClasses).toStrictEqual({ high: 'hipri', low: 'lopri' });
    // Declaration order is priority order (highest first), so it is kept, not sorted.
    expect(Object.keys(desired.priorityClasses)).toStrictEqual(['low', 'high']);
    expect(desired.tasks).toStrictEqual([
      {
        name: 'a',
        protocol: 'wakame',
        priorityClass: 'low',
        retry: { maxAttempts: 3, initialDelay: 1000, factor: 2, maxDelay: 60000, jitter: 0 },
        deadLetter: { queue: 'dead' },
      },
      {
        name: 'b',
        protocol: 'wakame',
        description: 'B',
        payload: { type: 'object' },
        priority: 7,
        retry: { maxAttempts: 3, initialDelay: 10, factor: 2, maxDelay: 60000, jitter: 0 },
        deadLetter: { queue: 'dead' },
      },
      {
        name: 'c',
        protocol: 'wakame',
        priorityClass: 'high',
        retry: { maxAttempts: 3, initialDelay: 1000, factor: 2, maxDelay: 60000, jitter: 0 },
        deadLetter: { exchange: 'dlx', routingKey: 'c' },
      },
    ]);
    expect(DEFAULT_TASK_RETRY).toStrictEqual({
      maxAttempts: 1,
      initialDelay: 1000,
      factor: 2,
      maxDelay: 60000,
      jitter: 0.2,
    });
  });

  it('is deterministic: entity order in the document does not change the result', () => {
    const doc: TopologyDocument = {
      exchanges: [{ name: 'z' }, { name: 'a', type: 'topic' }, { name: 'm' }],
      queues: [
        {
          name: 'q2',
          bindings: [
            { exchange: 'z', routingKey: 'b' },
            { exchange: 'a', routingKey: 'x.*' },
          ],
        },
        { name: 'q1', bindings: [{ exchange: 'z', routingKey: 'a' }] },
      ],
      tasks: [{ name: 't2' }, { name: 't1' }],
      broadcasts: [{ name: 'bz' }, { name: 'ba' }],
    };
    const reversed: TopologyDocument = {
      broadcasts: [...(doc.broadcasts ?? [])].reverse(),
      tasks: [...(doc.tasks ?? [])].reverse(),
      queues: [...(doc.queues ?? [])].reverse().map((q) => ({ ...q, bindings: [...(q.bindings ?? [])].reverse() })),
      exchanges: [...(doc.exchanges ?? [])].reverse(),
    };
    const a = compileTopology(doc);
    expect(JSON.stringify(compileTopology(reversed))).toBe(JSON.stringify(a));
    expect(a.exchanges.map((e) => e.name)).toStrictEqual(['a', 'ba', 'bz', 'm', 'z']);
    expect(a.bindings.map((b) => `${b.source}>${b.destination}:${b.routingKey}`)).toStrictEqual([
      'a>q2:x.*',
      'z>q1:a',
      'z>q2:b',
    ]);
  });

  it('keeps the first of duplicate names (the rules report the others)', () => {
    const desired = compileTopology({
      exchanges: [
        { name: 'x', type: 'topic' },
        { name: 'x', type: 'fanout' },
      ],
      queues: [
        { name: 'q', maxPriority: 1 },
        { name: 'q', maxPriority: 2 },
      ],
    });
    expect(desired.exchanges.map((e) => e.type)).toStrictEqual(['topic']);
    expect(desired.queues.map((q) => q.maxPriority)).toStrictEqual([1]);
  });

  it('does not alias the document (arguments are copied)', () => {
    const args = { a: 1 };
    const desired = compileTopology({ exchanges: [{ name: 'x', arguments: args }] });
    expect(desired.exchanges[0]?.arguments).not.toBe(args);
  });

  it('compiles an empty document', () => {
    expect(compileTopology({})).toStrictEqual({
      exchanges: [],
      queues: [],
      bindings: [],
      broadcasts: [],
      priorityClasses: {},
      routes: [],
      tasks: [],
    });
  });
});
