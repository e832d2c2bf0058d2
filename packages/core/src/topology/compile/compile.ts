/**
 * Document → desired state. {@link compileTopology} applies defaults, flattens the bindings written
 * inside queues, adds the fanout exchanges of broadcasts and resolves each task's route, priority
 * and retry policy, and compiles the broker's own entities (vhosts, users, permissions, policies:
 * see `./broker.ts`). It is pure and deterministic: outputs are sorted, so the same document always
 * gives the same plan whatever order its entities were written in.
 *
 * It trusts its input to be schema-valid and never throws on semantic problems (a binding to an
 * undeclared exchange compiles fine); {@link checkRules} reports those, with document paths.
 *
 * @module
 */
import { stableStringify } from '../../internal/stable-stringify.js';
import { PLAIN_QUEUE_ARGUMENTS } from '../../model/queue-arguments.js';
import type { BindingSpec, ExchangeSpec, QueueSpec } from '../../transport/spi.js';
import type { CompiledTask, DesiredTopology } from '../desired.js';
import type {
  BindingDocument,
  ExchangeDocument,
  QueueBindingDocument,
  QueueDocument,
  RetryDocument,
  TaskDocument,
  TopologyDocument,
} from '../document.js';
import { compileBrokerEntities, declaresBrokerEntities } from './broker.js';
import { compileSchedule, durationMs } from './schedules.js';
import { compileGlob } from './task-glob.js';

/** Built-in retry policy of a task that sets none: a single attempt. */
export const DEFAULT_TASK_RETRY: Required<RetryDocument> = Object.freeze({
  maxAttempts: 1,
  initialDelay: 1000,
  factor: 2,
  maxDelay: 60_000,
  jitter: 0.2,
});

/** Queue-prefix of a broadcast that sets none (kombu's `bcast`). */
export const DEFAULT_BROADCAST_PREFIX = 'bcast';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Code-unit order, not locale order: the output must not depend on the machine's locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The identity of a binding: equal keys mean the broker holds one binding. */
export function bindingIdentity(b: BindingSpec): string {
  return `${b.source}\u0000${b.destinationType}\u0000${b.destination}\u0000${b.routingKey}\u0000${argumentsKey(b.arguments)}`;
}

/**
 * `stableStringify(args)`, without its cost for the usual empty arguments: identities and sort keys
 * are computed for every binding, and most bindings have no arguments.
 */
export function argumentsKey(args: BindingSpec['arguments']): string {
  for (const _ in args) return stableStringify(args);
  return '{}';
}

/** Sorts bindings by source, destination type, destination, routing key, then arguments. */
export function compareBindings(a: BindingSpec, b: BindingSpec): number {
  return (
    compareStrings(a.source, b.source) ||
    compareStrings(a.destinationType, b.destinationType) ||
    compareStrings(a.destination, b.destination) ||
    compareStrings(a.routingKey, b.routingKey) ||
    compareStrings(argumentsKey(a.arguments), argumentsKey(b.arguments))
  );
}

/** An exchange with `defaults.exchange` and the built-in defaults applied. */
export function compileExchange(doc: ExchangeDocument, defaults: TopologyDocument['defaults']): ExchangeSpec {
  const d = defaults?.exchange ?? {};
  const spec: Mutable<ExchangeSpec> = {
    name: doc.name,
    type: doc.type ?? d.type ?? 'direct',
    durable: doc.durable ?? d.durable ?? true,
    autoDelete: doc.autoDelete ?? d.autoDelete ?? false,
    internal: doc.internal ?? d.internal ?? false,
    arguments: { ...(doc.arguments ?? d.arguments ?? {}) },
  };
  const alternate = doc.alternateExchange ?? d.alternateExchange;
  if (alternate !== undefined) spec.alternateExchange = alternate;
  return spec;
}

/** A queue with `defaults.queue` and the built-in defaults applied; bindings are compiled apart. */
export function compileQueue(doc: QueueDocument, defaults: TopologyDocument['defaults']): QueueSpec {
  const d = defaults?.queue ?? {};
  const spec: Mutable<QueueSpec> = {
    name: doc.name,
    durable: doc.durable ?? d.durable ?? true,
    exclusive: doc.exclusive ?? d.exclusive ?? false,
    autoDelete: doc.autoDelete ?? d.autoDelete ?? false,
    arguments: { ...(doc.arguments ?? d.arguments ?? {}) },
  };
  // Field by field, so that a queue setting `messageTtl` still inherits the default `maxPriority`.
  const typed = spec as Record<(typeof PLAIN_QUEUE_ARGUMENTS)[number], unknown>;
  for (const field of PLAIN_QUEUE_ARGUMENTS) {
    const value = doc[field] ?? d[field];
    if (value !== undefined) typed[field] = value;
  }
  const deadLetter = doc.deadLetter ?? d.deadLetter;
  if (deadLetter !== undefined) {
    spec.deadLetter =
      deadLetter.routingKey === undefined
        ? { exchange: deadLetter.exchange }
        : { exchange: deadLetter.exchange, routingKey: deadLetter.routingKey };
  }
  return spec;
}

/**
 * The binding arguments a document binding means: the raw `arguments`, overlaid for headers
 * bindings with the `headers` to match and `x-match` (`match`, default `all`).
 */
export function bindingArguments(doc: QueueBindingDocument): Record<string, unknown> {
  const args: Record<string, unknown> = { ...(doc.arguments ?? {}) };
  if (doc.headers === undefined && doc.match === undefined) return args;
  Object.assign(args, doc.headers ?? {});
  args['x-match'] = doc.match ?? 'all';
  return args;
}

