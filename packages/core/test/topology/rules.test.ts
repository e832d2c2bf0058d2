import { describe, expect, it } from 'vitest';
import type { TopologyIssue } from '../../src/errors.js';
import { checkRules, pointer, type RuleOptions } from '../../src/topology/check/rules.js';
import type { TopologyDocument } from '../../src/topology/document.js';
import type { Capabilities } from '../../src/transport/spi.js';
import { allCapabilities } from './specs.js';

/** `severity path` of the issues of one rule. */
function found(doc: TopologyDocument, rule: string, options?: RuleOptions): string[] {
  return checkRules(doc, options)
    .filter((i) => i.keyword === rule)
    .map((i) => `${i.severity} ${i.path}`);
}

function issue(doc: TopologyDocument, rule: string, options?: RuleOptions): TopologyIssue {
  const all = checkRules(doc, options).filter((i) => i.keyword === rule);
  expect(all).toHaveLength(1);
  return all[0] as TopologyIssue;
}

/** A sound topology: no rule fires on it. */
const sound: TopologyDocument = {
  exchanges: [
    { name: 'tasks', type: 'direct' },
    { name: 'events', type: 'topic' },
    { name: 'dlx', type: 'fanout' },
  ],
  queues: [
    {
      name: 'hipri',
      maxPriority: 10,
      deadLetter: { exchange: 'dlx' },
      bindings: [{ exchange: 'tasks', routingKey: 'hipri' }],
    },
    { name: 'lopri', bindings: [{ exchange: 'tasks', routingKey: 'lopri' }] },
    {
      name: 'audit',
      messageTtl: 86_400_000,
      bindings: [
        { exchange: 'events', routingKey: 'order.*.created' },
        { exchange: 'events', routingKey: '#' },
      ],
    },
    { name: 'dead', bindings: [{ exchange: 'dlx' }] },
  ],
  priorityClasses: { high: 'hipri', low: 'lopri' },
  tasks: [
    { name: 'media.process', priority: 'low' },
    { name: 'order.create', priority: 5 },
  ],
  routes: [
    { match: 'media.*', exchange: 'tasks', routingKey: 'lopri' },
    { match: 'order.*', exchange: 'tasks', routingKey: 'hipri' },
  ],
};

