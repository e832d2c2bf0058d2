import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { argumentSchema, withQueueArguments } from '../../src/model/argument-schema.js';
import {
  type ArgumentDefinition,
  brokerNames,
  POLICY_ARGUMENT_KEYS,
  QUEUE_ARGUMENT_ENTRIES,
} from '../../src/model/argument-table.js';
import { checkQueueArguments, fromBrokerArguments, toBrokerArguments } from '../../src/model/queue-arguments.js';
import { checkRules } from '../../src/topology/check/rules.js';
import { topologySchema } from '../../src/topology/check/validate.js';
import { toYaml } from '../../src/topology/render/export.js';
import type { QueueArguments, QueueSpec } from '../../src/transport/spi.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const schemaFile = 'schemas/topology.schema.json';

/** Values of an entry that must be accepted and survive every mapping. */
function samples(def: ArgumentDefinition): unknown[] {
  switch (def.kind) {
    case 'count':
      return [def.min, def.max ?? def.min + 1_000_000];
    case 'enum':
      return [...def.values];
    case 'flag':
      return [true, false];
    case 'target':
      return [{ exchange: 'dlx' }, { exchange: 'dlx', routingKey: 'dead' }];
  }
}

function spec(args: QueueArguments): QueueSpec {
  return { name: 'q', durable: true, exclusive: false, autoDelete: false, arguments: {}, ...args };
}

type Properties = Record<string, Record<string, unknown>>;
const schemaDefs = topologySchema().$defs as {
  queue: { properties: Properties };
  defaults: { properties: { queue: { properties: Properties } } };
};

describe('the committed schema', () => {
  it(`${schemaFile} has the queue arguments the table generates (run \`pnpm schema:generate\`)`, () => {
    const schema = JSON.parse(readFileSync(`${root}${schemaFile}`, 'utf8')) as Record<string, unknown>;
    // Compared as text so that the key order counts too, but not the formatting.
    expect(JSON.stringify(schema, null, 2)).toBe(JSON.stringify(withQueueArguments(schema), null, 2));
  });

  it('generation replaces what is there: a changed range or a new argument shows', () => {
    const schema = structuredClone(topologySchema()) as typeof schemaDefs & Record<string, unknown>;
    const stale = schema as unknown as { $defs: typeof schemaDefs };
    (stale.$defs.queue.properties.maxPriority as Record<string, unknown>).maximum = 10;
    delete stale.$defs.queue.properties.expires;
    delete stale.$defs.defaults.properties.queue.properties.overflow;
    expect(withQueueArguments(schema)).toEqual(topologySchema());
  });
});

describe.each(QUEUE_ARGUMENT_ENTRIES.map(([key, def]) => [key, def] as const))('queue argument %s', (key, def) => {
  it.each(samples(def).map((value) => [JSON.stringify(value), value]))('round-trips %s typed ↔ broker', (_, value) => {
    const typed = { [key]: value } as QueueArguments;
    expect(checkQueueArguments('q', typed)).toEqual(typed);
    const table = toBrokerArguments(spec(typed));
    const names = brokerNames(def);
    if (def.kind === 'target') {
      const target = value as { exchange: string; routingKey?: string };
      expect(table).toEqual(
        target.routingKey === undefined
          ? { [names[0] as string]: target.exchange }
          : { [names[0] as string]: target.exchange, [names[1] as string]: target.routingKey },
      );
    } else expect(table).toEqual({ [def.broker]: value });
    expect(fromBrokerArguments(table)).toEqual({ ...typed, arguments: {} });
    expect(checkQueueArguments('q', fromBrokerArguments(table))).toEqual(typed);
  });

  it('is in the schema with the same type and range, under queue and defaults.queue', () => {
    const property = schemaDefs.queue.properties[key];
    expect(property).toEqual(argumentSchema(def));
    if (def.kind === 'count') {
      expect(property?.type).toBe('integer');
      expect(property?.minimum).toBe(def.min);
      expect(property?.maximum).toBe(def.max);
    }
    if (def.kind === 'enum') expect(property?.enum).toEqual(def.values);
    if (def.kind === 'flag') expect(property?.type).toBe('boolean');
    expect(schemaDefs.defaults.properties.queue.properties[key]).toEqual({
      $ref: `#/$defs/queue/properties/${key}`,
      description: def.defaultsDescription,
    });
    if (def.kind === 'enum' && def.default !== undefined) expect(def.description).toContain(`Default: ${def.default}.`);
  });

  it('the schema, validation and the rules agree on what is out of range', () => {
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(topologySchema());
    const doc = (value: unknown) => ({ version: 1, queues: [{ name: 'q', [key]: value }] });
    for (const value of samples(def)) expect(validate(doc(value)), JSON.stringify(validate.errors)).toBe(true);
    const bad: unknown[] =
      def.kind === 'count'
        ? [def.min - 1, 1.5, ...(def.max === undefined ? [] : [def.max + 1])]
        : def.kind === 'enum'
          ? ['nope']
          : def.kind === 'flag'
            ? ['yes']
            : [];
    for (const value of bad) {
      expect(validate(doc(value)), `${key}: ${String(value)} passes the schema`).toBe(false);
      expect(() => checkQueueArguments('q', { [key]: value } as QueueArguments)).toThrow(`queue 'q': ${key}`);
    }
    // The topology rules with a range (priority-range, ttl-range) report the same bounds.
    if (def.kind === 'count' && def.max !== undefined) {
      for (const value of [def.min - 1, def.max + 1]) {
        const issues = checkRules(doc(value) as never).filter((i) => i.severity === 'error');
        expect(issues.map((i) => i.path)).toContain(`/queues/0/${key}`);
      }
      const fine = checkRules(doc(def.max) as never).filter((i) => i.severity === 'error' && i.path.endsWith(key));
      expect(fine).toEqual([]);
    }
  });

  it('is exported in the document', () => {
    for (const value of samples(def)) expect(toYaml({ queues: [{ name: 'q', [key]: value }] })).toContain(`${key}:`);
  });
});

describe('policies', () => {
  it('can set the arguments RabbitMQ lets a policy set, and no others', () => {
    expect([...POLICY_ARGUMENT_KEYS].sort()).toEqual(
      [
        'message-ttl',
        'expires',
        'max-length',
        'max-length-bytes',
        'overflow',
        'dead-letter-exchange',
        'dead-letter-routing-key',
      ].sort(),
    );
    const fixed = QUEUE_ARGUMENT_ENTRIES.filter(([, def]) => !def.policy).map(([key]) => key);
    expect(fixed).toEqual(['maxPriority', 'queueType', 'singleActiveConsumer']);
  });
});
