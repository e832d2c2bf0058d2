/**
 * Live state → topology document (`wakame topology export`). {@link exportTopology} writes the
 * smallest document that compiles back to what the broker holds: built-in defaults are left out,
 * bindings to a queue are written inside it, headers bindings in their `headers` + `match` form.
 * Given the broker's own entities, it writes them too (`./export-broker.ts`; users without any
 * password or hash).
 * {@link toYaml} renders a document with a stable key order, ready to commit.
 *
 * @module
 */
import { stringify } from 'yaml';
import { QUEUE_ARGUMENT_ENTRIES } from '../../model/argument-table.js';
import { QUEUE_ARGUMENT_KEYS } from '../../model/queue-arguments.js';
import type { BindingSpec, BrokerEntities, ExchangeSpec, ObservedTopology, QueueSpec } from '../../transport/spi.js';
import { compareBindings, compareStrings } from '../compile/compile.js';
import type {
  BindingDocument,
  ExchangeDocument,
  QueueBindingDocument,
  QueueDocument,
  TopologyDocument,
} from '../document.js';
import { exportBrokerEntities } from './export-broker.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The JSON Schema reference written by {@link toYaml} when none is given: the copy shipped in
 * `@wakame/core`, relative to a topology file at the project root (see `schemas/README.md`).
 */
export const DEFAULT_SCHEMA_REF = './node_modules/@wakame/core/schema/topology.schema.json';

/** Entities the broker owns: the default exchange, `amq.*` exchanges and server-named queues. */
function isInternalExchange(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}
function isInternalQueue(name: string): boolean {
  // `amq.` is reserved for the server: `amq.gen-*` names, `amq.rabbitmq.reply-to`.
  return name.startsWith('amq.');
}

function exportExchange(e: ExchangeSpec): ExchangeDocument {
  const out: Mutable<ExchangeDocument> = { name: e.name };
  if (e.type !== 'direct') out.type = e.type;
  if (!e.durable) out.durable = false;
  if (e.autoDelete) out.autoDelete = true;
  if (e.internal) out.internal = true;
  if (e.alternateExchange !== undefined) out.alternateExchange = e.alternateExchange;
  if (Object.keys(e.arguments).length > 0) out.arguments = { ...e.arguments };
  return out;
}

function exportQueue(q: QueueSpec, bindings: readonly QueueBindingDocument[]): QueueDocument {
  const out: Mutable<QueueDocument> = { name: q.name };
  if (!q.durable) out.durable = false;
  if (q.exclusive) out.exclusive = true;
  if (q.autoDelete) out.autoDelete = true;
  const typed = out as Record<string, unknown>;
  for (const [key, def] of QUEUE_ARGUMENT_ENTRIES) {
    const value = q[key];
    if (value === undefined) continue;
    if (def.kind === 'target') {
      const { exchange, routingKey } = value as { exchange: string; routingKey?: string };
      typed[key] = routingKey === undefined ? { exchange } : { exchange, routingKey };
    } else typed[key] = value;
  }
  if (Object.keys(q.arguments).length > 0) out.arguments = { ...q.arguments };
  if (bindings.length > 0) out.bindings = bindings;
  return out;
}

function isHeaderValue(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/**
 * A binding as written in a document. Arguments with `x-match` `all`/`any` become `headers` and
 * `match` (other `x-` arguments and non-scalar values stay in `arguments`, which compiles to the
 * same table); any other `x-match` (`all-with-x`, …) stays raw, as the document form cannot say it.
 */
function exportBinding(b: BindingSpec): Mutable<QueueBindingDocument> {
  const out: Mutable<QueueBindingDocument> = { exchange: b.source };
  if (b.routingKey !== '') out.routingKey = b.routingKey;
  const match = b.arguments['x-match'];
  const rest: Record<string, unknown> = {};
  if (match === 'all' || match === 'any') {
    const headers: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(b.arguments)) {
      if (key === 'x-match') continue;
      if (isHeaderValue(value) && !key.startsWith('x-')) headers[key] = value;
      else rest[key] = value;
    }
    out.headers = headers;
    if (match === 'any') out.match = 'any';
  } else Object.assign(rest, b.arguments);
  if (Object.keys(rest).length > 0) out.arguments = rest;
  return out;
}

/** Options of {@link exportTopology}. */
export interface ExportTopologyOptions {
  /** The broker's own entities (`BrokerEntityAdmin.list()`), to write beside the topology. */
  readonly broker?: BrokerEntities;
  /** The connection's vhost: policies in it are written without `vhost`. */
  readonly vhost?: string;
}

/**
 * Live state (from `TopologyAdmin.inspect()`) → a document that compiles back to the same
 * exchanges, queues and bindings (round trip), omitting defaults and broker-internal entities
 * (`amq.*` exchanges, server-named `amq.*` queues, the default exchange, bindings from `''`).
 * Bindings from `amq.*` exchanges to user queues are kept: those exchanges always exist. With
 * `options.broker`, the broker's entities compile back to the same ones too, except that users
 * have no password (the export never writes a password or a hash).
 */
