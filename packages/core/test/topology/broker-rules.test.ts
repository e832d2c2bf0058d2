import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { effectiveQueueArguments } from '../../src/model/policies.js';
import { checkRules, type RuleOptions } from '../../src/topology/check/rules.js';
import { compilePolicy } from '../../src/topology/compile/broker.js';
import { compileQueue } from '../../src/topology/compile/compile.js';
import type { PolicyDocument, TopologyDocument } from '../../src/topology/document.js';
import type { BrokerEntityKind, Capabilities } from '../../src/transport/spi.js';
import { allCapabilities } from './specs.js';

/** `severity path` of the issues of one rule. */
function found(doc: TopologyDocument, rule: string, options?: RuleOptions): string[] {
  return checkRules(doc, options)
    .filter((i) => i.keyword === rule)
    .map((i) => `${i.severity} ${i.path}`);
}

/** `path: message` of the issues of one rule. */
function messages(doc: TopologyDocument, rule: string, options?: RuleOptions): string[] {
  return checkRules(doc, options)
    .filter((i) => i.keyword === rule)
    .map((i) => `${i.path}: ${i.message}`);
}

const ALL_KINDS: ReadonlySet<BrokerEntityKind> = new Set([
  'vhost',
  'user',
  'permission',
  'topic-permission',
  'policy',
  'operator-policy',
]);

/** An AMQP-like transport that keeps every broker entity and honours a few policy keys. */
const rabbit: Capabilities = {
  ...allCapabilities,
  brokerEntities: ALL_KINDS,
  policyKeys: new Set(['message-ttl', 'max-length', 'dead-letter-exchange', 'alternate-exchange']),
};
/** The same transport without any broker entity (as memory://). */
const memory: Capabilities = { ...rabbit, brokerEntities: new Set(), policyKeys: new Set() };

/** Every section, sound: no broker rule fires. */
const sound: TopologyDocument = {
  vhosts: [{ name: 'orders', tags: ['prod'] }],
  users: [{ name: 'orders-svc', password: 'x' }],
  permissions: [{ user: 'orders-svc', vhost: 'orders', configure: '^orders\\.', write: '.*', read: '.*' }],
  topicPermissions: [{ user: 'orders-svc', vhost: 'orders', exchange: 'events', write: '^orders\\.', read: '.*' }],
  policies: [
    {
      name: 'ttl',
      vhost: 'orders',
      pattern: '^lopri$',
      applyTo: 'queues',
      definition: { 'message-ttl': 60_000, 'dead-letter-exchange': 'dlx' },
    },
  ],
  operatorPolicies: [{ name: 'cap', pattern: '.*', applyTo: 'queues', definition: { 'max-length': 100_000 } }],
};