describe('checkRules', () => {
  it('finds nothing wrong with a sound topology', () => {
    expect(checkRules(sound, { capabilities: allCapabilities })).toStrictEqual([]);
  });

  it('pointer escapes ~ and /', () => {
    expect(pointer('priorityClasses', 'a/b~c', 0)).toBe('/priorityClasses/a~1b~0c/0');
  });

  describe('duplicate-name', () => {
    it('reports the second occurrence and names the first', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'x' }, { name: 'y' }, { name: 'x' }],
        queues: [{ name: 'q' }, { name: 'q' }],
        tasks: [{ name: 't' }, { name: 't' }],
        broadcasts: [{ name: 'b' }, { name: 'b' }],
      };
      expect(found(doc, 'duplicate-name')).toStrictEqual([
        'error /exchanges/2/name',
        'error /queues/1/name',
        'error /tasks/1/name',
        'error /broadcasts/1/name',
      ]);
      expect(checkRules(doc)[0]?.message).toBe("exchange 'x' is already declared at /exchanges/0");
    });

    it('allows one name across kinds', () => {
      expect(
        found({ exchanges: [{ name: 'a' }], queues: [{ name: 'a' }], tasks: [{ name: 'a' }] }, 'duplicate-name'),
      ).toStrictEqual([]);
    });
  });

  describe('dangling-reference', () => {
    it('reports every kind of reference to an undeclared entity', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'x', alternateExchange: 'nope-ae' }],
        queues: [
          { name: 'q', bindings: [{ exchange: 'nope-src' }], deadLetter: { exchange: 'nope-dlx' } },
          { name: 'r', deadLetter: { exchange: '', routingKey: 'nope-dlq' } },
        ],
        bindings: [
          { exchange: 'x', destination: 'nope-queue' },
          { exchange: 'x', destination: 'nope-exchange', destinationType: 'exchange' },
        ],
        priorityClasses: { high: 'nope-class-queue' },
        tasks: [
          { name: 't1', priority: 'nope-class', route: { exchange: 'nope-route' } },
          { name: 't2', deadLetter: { queue: 'nope-tdlq', exchange: 'nope-tdlx' } },
          { name: 't3', route: { exchange: '', routingKey: 'nope-direct' } },
        ],
        routes: [{ match: 'a.*', exchange: 'nope-routes' }],
        defaults: { task: { priority: 'nope-default-class' } },
      };
      expect(found(doc, 'dangling-reference')).toStrictEqual([
        'error /queues/0/bindings/0/exchange',
        'error /bindings/0/destination',
        'error /bindings/1/destination',
        'error /exchanges/0/alternateExchange',
        'error /queues/0/deadLetter/exchange',
        'error /queues/1/deadLetter/routingKey',
        'error /routes/0/exchange',
        'error /priorityClasses/high',
        'error /defaults/task/priority',
        'error /tasks/0/priority',
        'error /tasks/1/deadLetter/queue',
        'error /tasks/1/deadLetter/exchange',
        'error /tasks/0/route/exchange',
        'error /tasks/2/route/routingKey',
      ]);
      expect(checkRules(doc).find((i) => i.path === '/queues/0/bindings/0/exchange')?.message).toBe(
        "binding source exchange 'nope-src' is not declared",
      );
    });

    it('treats amq.* exchanges as existing and the default exchange as a valid route', () => {
      const doc: TopologyDocument = {
        queues: [
          {
            name: 'q',
            bindings: [
              { exchange: 'amq.topic', routingKey: 'a.#' },
              { exchange: 'amq.match', headers: { a: 1 } },
            ],
          },
          { name: 'r', deadLetter: { exchange: '', routingKey: 'q' } },
        ],
        tasks: [{ name: 'q' }, { name: 't', route: { exchange: '', routingKey: 'r' } }],
        routes: [{ match: 'q', exchange: '' }],
      };
      expect(found(doc, 'dangling-reference')).toStrictEqual([]);
    });

    it('needs a queue named like the task when a default-exchange route has no routing key', () => {
      const doc: TopologyDocument = { routes: [{ match: '**', exchange: '' }], tasks: [{ name: 'send' }] };
      const { path, message } = issue(doc, 'dangling-reference');
      expect(path).toBe('/tasks/0/name');
      expect(message).toContain('route /routes/0');
    });
  });

  describe('default-exchange-binding', () => {
    it('refuses bindings from or to the default exchange', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'x' }],
        queues: [{ name: 'q', bindings: [{ exchange: '', routingKey: 'q' }] }],
        bindings: [{ exchange: 'x', destination: '', destinationType: 'exchange' }],
      };
      expect(found(doc, 'default-exchange-binding')).toStrictEqual([
        'error /queues/0/bindings/0/exchange',
        'error /bindings/0/destination',
      ]);
    });

    it('does not mind routes through the default exchange', () => {
      expect(
        found(
          { queues: [{ name: 'q' }], tasks: [{ name: 't', route: { exchange: '', routingKey: 'q' } }] },
          'default-exchange-binding',
        ),
      ).toStrictEqual([]);
    });
  });

  describe('invalid-topic-key and routing-key-length', () => {
    it('warns about words that mix wildcards with other characters on topic exchanges only', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 't', type: 'topic' }, { name: 'd' }],
        queues: [
          {
            name: 'q',
            bindings: [
              { exchange: 't', routingKey: 'a*.b' },
              { exchange: 't', routingKey: '*.#' },
              { exchange: 'amq.topic', routingKey: 'x.#y' },
              { exchange: 'd', routingKey: 'a*' },
            ],
          },
        ],
      };
      expect(found(doc, 'invalid-topic-key')).toStrictEqual([
        'warning /queues/0/bindings/0/routingKey',
        'warning /queues/0/bindings/2/routingKey',
      ]);
      expect(checkRules(doc)[0]?.message).toContain("'a*'");
    });

    it('refuses routing keys over 255 bytes, counting UTF-8 bytes', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'd' }],
        queues: [
          {
            name: 'q',
            bindings: [
              { exchange: 'd', routingKey: 'k'.repeat(255) },
              { exchange: 'd', routingKey: 'é'.repeat(128) },
            ],
          },
        ],
        routes: [{ match: '**', exchange: 'd', routingKey: 'r'.repeat(256) }],
        tasks: [{ name: 'n'.repeat(256), route: { exchange: 'd' } }],
      };
      expect(found(doc, 'routing-key-length')).toStrictEqual([
        'error /queues/0/bindings/1/routingKey',
        'error /routes/0/routingKey',
        'error /tasks/0/name',
      ]);
    });
  });

  describe('priority-range', () => {
    it('refuses maxPriority and task priorities out of range (TS documents skip the schema)', () => {
      const doc: TopologyDocument = {
        queues: [
          { name: 'a', maxPriority: 300 },
          { name: 'b', maxPriority: 0 },
          { name: 'c', maxPriority: 255 },
        ],
        tasks: [
          { name: 't1', priority: 256 },
          { name: 't2', priority: 1.5 },
          { name: 't3', priority: 0 },
        ],
      };
      expect(found(doc, 'priority-range')).toStrictEqual([
        'error /queues/0/maxPriority',
        'error /queues/1/maxPriority',
        'error /tasks/0/priority',
        'error /tasks/1/priority',
      ]);
    });

    it('warns when a task priority exceeds the maxPriority of a queue it routes to', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'x' }],
        queues: [
          { name: 'small', maxPriority: 5, bindings: [{ exchange: 'x', routingKey: 'small' }] },
          { name: 'big', maxPriority: 10, bindings: [{ exchange: 'x', routingKey: 'big' }] },
        ],
        tasks: [
          { name: 'a', priority: 9, route: { exchange: 'x', routingKey: 'small' } },
          { name: 'b', priority: 9, route: { exchange: 'x', routingKey: 'big' } },
          { name: 'c', priority: 9, route: { exchange: '', routingKey: 'small' } },
        ],
      };
      expect(found(doc, 'priority-range')).toStrictEqual(['warning /tasks/0/priority', 'warning /tasks/2/priority']);
    });
  });

  describe('ttl-range', () => {
    it('refuses negative, fractional and over-2^32 TTLs and warns about absurd ones', () => {
      const doc: TopologyDocument = {
        queues: [
          { name: 'a', messageTtl: -1 },
          { name: 'b', messageTtl: 2 ** 32 },
          { name: 'c', messageTtl: 31 * 24 * 3600 * 1000 },
          { name: 'd', expires: 0 },
          { name: 'e', expires: 500 },
          { name: 'f', expires: 1.5 },
          { name: 'ok', messageTtl: 0, expires: 1000 },
        ],
      };
      expect(found(doc, 'ttl-range')).toStrictEqual([
        'error /queues/0/messageTtl',
        'error /queues/1/messageTtl',
        'warning /queues/2/messageTtl',
        'error /queues/3/expires',
        'warning /queues/4/expires',
        'error /queues/5/expires',
      ]);
    });

    it('reports a value inherited from defaults once, at /defaults', () => {
      const doc: TopologyDocument = {
        defaults: { queue: { messageTtl: 40 * 24 * 3600 * 1000 } },
        queues: [{ name: 'a' }, { name: 'b' }, { name: 'c', messageTtl: 1000 }],
      };
      expect(found(doc, 'ttl-range')).toStrictEqual(['warning /defaults/queue/messageTtl']);
    });
  });

  describe('dead-letter-cycle', () => {
    it('reports queues that expire into one another', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'to-b' }, { name: 'to-a', type: 'topic' }],
        queues: [
          {
            name: 'a',
            messageTtl: 1000,
            deadLetter: { exchange: 'to-b' },
            bindings: [{ exchange: 'to-a', routingKey: '#' }],
          },
          { name: 'b', messageTtl: 1000, deadLetter: { exchange: 'to-a' }, bindings: [{ exchange: 'to-b' }] },
        ],
      };
      const { path, message } = issue(doc, 'dead-letter-cycle');
      expect(path).toBe('/queues/0/deadLetter/exchange');
      expect(message).toContain("queues 'a', 'b' dead-letter into one another");
    });

    it('reports a queue that expires into itself, through the default exchange', () => {
      const doc: TopologyDocument = {
        queues: [{ name: 'a', messageTtl: 10, deadLetter: { exchange: '', routingKey: 'a' } }],
      };
      expect(found(doc, 'dead-letter-cycle')).toStrictEqual(['error /queues/0/deadLetter/exchange']);
    });

    it('accepts the retry pattern: a work queue without TTL and a delay queue with one', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'work' }, { name: 'retry' }],
        queues: [
          { name: 'jobs', deadLetter: { exchange: 'retry' }, bindings: [{ exchange: 'work', routingKey: 'jobs' }] },
          {
            name: 'jobs.delay',
            messageTtl: 5000,
            deadLetter: { exchange: 'work', routingKey: 'jobs' },
            bindings: [{ exchange: 'retry', routingKey: 'jobs' }],
          },
        ],
      };
      expect(found(doc, 'dead-letter-cycle')).toStrictEqual([]);
    });

    it('follows the dead-letter routing key (no cycle when it routes elsewhere)', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'x' }],
        queues: [
          {
            name: 'a',
            messageTtl: 10,
            deadLetter: { exchange: 'x', routingKey: 'to-b' },
            bindings: [{ exchange: 'x', routingKey: 'to-a' }],
          },
          {
            name: 'b',
            messageTtl: 10,
            deadLetter: { exchange: 'x', routingKey: 'parked' },
            bindings: [{ exchange: 'x', routingKey: 'to-b' }],
          },
        ],
      };
      expect(found(doc, 'dead-letter-cycle')).toStrictEqual([]);
    });
  });

  describe('unsupported-feature', () => {
    const limited: Capabilities = {
      ...allCapabilities,
      exchangeTypes: new Set(['direct', 'topic']),
      exchangeToExchange: false,
      priority: false,
      messageTtl: false,
      queueExpires: false,
      deadLetter: false,
      alternateExchange: false,
      queueTypes: new Set(['classic']),
    };

    it('names the transport and what it lacks', () => {
      const doc: TopologyDocument = {
        defaults: { queue: { maxPriority: 5 } },
        exchanges: [{ name: 'h', type: 'headers', alternateExchange: 'd' }, { name: 'd' }],
        queues: [
          { name: 'q', messageTtl: 1, expires: 5000, deadLetter: { exchange: 'd' }, queueType: 'quorum' },
          { name: 'r' },
        ],
        bindings: [{ exchange: 'h', destination: 'd', destinationType: 'exchange' }],
        broadcasts: [{ name: 'b' }],
      };
      const options = { capabilities: limited, transport: 'file' };
      expect(found(doc, 'unsupported-feature', options)).toStrictEqual([
        'error /exchanges/0/type',
        'error /exchanges/0/alternateExchange',
        'error /broadcasts/0',
        'error /defaults/queue/maxPriority',
        'error /queues/0/messageTtl',
        'error /queues/0/expires',
        'error /queues/0/deadLetter',
        'error /queues/0/queueType',
        'error /bindings/0/destinationType',
      ]);
      expect(checkRules(doc, options).find((i) => i.path === '/exchanges/0/type')?.message).toBe(
        'the file transport does not support headers exchanges',
      );
    });

    it('flags maxLengthBytes on a transport that enforces only maxLength (file://, redis://)', () => {
      const doc: TopologyDocument = { queues: [{ name: 'q', maxLength: 10, maxLengthBytes: 1_000 }] };
      const options = { capabilities: { ...allCapabilities, maxLengthBytes: false }, transport: 'redis' };
      expect(found(doc, 'unsupported-feature', options)).toStrictEqual(['error /queues/0/maxLengthBytes']);
      expect(found(doc, 'unsupported-feature', { capabilities: allCapabilities, transport: 'amqp' })).toStrictEqual([]);
    });

    it('is not checked without capabilities, and passes with enough of them', () => {
      const doc: TopologyDocument = { exchanges: [{ name: 'h', type: 'headers' }] };
      expect(found(doc, 'unsupported-feature')).toStrictEqual([]);
      expect(found(doc, 'unsupported-feature', { capabilities: allCapabilities })).toStrictEqual([]);
    });
  });

  describe('broadcast-type', () => {
    it('refuses a broadcast declared as a non-fanout exchange, defaults included', () => {
      const doc: TopologyDocument = {
        defaults: { exchange: { type: 'topic' } },
        exchanges: [{ name: 'a', type: 'direct' }, { name: 'b' }, { name: 'c', type: 'fanout' }],
        broadcasts: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }],
      };
      expect(found(doc, 'broadcast-type')).toStrictEqual(['error /broadcasts/0/name', 'error /broadcasts/1/name']);
      expect(checkRules(doc).find((i) => i.keyword === 'broadcast-type')?.message).toBe(
        "broadcast 'a' needs a fanout exchange, but /exchanges/0 declares it as direct",
      );
    });
  });

  describe('unbound-queue', () => {
    it('warns about a queue nothing routes to', () => {
      const { path, severity, message } = issue({ queues: [{ name: 'lonely' }] }, 'unbound-queue');
      expect([path, severity]).toStrictEqual(['/queues/0/name', 'warning']);
      expect(message).toContain('default exchange');
    });

    it('accepts queues used through the default exchange, priority classes or dead-lettering', () => {
      const doc: TopologyDocument = {
        queues: [
          { name: 'direct' },
          { name: 'classq' },
          { name: 'parked' },
          { name: 'src', deadLetter: { exchange: '', routingKey: 'parked' } },
        ],
        priorityClasses: { high: 'classq' },
        tasks: [{ name: 't', route: { exchange: '', routingKey: 'direct' } }],
        routes: [{ match: '**', exchange: '', routingKey: 'src' }],
      };
      expect(found(doc, 'unbound-queue')).toStrictEqual([]);
    });
  });

  describe('shared-fanout-queue', () => {
    it('warns about a fanout exchange feeding one shared durable queue', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'notify', type: 'fanout' }],
        queues: [{ name: 'notify-q', bindings: [{ exchange: 'notify' }] }],
      };
      const { path, message } = issue(doc, 'shared-fanout-queue');
      expect(path).toBe('/queues/0/bindings/0/exchange');
      expect(message).toContain('use a broadcast');
    });

    it('accepts several queues, exclusive or auto-delete ones, dead-letter exchanges and broadcasts', () => {
      const doc: TopologyDocument = {
        exchanges: [
          { name: 'many', type: 'fanout' },
          { name: 'excl', type: 'fanout' },
          { name: 'dlx', type: 'fanout' },
        ],
        broadcasts: [{ name: 'bc' }],
        queues: [
          { name: 'a', bindings: [{ exchange: 'many' }, { exchange: 'bc' }], deadLetter: { exchange: 'dlx' } },
          { name: 'b', bindings: [{ exchange: 'many' }] },
          { name: 'mine', exclusive: true, bindings: [{ exchange: 'excl' }] },
          { name: 'dead', bindings: [{ exchange: 'dlx' }] },
        ],
      };
      expect(found(doc, 'shared-fanout-queue')).toStrictEqual([]);
    });
  });

  describe('quorum-priority', () => {
    it('warns about maxPriority on a quorum queue, not on a classic one', () => {
      const doc: TopologyDocument = {
        queues: [
          { name: 'q', queueType: 'quorum', maxPriority: 5 },
          { name: 'c', queueType: 'classic', maxPriority: 5 },
        ],
      };
      expect(found(doc, 'quorum-priority')).toStrictEqual(['warning /queues/0/maxPriority']);
    });
  });

  describe('unused-exchange', () => {
    it('warns about an exchange nothing binds from or publishes to', () => {
      const doc: TopologyDocument = {
        exchanges: [
          { name: 'idle' },
          { name: 'routed' },
          { name: 'task-dl' },
          { name: 'ae', type: 'fanout' },
          { name: 'front', alternateExchange: 'ae' },
          { name: 'bc', type: 'fanout' },
          { name: 'amq.direct' },
        ],
        queues: [{ name: 'q', bindings: [{ exchange: 'front' }] }],
        broadcasts: [{ name: 'bc' }],
        routes: [{ match: '**', exchange: 'routed' }],
        tasks: [{ name: 't', deadLetter: { exchange: 'task-dl' } }],
      };
      expect(found(doc, 'unused-exchange')).toStrictEqual(['warning /exchanges/0/name']);
    });
  });

  describe('route-shadowed', () => {
    it('warns about routes after ** or after an identical pattern', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'x' }],
        routes: [
          { match: 'a.*', exchange: 'x' },
          { match: 'a.*', exchange: 'x', routingKey: 'k' },
          { match: '**', exchange: 'x' },
          { match: 'b.*', exchange: 'x' },
        ],
      };
      expect(found(doc, 'route-shadowed')).toStrictEqual(['warning /routes/1/match', 'warning /routes/3/match']);
    });

    it('accepts a narrower pattern before a wider one', () => {
      const doc: TopologyDocument = {
        exchanges: [{ name: 'x' }],
        routes: [
          { match: 'a.b', exchange: 'x' },
          { match: 'a.*', exchange: 'x' },
          { match: '**', exchange: 'x' },
        ],
      };
      expect(found(doc, 'route-shadowed')).toStrictEqual([]);
    });
  });

  it('sets a keyword and a severity on every issue', () => {
    const doc: TopologyDocument = { queues: [{ name: 'q', bindings: [{ exchange: 'missing' }] }, { name: 'q' }] };
    for (const i of checkRules(doc)) {
      expect(i.keyword).toMatch(/^[a-z-]+$/);
      expect(['error', 'warning']).toContain(i.severity);
    }
  });
});

