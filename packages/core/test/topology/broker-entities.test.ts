// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` in plain strings is the interpolation syntax the password tests use.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TopologyValidationError } from '../../src/errors.js';
import { stableStringify } from '../../src/internal/stable-stringify.js';
import { type BrokerEntities, Sensitive } from '../../src/model/broker-entities.js';
import { formatIssues } from '../../src/topology/check/format-issues.js';
import { topologySchema, validateSchema } from '../../src/topology/check/validate.js';
import { compileTopology } from '../../src/topology/compile/compile.js';
import type { HashingAlgorithm, TopologyDocument } from '../../src/topology/document.js';
import { parseTopologyText } from '../../src/topology/load/load.js';
import { checkTopology, compileDocument } from '../../src/topology/pipeline.js';
import { exportTopology, toYaml } from '../../src/topology/render/export.js';
import type { Capabilities, ObservedTopology, PolicyTarget } from '../../src/transport/spi.js';

const SECRET = 'hunter2-Wk9q';

const doc: TopologyDocument = {
  vhosts: [{ name: 'orders', description: 'Orders', tags: ['prod'], defaultQueueType: 'quorum' }, { name: 'billing' }],
  users: [
    { name: 'orders-svc', password: SECRET, tags: [] },
    { name: 'ops', passwordHash: 'c2FsdGRpZ2VzdA==', tags: ['monitoring'] },
    { name: 'audit' },
  ],
  permissions: [
    { user: 'orders-svc', vhost: 'orders', configure: '^orders\\.', write: '.*', read: '.*' },
    { user: 'audit', vhost: 'billing', configure: '', write: '', read: '.*' },
  ],
  topicPermissions: [{ user: 'orders-svc', vhost: 'orders', exchange: 'events', write: '^orders\\.', read: '.*' }],
  policies: [
    {
      name: 'ttl-lopri',
      vhost: 'orders',
      pattern: '^lopri$',
      applyTo: 'queues',
      priority: 1,
      definition: { 'message-ttl': 5 },
    },
    { name: 'ae', pattern: '.*', definition: { 'alternate-exchange': 'unrouted' } },
  ],
  operatorPolicies: [{ name: 'cap', pattern: '.*', applyTo: 'queues', definition: { 'max-length': 100_000 } }],
};

describe('compiling broker entities', () => {
  it('applies defaults and sorts each list by identity', () => {
    const { broker } = compileTopology(doc);
    expect({ ...broker, users: broker?.users.map(({ credential, ...rest }) => rest) }).toStrictEqual({
      vhosts: [
        { name: 'billing', tags: [] },
        { name: 'orders', description: 'Orders', tags: ['prod'], defaultQueueType: 'quorum' },
      ],
      users: [
        { name: 'audit', tags: [] },
        { name: 'ops', tags: ['monitoring'] },
        { name: 'orders-svc', tags: [] },
      ],
      permissions: [
        { user: 'audit', vhost: 'billing', configure: '', write: '', read: '.*' },
        { user: 'orders-svc', vhost: 'orders', configure: '^orders\\.', write: '.*', read: '.*' },
      ],
      topicPermissions: [{ user: 'orders-svc', vhost: 'orders', exchange: 'events', write: '^orders\\.', read: '.*' }],
      policies: [
        {
          name: 'cap',
          operator: true,
          pattern: '.*',
          applyTo: 'queues',
          priority: 0,
          definition: { 'max-length': 100_000 },
        },
        {
          name: 'ae',
          operator: false,
          pattern: '.*',
          applyTo: 'all',
          priority: 0,
          definition: { 'alternate-exchange': 'unrouted' },
        },
        {
          name: 'ttl-lopri',
          operator: false,
          vhost: 'orders',
          pattern: '^lopri$',
          applyTo: 'queues',
          priority: 1,
          definition: { 'message-ttl': 5 },
        },
      ],
    });
  });

  it('gives the same result whatever the order of the document', () => {
    const reversed = Object.fromEntries(
      Object.entries(doc).map(([k, v]) => [k, Array.isArray(v) ? [...v].reverse() : v]),
    ) as TopologyDocument;
    expect(JSON.stringify(compileTopology(reversed))).toBe(JSON.stringify(compileTopology(doc)));
  });

  it('wraps a password in Sensitive and keeps a hash with its algorithm', () => {
    const users = compileTopology(doc).broker?.users ?? [];
    const svc = users.find((u) => u.name === 'orders-svc');
    expect(svc?.credential?.kind).toBe('password');
    const password = svc?.credential?.kind === 'password' ? svc.credential.password : undefined;
    expect(password).toBeInstanceOf(Sensitive);
    expect(password?.reveal()).toBe(SECRET);
    expect(users.find((u) => u.name === 'ops')?.credential).toStrictEqual({
      kind: 'hash',
      hash: 'c2FsdGRpZ2VzdA==',
      algorithm: 'rabbit_password_hashing_sha256',
    });
    expect(users.find((u) => u.name === 'audit')?.credential).toBeUndefined();
  });

  it('leaves broker out of a topology that declares no broker entity', () => {
    expect(compileTopology({ queues: [{ name: 'q' }] })).not.toHaveProperty('broker');
    expect(compileTopology({ queues: [{ name: 'q' }], users: [] })).not.toHaveProperty('broker');
  });

  it('keeps TS topologies working: compileDocument checks the new sections', () => {
    expect(compileDocument(doc).broker?.vhosts).toHaveLength(2);
    expect(() => compileDocument({ users: [{ name: 'u', password: 'a', passwordHash: 'b' } as never] })).toThrow(
      TopologyValidationError,
    );
  });
});