describe('broker entity rules', () => {
  it('find nothing wrong with sound sections, with or without capabilities', () => {
    expect(checkRules(sound)).toStrictEqual([]);
    expect(checkRules(sound, { capabilities: rabbit, transport: 'amqp' })).toStrictEqual([]);
  });

  it('report patterns and permissions that are not regular expressions, with the reason', () => {
    const doc: TopologyDocument = {
      permissions: [{ user: 'u', vhost: '/', configure: '(', write: '.*', read: '[a-' }],
      topicPermissions: [{ user: 'u', vhost: '/', exchange: 'e', write: '*', read: '' }],
      policies: [{ name: 'p', pattern: '^q(', definition: { 'message-ttl': 1 } }],
    };
    expect(messages(doc, 'invalid-regex')).toStrictEqual([
      '/permissions/0/configure: configure is not a valid regular expression: Unterminated group',
      '/permissions/0/read: read is not a valid regular expression: Unterminated character class',
      '/topicPermissions/0/write: write is not a valid regular expression: Nothing to repeat',
      '/policies/0/pattern: pattern is not a valid regular expression: Unterminated group',
    ]);
  });

  it('report duplicates by identity: name, vhost and user, kind', () => {
    const doc: TopologyDocument = {
      vhosts: [{ name: 'a' }, { name: 'a', description: 'again' }],
      users: [{ name: 'u' }, { name: 'u', passwordHash: 'aGFzaA==' }],
      permissions: [
        { user: 'u', vhost: 'a', configure: '', write: '', read: '' },
        { user: 'u', vhost: '/', configure: '', write: '', read: '' },
        { user: 'u', vhost: 'a', configure: '.*', write: '.*', read: '.*' },
      ],
      policies: [
        { name: 'p', pattern: '.*', definition: { 'max-length': 1 } },
        { name: 'p', vhost: 'a', pattern: '.*', definition: { 'max-length': 1 } },
        { name: 'p', pattern: 'x', definition: { 'max-length': 2 } },
      ],
      // An operator policy is another kind of entity: the same name is no duplicate.
      operatorPolicies: [{ name: 'p', pattern: '.*', definition: { 'max-length': 1 } }],
    };
    expect(messages(doc, 'duplicate-name')).toStrictEqual([
      '/vhosts/1/name: vhost a is already declared at /vhosts/0',
      '/users/1/name: user u is already declared at /users/0',
      '/permissions/2/user: permission u on vhost a is already declared at /permissions/0',
      '/policies/2/name: policy p is already declared at /policies/0',
    ]);
  });

  it('check policy keys: known, allowed in operator policies, fit for applyTo', () => {
    const doc: TopologyDocument = {
      policies: [
        { name: 'typo', pattern: '.*', definition: { 'mesage-ttl': 1, colour: 'red' } },
        {
          name: 'ex',
          pattern: '.*',
          applyTo: 'exchanges',
          definition: { 'max-length': 1, 'alternate-exchange': 'ae' },
        },
        { name: 'q', pattern: '.*', applyTo: 'quorum_queues', definition: { 'alternate-exchange': 'ae' } },
        // `all` takes both kinds of key; federation applies to either.
        { name: 'all', pattern: '.*', definition: { 'alternate-exchange': 'ae', 'message-ttl': 5 } },
        { name: 'fed', pattern: '.*', applyTo: 'exchanges', definition: { 'federation-upstream-set': 'all' } },
      ],
      operatorPolicies: [{ name: 'op', pattern: '.*', definition: { 'dead-letter-exchange': 'dlx', expires: 1000 } }],
    };
    expect(messages(doc, 'policy-definition')).toStrictEqual([
      "/policies/0/definition/mesage-ttl: 'mesage-ttl' is not a RabbitMQ policy key (did you mean 'message-ttl'?)",
      "/policies/0/definition/colour: 'colour' is not a RabbitMQ policy key",
      "/policies/1/definition/max-length: 'max-length' applies to queues, but the policy applies to exchanges only (applyTo: exchanges)",
      "/policies/2/definition/alternate-exchange: 'alternate-exchange' applies to exchanges, but the policy applies to queues only (applyTo: quorum_queues)",
      "/operatorPolicies/0/definition/dead-letter-exchange: 'dead-letter-exchange' cannot be set by an operator policy (only expires, message-ttl, max-length, max-length-bytes, max-in-memory-length, max-in-memory-bytes, delivery-limit)",
    ]);
  });

  it('check the values of the common keys against the argument table', () => {
    const definition = {
      'message-ttl': -1,
      expires: 0,
      'max-length': 1.5,
      'max-length-bytes': '10',
      overflow: 'drop-tail',
      'dead-letter-exchange': 5,
      'dead-letter-routing-key': 'ok',
      'queue-mode': 'lazy',
    };
    const ok = { 'message-ttl': 4_294_967_295, expires: 1, 'max-length': 0, overflow: 'reject-publish-dlx' };
    const doc: TopologyDocument = {
      policies: [
        { name: 'bad', pattern: '.*', applyTo: 'queues', definition },
        { name: 'ok', pattern: '.*', applyTo: 'queues', definition: ok },
      ],
      operatorPolicies: [{ name: 'op', pattern: '.*', definition: { 'message-ttl': 5_000_000_000 } }],
    };
    expect(messages(doc, 'policy-definition')).toStrictEqual([
      '/policies/0/definition/message-ttl: message-ttl must be a whole number of ms from 0 to 2^32-1, got -1 (in a policy)',
      '/policies/0/definition/expires: expires must be a whole number of ms from 1 to 2^32-1, got 0 (in a policy)',
      '/policies/0/definition/max-length: max-length must be a whole number of at least 0, got 1.5 (in a policy)',
      "/policies/0/definition/max-length-bytes: max-length-bytes must be a whole number of at least 0, got '10' (in a policy)",
      "/policies/0/definition/overflow: overflow must be one of drop-head, reject-publish, reject-publish-dlx, got 'drop-tail' (in a policy)",
      '/policies/0/definition/dead-letter-exchange: dead-letter-exchange must be a string, got 5 (in a policy)',
      '/operatorPolicies/0/definition/message-ttl: message-ttl must be a whole number of ms from 0 to 2^32-1, got 5000000000 (in an operator policy)',
    ]);
  });

  it('warn about an empty policy definition', () => {
    const doc: TopologyDocument = { policies: [{ name: 'p', pattern: '.*', definition: {} }] };
    expect(found(doc, 'policy-definition')).toStrictEqual(['warning /policies/0/definition']);
  });

  it('warn about users and vhosts named but not declared (the default vhost always exists)', () => {
    const doc: TopologyDocument = {
      vhosts: [{ name: 'orders' }],
      users: [{ name: 'known' }],
      permissions: [
        { user: 'known', vhost: 'orders', configure: '', write: '', read: '' },
        { user: 'ghost', vhost: 'billing', configure: '', write: '', read: '' },
        { user: 'known', vhost: '/', configure: '', write: '', read: '' },
      ],
      topicPermissions: [{ user: 'ghost', vhost: 'orders', exchange: 'e', write: '', read: '' }],
      policies: [
        { name: 'p', vhost: 'billing', pattern: '.*', definition: { 'max-length': 1 } },
        { name: 'q', pattern: '.*', definition: { 'max-length': 1 } },
      ],
    };
    expect(messages(doc, 'undeclared-broker-entity')).toStrictEqual([
      "/permissions/1/user: user 'ghost' is not declared in users: it must already exist on the broker",
      "/permissions/1/vhost: vhost 'billing' is not declared in vhosts: it must already exist on the broker",
      "/topicPermissions/0/user: user 'ghost' is not declared in users: it must already exist on the broker",
      "/policies/0/vhost: vhost 'billing' is not declared in vhosts: it must already exist on the broker",
    ]);
    expect(new Set(found(doc, 'undeclared-broker-entity').map((f) => f.split(' ')[0]))).toStrictEqual(
      new Set(['warning']),
    );
  });

  it('refuse a password YAML read as a number, without quoting it', () => {
    const doc = { users: [{ name: 'u', password: 90_210 }] } as unknown as TopologyDocument;
    const [issue, ...others] = checkRules(doc).filter((i) => i.keyword === 'password-type');
    expect(others).toEqual([]);
    expect(issue).toMatchObject({ path: '/users/0/password', severity: 'error' });
    expect(issue?.message).toContain('quote it');
    expect(issue?.message).not.toContain('90210');
  });
});

