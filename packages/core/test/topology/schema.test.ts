import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import type { TopologyIssue } from '../../src/errors.js';
import { formatIssues } from '../../src/topology/check/format-issues.js';
import { topologySchema, validateSchema } from '../../src/topology/check/validate.js';
import type { TopologyDocument } from '../../src/topology/document.js';
import { loadTopology, topologyFromDocument } from '../../src/topology/load/load.js';
import type { ExchangeType, OverflowBehaviour, QueueType } from '../../src/transport/spi.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const examples = join(root, 'schemas', 'examples');
const schemaFile = join(root, 'schemas', 'topology.schema.json');
/** The environment fixtures are checked with: `missing-env.yaml` relies on everything else being unset. */
const ENV = { WAKAME_ENV: 'test' };

function topologyFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? topologyFiles(join(dir, entry.name))
      : /\.(ya?ml|json)$/.test(entry.name)
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Everything `wakame validate` would report for a file: loading issues, then schema issues. */
async function issuesOf(file: string): Promise<TopologyIssue[]> {
  const { topology, issues } = await loadTopology(file, { env: ENV });
  return [...issues, ...(topology ? validateSchema(topology) : [])];
}

describe('valid examples', () => {
  const files = topologyFiles(join(examples, 'valid'));

  it('there are enough of them', () => {
    expect(files.length).toBeGreaterThanOrEqual(9);
  });

  it.each(files.map((f) => [relative(examples, f), f]))('%s has no issues', async (_, file) => {
    const issues = await issuesOf(file);
    expect(issues, formatIssues(issues)).toEqual([]);
  });
});

describe('invalid examples', () => {
  const dir = join(examples, 'invalid');
  const files = topologyFiles(dir);

  it('there are enough of them', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  it.each(files.map((f) => [basename(f), f]))('%s reports exactly its expected issues', async (_, file) => {
    const expected = readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => /^# expect: (\S+) (\S+) (?:(\S+):)?(\d+):(\d+)$/.exec(line))
      .filter((m) => m !== null)
      .map(
        ([, path, keyword, other, line, column]) => `${other ?? basename(file)}:${line}:${column} ${path} ${keyword}`,
      );
    expect(expected.length, 'the fixture names its expected issues').toBeGreaterThan(0);
    const issues = await issuesOf(file);
    const actual = issues.map(
      (i) =>
        `${i.file === undefined ? '?' : relative(dir, i.file)}:${i.line}:${i.column} ${i.path || "''"} ${i.keyword}`,
    );
    expect(actual.sort(), formatIssues(issues)).toEqual(expected.sort());
    for (const issue of issues) {
      expect(issue.severity).toBe('error');
      expect(issue.sourceLine).toBeTypeOf('string');
      expect(issue.message).not.toMatch(/must NOT|must match|must be equal|must have required|oneOf|anyOf/);
    }
  });

  it('points at the offending text, with its line', async () => {
    const [typo] = await issuesOf(join(dir, 'typo-property.yaml'));
    expect(typo).toMatchObject({
      path: '/queues/0/maxPriorty',
      message: "unknown property 'maxPriorty' (did you mean 'maxPriority'?)",
      line: 6,
      column: 5,
      sourceLine: '    maxPriorty: 10',
    });
    const [tooHigh] = await issuesOf(join(dir, 'max-priority-too-high.yaml'));
    expect(tooHigh).toMatchObject({ line: 6, column: 18, sourceLine: '    maxPriority: 300' });
    const [syntax] = await issuesOf(join(dir, 'yaml-syntax-error.yaml'));
    expect(syntax?.message).toMatch(/^YAML syntax error: .*must be sufficiently indented and end with a \]$/);
    const [cycle] = await issuesOf(join(dir, 'include-cycle-a.yaml'));
    expect(cycle?.message).toBe('include cycle: include-cycle-a.yaml → include-cycle-b.yaml → include-cycle-a.yaml');
  });
});