/** A binding written inside queue `queue`. */
export function compileQueueBinding(queue: string, doc: QueueBindingDocument): BindingSpec {
  return {
    source: doc.exchange,
    destination: queue,
    destinationType: 'queue',
    routingKey: doc.routingKey ?? '',
    arguments: bindingArguments(doc),
  };
}

/** A top-level binding (to a queue unless `destinationType` says exchange). */
export function compileBinding(doc: BindingDocument): BindingSpec {
  return {
    source: doc.exchange,
    destination: doc.destination,
    destinationType: doc.destinationType ?? 'queue',
    routingKey: doc.routingKey ?? '',
    arguments: bindingArguments(doc),
  };
}

/** The route of a task: its own, else the first matching `routes` entry; the routing key defaults to the name. */
export function resolveRoute(
  name: string,
  own: TaskDocument['route'],
  routes: TopologyDocument['routes'],
): { exchange: string; routingKey: string } | undefined {
  if (own !== undefined) return { exchange: own.exchange, routingKey: own.routingKey ?? name };
  const matched = (routes ?? []).find((r) => compileGlob(r.match)(name));
  return matched === undefined ? undefined : { exchange: matched.exchange, routingKey: matched.routingKey ?? name };
}

/** A task with `defaults.task`, its protocol, its route and the built-in retry policy resolved. */
export function compileTask(doc: TaskDocument, topology: TopologyDocument): CompiledTask {
  const d = topology.defaults?.task ?? {};
  const retry: Mutable<Required<RetryDocument>> = { ...DEFAULT_TASK_RETRY };
  // Field by field: a task that sets only `maxAttempts` keeps the default delays.
  for (const source of [d.retry, doc.retry]) {
    for (const key of Object.keys(DEFAULT_TASK_RETRY) as (keyof RetryDocument)[]) {
      const value = source?.[key];
      if (value !== undefined) retry[key] = value;
    }
  }
  const protocol = doc.protocol ?? topology.protocol ?? 'wakame';
  const task: Mutable<CompiledTask> = { name: doc.name, protocol, retry };
  if (doc.description !== undefined) task.description = doc.description;
  if (doc.payload !== undefined) task.payload = doc.payload;
  const priority = doc.priority ?? d.priority;
  if (typeof priority === 'string') task.priorityClass = priority;
  else if (typeof priority === 'number') task.priority = priority;
  const route = resolveRoute(doc.name, doc.route, topology.routes);
  if (route !== undefined) task.route = route;
  const deadLetter = doc.deadLetter ?? d.deadLetter;
  if (deadLetter !== undefined) task.deadLetter = { ...deadLetter };
  if (doc.rateLimit !== undefined) task.rateLimit = { max: doc.rateLimit.max, perMs: durationMs(doc.rateLimit.per) };
  if (doc.concurrency !== undefined) task.concurrency = doc.concurrency;
  return task;
}

/** Keeps the first entity of each name (duplicates are reported by the rules) and sorts by name. */
function uniqueByName<T extends { readonly name: string }>(items: readonly T[]): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(item.name)) seen.set(item.name, item);
  return [...seen.values()].sort((a, b) => compareStrings(a.name, b.name));
}

/**
 * Compiles a schema-valid document into the desired state. Pure, deterministic (sorted outputs),
 * no I/O; see the module documentation for what it resolves.
 */
export function compileTopology(doc: TopologyDocument): DesiredTopology {
  const declared = (doc.exchanges ?? []).map((e) => compileExchange(e, doc.defaults));
  const declaredNames = new Set(declared.map((e) => e.name));
  // uniqueByName sorts by name, which is the broadcast's exchange.
  const broadcasts = uniqueByName(doc.broadcasts ?? []).map((b) => ({
    exchange: b.name,
    queuePrefix: b.queuePrefix ?? DEFAULT_BROADCAST_PREFIX,
    durable: b.durable ?? true,
  }));
  // A broadcast declares its fanout exchange unless the document declares it itself (the rules
  // report a declared exchange of another type). Exchange defaults do not apply: a broadcast is
  // fanout by definition.
  const implied: ExchangeSpec[] = broadcasts
    .filter((b) => !declaredNames.has(b.exchange))
    .map((b) => ({
      name: b.exchange,
      type: 'fanout',
      durable: b.durable,
      autoDelete: false,
      internal: false,
      arguments: {},
    }));

  const bindings = new Map<string, BindingSpec>();
  const addBinding = (b: BindingSpec): void => {
    const key = bindingIdentity(b);
    if (!bindings.has(key)) bindings.set(key, b);
  };
  for (const q of doc.queues ?? []) for (const b of q.bindings ?? []) addBinding(compileQueueBinding(q.name, b));
  for (const b of doc.bindings ?? []) addBinding(compileBinding(b));

  // Declaration order is priority order (highest first): workers serve the classes' queues in it.
  const priorityClasses: Record<string, string> = {};
  for (const key of Object.keys(doc.priorityClasses ?? {})) {
    priorityClasses[key] = doc.priorityClasses?.[key] as string;
  }

  const desired: DesiredTopology = {
    exchanges: uniqueByName([...declared, ...implied]),
    queues: uniqueByName((doc.queues ?? []).map((q) => compileQueue(q, doc.defaults))),
    bindings: [...bindings.values()].sort(compareBindings),
    broadcasts,
    priorityClasses,
    routes: (doc.routes ?? []).map((r) => ({ ...r })),
    tasks: uniqueByName((doc.tasks ?? []).map((t) => compileTask(t, doc))),
  };
  const scheduled: DesiredTopology =
    doc.schedules === undefined ? desired : { ...desired, schedules: uniqueByName(doc.schedules.map(compileSchedule)) };
  // Only when declared: a topology of exchanges and queues compiles exactly as before.
  return declaresBrokerEntities(doc) ? { ...scheduled, broker: compileBrokerEntities(doc) } : scheduled;
}