describe('transport support of broker entities', () => {
  it('is not checked without capabilities', () => {
    expect(found(sound, 'unsupported-feature')).toStrictEqual([]);
  });

  it('refuses each section the transport keeps none of, naming the transport', () => {
    expect(messages(sound, 'unsupported-feature', { capabilities: memory, transport: 'memory' })).toStrictEqual([
      '/vhosts: the memory transport does not support vhosts',
      '/users: the memory transport does not support users',
      '/permissions: the memory transport does not support permissions',
      '/topicPermissions: the memory transport does not support topic permissions',
      '/policies: the memory transport does not support policies',
      '/operatorPolicies: the memory transport does not support operator policies',
    ]);
    // Capabilities without the field: no broker entity at all.
    const { brokerEntities: _, policyKeys: __, ...legacy } = rabbit;
    expect(found(sound, 'unsupported-feature', { capabilities: legacy })).toHaveLength(6);
  });

  it('refuses policy keys the transport does not honour', () => {
    const caps = { ...rabbit, brokerEntities: new Set<BrokerEntityKind>(['policy']) };
    const doc: TopologyDocument = {
      policies: [{ name: 'p', pattern: '.*', definition: { 'message-ttl': 5, 'delivery-limit': 3 } }],
    };
    expect(messages(doc, 'unsupported-feature', { capabilities: caps, transport: 'file' })).toStrictEqual([
      "/policies/0/definition/delivery-limit: the file transport does not support the policy key 'delivery-limit'",
    ]);
  });
});