describe('the schema file', () => {
  it('is what validation reads when run from the sources (the build copies it into the package)', () => {
    expect(topologySchema()).toEqual(JSON.parse(readFileSync(schemaFile, 'utf8')));
  });

  it('is a valid draft 2020-12 schema that ajv compiles in strict mode', () => {
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    expect(ajv.validateSchema(schema), JSON.stringify(ajv.errors)).toBe(true);
    expect(() => ajv.compile(schema)).not.toThrow();
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe('https://wakame.dev/schemas/topology/v1.json');
    expect(schema.title).toBeTypeOf('string');
  });

  it('describes every property and forbids unknown ones everywhere but free-form maps', () => {
    const undescribed: string[] = [];
    const open: string[] = [];
    const freeForm = new Set([
      '#/$defs/arguments',
      '#/properties/priorityClasses',
      '#/$defs/task/properties/payload',
      '#/$defs/schedule/properties/payload',
    ]);
    const walk = (node: unknown, at: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const schema = node as Record<string, unknown>;
      if (schema.type === 'object' && schema.additionalProperties !== false && !freeForm.has(at)) {
        if (!at.endsWith('/headers')) open.push(at);
      }
      for (const [name, sub] of Object.entries((schema.properties as Record<string, unknown>) ?? {})) {
        const description = (sub as { description?: unknown }).description;
        if (typeof description !== 'string' || description.length < 10) undescribed.push(`${at}/properties/${name}`);
      }
      for (const [key, value] of Object.entries(schema)) {
        if (typeof value === 'object') walk(value, `${at}/${key}`);
      }
    };
    walk(topologySchema(), '#');
    expect(undescribed).toEqual([]);
    expect(open).toEqual([]);
  });
});

/** Every property made required, recursively: a value of this type must spell out the whole format. */
type Complete<T> = T extends readonly (infer U)[]
  ? readonly Complete<U>[]
  : T extends object
    ? { readonly [K in keyof T]-?: Complete<T[K]> }
    : T;

/** A document using every property of the TypeScript types (the compiler checks none is left out). */
const everything = {
  protocol: 'wakame',
  version: 1,
  name: 'orders',
  include: ['other.yaml'],
  defaults: {
    exchange: {
      type: 'topic',
      durable: true,
      autoDelete: false,
      internal: false,
      alternateExchange: 'ae',
      arguments: {},
    },
    queue: {
      durable: true,
      exclusive: false,
      autoDelete: false,
      maxPriority: 10,
      messageTtl: 0,
      expires: 1,
      maxLength: 0,
      maxLengthBytes: 0,
      overflow: 'reject-publish-dlx',
      deadLetter: { exchange: 'dlx', routingKey: 'dead' },
      queueType: 'quorum',
      singleActiveConsumer: true,
      arguments: { 'x-queue-mode': 'lazy' },
    },
    task: {
      retry: { maxAttempts: 3, initialDelay: 0, factor: 1, maxDelay: 0, jitter: 1 },
      priority: 'low',
      deadLetter: { queue: 'failed', exchange: 'dlx', routingKey: 'dead' },
    },
  },
  exchanges: [
    {
      name: 'x',
      type: 'headers',
      durable: true,
      autoDelete: true,
      internal: true,
      alternateExchange: 'ae',
      arguments: {},
    },
  ],
  queues: [
    {
      name: 'q',
      durable: true,
      exclusive: true,
      autoDelete: true,
      maxPriority: 255,
      messageTtl: 4294967295,
      expires: 4294967295,
      maxLength: 1,
      maxLengthBytes: 1,
      overflow: 'drop-head',
      deadLetter: { exchange: 'dlx', routingKey: '' },
      queueType: 'stream',
      singleActiveConsumer: false,
      arguments: { any: [1, { nested: true }] },
      bindings: [{ exchange: 'x', routingKey: 'k', headers: { a: 'b', n: 1, f: false }, match: 'any', arguments: {} }],
    },
  ],
  bindings: [
    {
      exchange: 'x',
      routingKey: 'k',
      headers: { a: 1 },
      match: 'all',
      arguments: {},
      destination: 'y',
      destinationType: 'exchange',
    },
  ],
  broadcasts: [{ name: 'control', queuePrefix: 'ctl', durable: false }],
  priorityClasses: { low: 'q' },
  tasks: [
    {
      name: 'media.process',
      description: 'd',
      payload: { type: 'object' },
      priority: 0,
      route: { exchange: 'x', routingKey: 'k' },
      retry: { maxAttempts: 100, initialDelay: 1, factor: 2, maxDelay: 10, jitter: 0 },
      deadLetter: { queue: 'failed', exchange: 'dlx', routingKey: 'dead' },
      rateLimit: { max: 100, per: '1s' },
      concurrency: 4,
      protocol: 'celery',
    },
  ],
  routes: [{ match: 'media.**', exchange: 'x', routingKey: 'k' }],
  schedules: [
    {
      name: 'nightly',
      task: 'media.process',
      payload: { url: 'u' },
      cron: '0 3 * * *',
      timezone: 'Europe/Paris',
      every: 60_000,
      missed: 'skip',
      grace: '5m',
    },
  ],
  expect: [
    { publish: { exchange: 'x', routingKey: 'k', headers: { format: 'mp4' } }, reaches: ['q'], notReaches: ['r'] },
  ],
  vhosts: [{ name: 'orders', description: 'Orders', tags: ['prod'], defaultQueueType: 'quorum' }],
  // password and passwordHash exclude each other: the two forms of a user are two entries.
  users: [
    { name: 'orders-svc', password: 'secret', tags: [] },
    { name: 'ops', passwordHash: 'aGFzaA==', hashingAlgorithm: 'rabbit_password_hashing_sha512', tags: ['monitoring'] },
  ],
  permissions: [{ user: 'orders-svc', vhost: 'orders', configure: '^orders\\.', write: '.*', read: '' }],
  topicPermissions: [{ user: 'orders-svc', vhost: 'orders', exchange: 'x', write: '^orders\\.', read: '.*' }],
  policies: [
    {
      name: 'ttl',
      vhost: 'orders',
      pattern: '^q$',
      applyTo: 'queues',
      priority: 1,
      definition: { 'message-ttl': 1000 },
    },
  ],
  operatorPolicies: [
    { name: 'cap', vhost: 'orders', pattern: '.*', applyTo: 'all', priority: 0, definition: { 'max-length': 10 } },
  ],
} as const satisfies Complete<TopologyDocument>;