export function exportTopology(observed: ObservedTopology, options: ExportTopologyOptions = {}): TopologyDocument {
  const queues = observed.queues.filter((q) => !isInternalQueue(q.name));
  const queueNames = new Set(queues.map((q) => q.name));
  const inside = new Map<string, QueueBindingDocument[]>();
  const topLevel: BindingDocument[] = [];
  for (const b of [...observed.bindings].sort(compareBindings)) {
    if (b.source === '') continue;
    if (b.destinationType === 'queue' && isInternalQueue(b.destination)) continue;
    const written = exportBinding(b);
    if (b.destinationType === 'queue' && queueNames.has(b.destination)) {
      inside.set(b.destination, [...(inside.get(b.destination) ?? []), written]);
    } else {
      // Exchange-to-exchange, or a queue the listing did not include (an incomplete inspect).
      const { exchange, ...rest } = written;
      const binding: Mutable<BindingDocument> = { exchange, destination: b.destination, ...rest };
      if (b.destinationType === 'exchange') binding.destinationType = 'exchange';
      topLevel.push(binding);
    }
  }
  const exchanges = observed.exchanges
    .filter((e) => !isInternalExchange(e.name))
    .sort((a, b) => compareStrings(a.name, b.name))
    .map(exportExchange);
  const queueDocs = [...queues]
    .sort((a, b) => compareStrings(a.name, b.name))
    .map((q) => exportQueue(q, inside.get(q.name) ?? []));
  const doc: Mutable<TopologyDocument> = { version: 1 };
  if (exchanges.length > 0) doc.exchanges = exchanges;
  if (queueDocs.length > 0) doc.queues = queueDocs;
  if (topLevel.length > 0) doc.bindings = topLevel;
  return options.broker ? { ...doc, ...exportBrokerEntities(options.broker, options.vhost) } : doc;
}

// ---------------------------------------------------------------------------------------------
// YAML

/** Key order of each kind of object, as the document types declare them. */
const KEY_ORDER: Readonly<Record<string, readonly string[]>> = {
  document: [
    'version',
    'name',
    'include',
    'defaults',
    'exchanges',
    'queues',
    'bindings',
    'broadcasts',
    'priorityClasses',
    'tasks',
    'routes',
    'expect',
    'vhosts',
    'users',
    'permissions',
    'topicPermissions',
    'policies',
    'operatorPolicies',
  ],
  defaults: ['exchange', 'queue', 'task'],
  exchange: ['name', 'type', 'durable', 'autoDelete', 'internal', 'alternateExchange', 'arguments'],
  queue: [
    'name',
    'durable',
    'exclusive',
    'autoDelete',
    // The queue type first (it decides what the others mean), then the table's order.
    'queueType',
    ...QUEUE_ARGUMENT_KEYS.filter((key) => key !== 'queueType'),
    'arguments',
    'bindings',
  ],
  binding: ['exchange', 'destination', 'destinationType', 'routingKey', 'headers', 'match', 'arguments'],
  broadcast: ['name', 'queuePrefix', 'durable'],
  task: ['name', 'description', 'priority', 'route', 'retry', 'deadLetter', 'payload'],
  route: ['match', 'exchange', 'routingKey'],
  target: ['queue', 'exchange', 'routingKey'],
  retry: ['maxAttempts', 'initialDelay', 'factor', 'maxDelay', 'jitter'],
  vhost: ['name', 'description', 'tags', 'defaultQueueType'],
  user: ['name', 'password', 'passwordHash', 'hashingAlgorithm', 'tags'],
  permission: ['user', 'vhost', 'exchange', 'configure', 'write', 'read'],
  policy: ['name', 'vhost', 'pattern', 'applyTo', 'priority', 'definition'],
};

/** What kind of object each key holds, so nested objects are ordered too. */
const CHILD_KIND: Readonly<Record<string, string>> = {
  exchanges: 'exchange',
  queues: 'queue',
  bindings: 'binding',
  broadcasts: 'broadcast',
  tasks: 'task',
  routes: 'route',
  exchange: 'exchange',
  queue: 'queue',
  task: 'task',
  defaults: 'defaults',
  route: 'target',
  deadLetter: 'target',
  retry: 'retry',
  vhosts: 'vhost',
  users: 'user',
  permissions: 'permission',
  topicPermissions: 'permission',
  policies: 'policy',
  operatorPolicies: 'policy',
};

/** Free-form maps whose keys are sorted; `payload` (a JSON Schema) keeps its author's order. */
const SORTED_MAPS = new Set(['arguments', 'headers', 'priorityClasses', 'definition']);

function ordered(value: unknown, kind: string | undefined, key: string | undefined): unknown {
  if (Array.isArray(value)) return value.map((item) => ordered(item, kind, undefined));
  if (value === null || typeof value !== 'object' || key === 'payload') return value;
  const record = value as Record<string, unknown>;
  const known = kind === undefined ? [] : (KEY_ORDER[kind] ?? []);
  const sortAll = key !== undefined && SORTED_MAPS.has(key);
  const keys = [
    ...known.filter((k) => k in record),
    ...Object.keys(record)
      .filter((k) => !known.includes(k))
      .sort(sortAll || kind !== undefined ? compareStrings : () => 0),
  ];
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = ordered(record[k], sortAll ? undefined : CHILD_KIND[k], k);
  return out;
}

/** Options of {@link toYaml}. */
export interface ToYamlOptions {
  /** The `$schema` reference for editors (yaml-language-server). @defaultValue {@link DEFAULT_SCHEMA_REF} */
  readonly schema?: string;
  /** First comment line. @defaultValue 'Wakame topology' */
  readonly title?: string;
}

/**
 * YAML text of a document, with a header comment and the `# yaml-language-server: $schema=…`
 * line editors read; keys come in the order the document types declare them, so the same
 * document always gives the same text.
 */
export function toYaml(doc: TopologyDocument, options: ToYamlOptions = {}): string {
  const header = [
    `# ${options.title ?? 'Wakame topology'}`,
    `# yaml-language-server: $schema=${options.schema ?? DEFAULT_SCHEMA_REF}`,
  ];
  const body = stringify(ordered(doc, 'document', undefined), { lineWidth: 0, aliasDuplicateObjects: false });
  return `${header.join('\n')}\n${body}`;
}