describe('policy-settable-argument', () => {
  const doc: TopologyDocument = {
    exchanges: [{ name: 'dlx', type: 'fanout' }],
    queues: [
      {
        name: 'orders.v1',
        maxPriority: 10,
        messageTtl: 60_000,
        overflow: 'reject-publish',
        deadLetter: { exchange: 'dlx', routingKey: 'dead' },
        bindings: [{ exchange: 'dlx' }],
      },
      { name: 'plain', maxPriority: 5, bindings: [{ exchange: 'dlx' }] },
    ],
  };

  it('is a lint only for transports that keep policies', () => {
    expect(found(doc, 'policy-settable-argument')).toStrictEqual([]);
    expect(found(doc, 'policy-settable-argument', { capabilities: memory })).toStrictEqual([]);
    expect(found(doc, 'policy-settable-argument', { capabilities: rabbit })).toStrictEqual([
      'warning /queues/0/messageTtl',
    ]);
  });

  it('gives the policy to write, which sets the same values as the arguments', () => {
    const [message = ''] = messages(doc, 'policy-settable-argument', { capabilities: rabbit });
    const snippet =
      "policies: [{ name: orders.v1-settings, pattern: '^orders\\.v1$', applyTo: queues, definition: { message-ttl: 60000, overflow: reject-publish, dead-letter-exchange: dlx, dead-letter-routing-key: dead } }]";
    expect(message).toBe(
      `/queues/0/messageTtl: queue 'orders.v1' sets messageTtl, overflow, deadLetter as arguments; consider a policy instead (arguments are fixed once the queue exists, and changing one means replacing the queue, while a policy changes in place): ${snippet}`,
    );
    // The snippet is YAML that, as a policy, gives the queue the same settings without the arguments.
    const written = parse(snippet.replace(/^policies: /, '')) as PolicyDocument[];
    const policy = compilePolicy(written[0] as PolicyDocument, false);
    const bare = compileQueue({ name: 'orders.v1', maxPriority: 10 }, undefined);
    expect(effectiveQueueArguments(bare, [policy])).toStrictEqual({
      maxPriority: 10,
      messageTtl: 60_000,
      overflow: 'reject-publish',
      deadLetter: { exchange: 'dlx', routingKey: 'dead' },
    });
    expect(effectiveQueueArguments(compileQueue({ name: 'orders-v1' }, undefined), [policy])).toStrictEqual({});
  });

  it('suggests one policy for the queues that take defaults.queue', () => {
    const withDefaults: TopologyDocument = {
      defaults: { queue: { maxLength: 1000 } },
      queues: [{ name: 'a' }, { name: 'b', maxLength: 5 }, { name: 'c+' }],
    };
    const found = messages(withDefaults, 'policy-settable-argument', { capabilities: rabbit });
    expect(found).toContain(
      "/defaults/queue/maxLength: defaults.queue sets maxLength as arguments of every queue; consider a policy instead (arguments are fixed once the queue exists, and changing one means replacing the queue, while a policy changes in place): policies: [{ name: queue-defaults, pattern: '^(?:a|c\\+)$', applyTo: queues, definition: { max-length: 1000 } }]",
    );
    expect(found.filter((m) => m.startsWith('/queues/'))).toStrictEqual([
      expect.stringMatching(/^\/queues\/1\/maxLength: queue 'b' sets maxLength/),
    ]);
  });
});