describe('routing tests (expect:)', () => {
  const routed: TopologyDocument = {
    exchanges: [
      { name: 'tasks', type: 'topic', alternateExchange: 'unrouted' },
      { name: 'unrouted', type: 'fanout' },
    ],
    queues: [
      { name: 'videos', bindings: [{ exchange: 'tasks', routingKey: 'video.*' }] },
      { name: 'archive', bindings: [{ exchange: 'tasks', routingKey: 'video.#' }] },
      { name: 'lost', bindings: [{ exchange: 'unrouted' }] },
    ],
  };

  it('passes cases whose outcome matches', () => {
    const doc: TopologyDocument = {
      ...routed,
      expect: [
        { publish: { exchange: 'tasks', routingKey: 'video' }, reaches: ['archive'], notReaches: ['videos'] },
        { publish: { exchange: 'tasks', routingKey: 'audio' }, reaches: ['lost'] },
        { publish: { exchange: '', routingKey: 'ghost' }, reaches: [] },
      ],
    };
    expect(found(doc, 'routing-test')).toEqual([]);
    expect(found(doc, 'dangling-reference')).toEqual([]);
  });

  it('reports a failing case at the case, with what was reached instead', () => {
    const doc: TopologyDocument = {
      ...routed,
      expect: [
        { publish: { exchange: 'tasks', routingKey: 'video.encode.hd' }, reaches: ['videos'], notReaches: ['archive'] },
        { publish: { exchange: 'tasks', routingKey: 'audio' }, reaches: [] },
      ],
    };
    expect(found(doc, 'routing-test')).toEqual(['error /expect/0', 'error /expect/1']);
    const [first, second] = checkRules(doc).filter((i) => i.keyword === 'routing-test');
    expect(first?.message).toBe(
      "a message to 'tasks' with routing key 'video.encode.hd' reaches 'archive', but it must reach 'videos' and it must not reach 'archive'",
    );
    expect(second?.message).toContain("reaches 'lost', but it must reach no queue");
  });

  it('refuses cases naming undeclared exchanges or queues, and cases that check nothing', () => {
    const doc: TopologyDocument = {
      ...routed,
      expect: [
        { publish: { exchange: 'task', routingKey: 'video.x' }, reaches: ['videos'] },
        { publish: { exchange: 'tasks', routingKey: 'video.x' }, notReaches: ['video'] },
        { publish: { exchange: 'tasks' } },
      ],
    };
    expect(found(doc, 'dangling-reference')).toEqual([
      'error /expect/0/publish/exchange',
      'error /expect/1/notReaches/0',
    ]);
    expect(found(doc, 'routing-test')).toEqual(['error /expect/2']);
  });
});