/** Resolves the local `$ref`s of the topology schema. */
function deref(schema: Record<string, unknown>): Record<string, unknown> {
  let current = schema;
  while (typeof current.$ref === 'string') {
    current = current.$ref
      .slice(2)
      .split('/')
      .reduce<Record<string, unknown>>((node, key) => node[key] as Record<string, unknown>, topologySchema());
  }
  return current;
}

describe('the schema and the TypeScript types agree', () => {
  it('a document using every TypeScript property is valid', () => {
    const issues = validateSchema(topologyFromDocument(everything));
    expect(issues, formatIssues(issues)).toEqual([]);
  });

  it('every schema property is a TypeScript property', () => {
    const missing: string[] = [];
    /** Each schema property must be in one of `values` (a list's items together, as a user's two forms). */
    const cover = (schema: Record<string, unknown>, values: readonly unknown[], at: string): void => {
      const s = deref(schema);
      for (const value of values) {
        if (Array.isArray(value) && s.items) cover(s.items as Record<string, unknown>, value, `${at}[]`);
      }
      for (const [name, sub] of Object.entries((s.properties as Record<string, Record<string, unknown>>) ?? {})) {
        const having = values.filter((v) => Object.hasOwn(v as Record<string, unknown>, name));
        if (having.length === 0) missing.push(`${at}.${name}`);
        for (const v of having) cover(sub, [(v as Record<string, unknown>)[name]], `${at}.${name}`);
      }
    };
    cover(topologySchema(), [everything], 'document');
    expect(missing).toEqual([]);
  });

  it('enumerations list the same values', () => {
    const exchangeTypes = ['direct', 'topic', 'fanout', 'headers'] as const satisfies readonly ExchangeType[];
    const overflows = [
      'drop-head',
      'reject-publish',
      'reject-publish-dlx',
    ] as const satisfies readonly OverflowBehaviour[];
    const queueTypes = ['classic', 'quorum', 'stream'] as const satisfies readonly QueueType[];
    // Compile-time completeness: each is `true` only when the list covers the whole union.
    const complete: [
      Exclude<ExchangeType, (typeof exchangeTypes)[number]> extends never ? true : false,
      Exclude<OverflowBehaviour, (typeof overflows)[number]> extends never ? true : false,
      Exclude<QueueType, (typeof queueTypes)[number]> extends never ? true : false,
    ] = [true, true, true];
    expect(complete).toEqual([true, true, true]);
    const defs = topologySchema().$defs as Record<string, { properties: Record<string, { enum?: unknown }> }>;
    expect(defs.exchange?.properties.type?.enum).toEqual(exchangeTypes);
    expect(defs.queue?.properties.overflow?.enum).toEqual(overflows);
    expect(defs.queue?.properties.queueType?.enum).toEqual(queueTypes);
  });
});