describe('a password from the environment never shows', () => {
  /** A file with a password from ${ORDERS_PASSWORD} and mistakes around it (errors and warnings). */
  const text = [
    'users:',
    '  - { name: orders-svc, password: "${ORDERS_PASSWORD}", tags: [] }',
    '  - { name: orders-svc, password: "${ORDERS_PASSWORD}" }',
    'permissions:',
    "  - { user: ghost, vhost: nowhere, configure: '(', write: '.*', read: '.*' }",
    'policies:',
    '  - { name: p, pattern: ".*", definition: { mesage-ttl: 1 } }',
  ].join('\n');

  it('is not in the issues, their formatting, nor the desired topology', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-broker-'));
    const file = join(dir, 'topology.yaml');
    await writeFile(file, text);
    const env = { ORDERS_PASSWORD: SECRET };
    const checked = await checkTopology(file, { env });
    expect(checked.errors.map((i) => i.keyword).sort()).toStrictEqual([
      'duplicate-name',
      'invalid-regex',
      'policy-definition',
    ]);
    expect(checked.warnings.map((i) => i.keyword)).toStrictEqual([
      'undeclared-broker-entity',
      'undeclared-broker-entity',
    ]);
    // Located like every other issue: file, line and column.
    expect(checked.errors.find((i) => i.keyword === 'duplicate-name')).toMatchObject({ line: 3, column: 13 });
    const output = `${formatIssues(checked.issues)}\n${JSON.stringify(checked.issues)}`;
    expect(output).not.toContain(SECRET);

    const fixed = text.split('\n').slice(0, 2).join('\n');
    await writeFile(file, fixed);
    const ok = await checkTopology(file, { env });
    expect(ok.errors).toStrictEqual([]);
    expect(ok.desired?.broker?.users).toHaveLength(1);
    expect(JSON.stringify(ok.desired)).not.toContain(SECRET);
    expect(JSON.stringify(ok.desired)).toContain('(sensitive)');
    expect(inspect(ok.desired, { depth: null })).not.toContain(SECRET);
  });

  it('is not quoted when YAML reads it as a number', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-broker-'));
    const file = join(dir, 'topology.yaml');
    await writeFile(file, 'users:\n  - name: u\n    password: ${PIN}\n');
    const checked = await checkTopology(file, { env: { PIN: '90210' } });
    expect(checked.errors).toMatchObject([{ keyword: 'password-type', path: '/users/0/password', line: 3 }]);
    expect(formatIssues(checked.issues)).not.toContain('90210');
  });
});

describe('exporting broker entities', () => {
  const none: ObservedTopology = { exchanges: [], queues: [], bindings: [], complete: true };
  /** What a broker lists: stored hashes, every policy with its vhost. */
  const listed: BrokerEntities = {
    vhosts: [
      { name: '/', description: '', tags: [] },
      { name: 'orders', description: 'Orders', tags: ['prod'], defaultQueueType: 'quorum' },
    ],
    users: [
      {
        name: 'orders-svc',
        tags: [],
        credential: { kind: 'hash', hash: 'c2FsdGRpZ2VzdA==', algorithm: 'rabbit_password_hashing_sha256' },
      },
      { name: 'admin', tags: ['administrator'], credential: { kind: 'password', password: new Sensitive(SECRET) } },
    ],
    permissions: [{ user: 'orders-svc', vhost: 'orders', configure: '^orders\\.', write: '.*', read: '' }],
    topicPermissions: [{ user: 'orders-svc', vhost: 'orders', exchange: 'events', write: '^o', read: '.*' }],
    policies: [
      {
        name: 'ttl',
        operator: false,
        vhost: 'orders',
        pattern: '^lopri$',
        applyTo: 'queues',
        priority: 2,
        definition: { 'message-ttl': 1000, 'dead-letter-exchange': 'dlx' },
      },
      { name: 'ae', operator: false, vhost: '/', pattern: '.*', applyTo: 'all', priority: 0, definition: { x: 1 } },
      {
        name: 'cap',
        operator: true,
        vhost: '/',
        pattern: '.*',
        applyTo: 'queues',
        priority: 0,
        definition: { 'max-length': 10 },
      },
    ],
  };

  it('writes a file that compiles back to the same entities, users without credentials', () => {
    const yaml = toYaml(exportTopology(none, { broker: listed, vhost: 'orders' }));
    expect(yaml).not.toContain(SECRET);
    expect(yaml).not.toContain('c2FsdGRpZ2VzdA==');
    expect(yaml).not.toMatch(/password/i);
    const { topology, issues } = parseTopologyText(yaml, 'export.yaml', { env: {} });
    expect(issues).toStrictEqual([]);
    if (!topology) throw new TypeError('no topology');
    const schemaIssues = validateSchema(topology);
    expect(schemaIssues, formatIssues(schemaIssues)).toStrictEqual([]);

    // Equal up to order and credentials; a policy written without vhost is in the connection's, and
    // an empty vhost description is no description (as the planner compares them).
    const normal = (b: BrokerEntities | undefined, vhost: string) =>
      Object.fromEntries(
        Object.entries(b ?? {}).map(([kind, list]: [string, readonly object[]]) => [
          kind,
          list
            .map((e) => {
              const { credential: _, ...rest } = e as { credential?: unknown; description?: string };
              if (rest.description === '') delete rest.description;
              return stableStringify('pattern' in rest ? { vhost, ...rest } : rest);
            })
            .sort(),
        ]),
      );
    const again = compileTopology(topology.document).broker;
    expect(normal(again, 'orders')).toStrictEqual(normal(listed, 'orders'));
    expect(again?.users.map((u) => u.credential)).toStrictEqual([undefined, undefined]);
  });

  it('omits defaults and the connection vhost, in the document key order', () => {
    const yaml = toYaml(exportTopology(none, { broker: listed, vhost: '/' }));
    expect(yaml).toContain(
      [
        'policies:',
        '  - name: ae',
        '    pattern: .*',
        '    definition:',
        '      x: 1',
        '  - name: ttl',
        '    vhost: orders',
        '    pattern: ^lopri$',
        '    applyTo: queues',
        '    priority: 2',
        '    definition:',
        '      dead-letter-exchange: dlx',
        '      message-ttl: 1000',
        'operatorPolicies:',
        '  - name: cap',
        '    pattern: .*',
        '    applyTo: queues',
        '    definition:',
        '      max-length: 10',
      ].join('\n'),
    );
    expect(yaml).toContain('users:\n  - name: admin\n    tags:\n      - administrator\n  - name: orders-svc\n');
  });

  it('writes no broker section without entities', () => {
    expect(Object.keys(exportTopology(none))).toStrictEqual(['version']);
  });
});

describe('capabilities in the pipeline', () => {
  it('report unsupported sections only when a transport is named', () => {
    const caps = { exchangeTypes: new Set(['direct']), queueTypes: new Set(['classic']) } as unknown as Capabilities;
    expect(() => compileDocument(doc, { capabilities: caps, transport: 'memory' })).toThrow(
      /the memory transport does not support vhosts/,
    );
  });
});

describe('the schema of the broker sections', () => {
  it('lists the values of the TypeScript enumerations', () => {
    const targets = [
      'queues',
      'exchanges',
      'all',
      'classic_queues',
      'quorum_queues',
      'streams',
    ] as const satisfies readonly PolicyTarget[];
    const algorithms = [
      'rabbit_password_hashing_sha256',
      'rabbit_password_hashing_sha512',
      'rabbit_password_hashing_md5',
    ] as const satisfies readonly HashingAlgorithm[];
    const complete: [
      Exclude<PolicyTarget, (typeof targets)[number]> extends never ? true : false,
      Exclude<HashingAlgorithm, (typeof algorithms)[number]> extends never ? true : false,
    ] = [true, true];
    expect(complete).toEqual([true, true]);
    const defs = topologySchema().$defs as Record<string, { properties: Record<string, { enum?: unknown }> }>;
    expect(defs.policy?.properties.applyTo?.enum).toEqual(targets);
    expect(defs.operatorPolicy?.properties.applyTo?.enum).toEqual(targets);
    expect(defs.user?.properties.hashingAlgorithm?.enum).toEqual(algorithms);
  });

  it('the valid example is sound for the rules too', async () => {
    const file = new URL('../../../../schemas/examples/valid/broker-entities.yaml', import.meta.url).pathname;
    const checked = await checkTopology(file, { env: {} });
    expect(checked.issues, formatIssues(checked.issues)).toStrictEqual([]);
    expect(checked.desired?.broker?.policies).toHaveLength(3);
  });
});
