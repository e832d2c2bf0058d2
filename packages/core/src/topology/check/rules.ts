/**
 * Semantic checks that a JSON Schema cannot express: references between entities, ranges that
 * depend on other fields, dead-letter cycles, features the target transport lacks, and common
 * design mistakes (warnings). Each issue's `keyword` is the rule id and its `path` a JSON pointer
 * to the offending value in the document; a value inherited from `defaults` is reported once, at
 * its place under `/defaults`.
 *
 * Errors: `duplicate-name`, `dangling-reference`, `default-exchange-binding`, `routing-key-length`,
 * `priority-range`, `ttl-range`, `dead-letter-cycle`, `unsupported-feature`, `broadcast-type`.
 * Warnings: `invalid-topic-key`, `unbound-queue`, `shared-fanout-queue`, `quorum-priority`,
 * `unused-exchange`, `route-shadowed`, and the milder cases of `priority-range` and `ttl-range`.
 * The rules on vhosts, users, permissions and policies are in `./broker-rules.ts`, the routing tests of
 * the `expect:` section (`routing-test`) in `./routing-tests.ts`, those of schedules and task limits in
 * `./schedule-rules.ts`.
 *
 * @module
 */
import type { TopologyIssue } from '../../errors.js';
import { MAX_TTL_MS, QUEUE_ARGUMENT_ENTRIES, QUEUE_ARGUMENTS } from '../../model/argument-table.js';
import { BUILTIN_EXCHANGES } from '../../model/builtin-exchanges.js';
import { MAX_PRIORITY } from '../../model/queue-arguments.js';
import type { BindingSpec, Capabilities, ExchangeType } from '../../transport/spi.js';
import { compileBinding, compileQueueBinding, compileTopology } from '../compile/compile.js';
import { compileGlob, isMatchAll } from '../compile/task-glob.js';
import type { DesiredTopology } from '../desired.js';
import type { BindingDocument, QueueBindingDocument, TopologyDocument } from '../document.js';
import { checkBrokerEntities } from './broker-rules.js';
import { expiryCycles, reachableQueues } from './routing.js';
import { checkRoutingTests } from './routing-tests.js';
import { checkSchedules } from './schedule-rules.js';

/** What {@link checkRules} checks against besides the document. */
export interface RuleOptions {
  /** The target transport's capabilities; without them `unsupported-feature` is not checked. */
  readonly capabilities?: Capabilities;
  /** The target transport's name, for messages. @defaultValue 'target' */
  readonly transport?: string;
}

/** A message TTL above this is more likely a unit mistake (seconds written as ms × 1000) than intended. */
const ABSURD_TTL_MS = 30 * 24 * 3600 * 1000;
/** AMQP routing keys are short strings. */
const MAX_ROUTING_KEY_BYTES = 255;

/** A JSON pointer from path segments (RFC 6901 escaping of `~` and `/`). */
export function pointer(...segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    const text = String(s);
    // Made for every binding of every queue: escape only the segments that need it.
    out += text.includes('~') || text.includes('/') ? `/${text.replace(/~/g, '~0').replace(/\//g, '~1')}` : `/${text}`;
  }
  return out;
}

function show(name: string): string {
  return name === '' ? 'the default exchange' : `'${name}'`;
}

/** A binding as written (inside a queue or top-level), with its document path and compiled form. */
interface BindingSite {
  readonly path: string;
  readonly doc: QueueBindingDocument | BindingDocument;
  readonly spec: BindingSpec;
  readonly topLevel: boolean;
}

/** Everything the rules share. */
interface Context {
  readonly doc: TopologyDocument;
  readonly compiled: DesiredTopology;
  readonly exchangeTypes: ReadonlyMap<string, ExchangeType>;
  readonly queueNames: ReadonlySet<string>;
  readonly bindings: readonly BindingSite[];
  /** Compiled tasks by name: rules look each document task up (a scan per task was quadratic). */
  readonly tasks: ReadonlyMap<string, DesiredTopology['tasks'][number]>;
  readonly transport: string;
  readonly capabilities: Capabilities | undefined;
  error(keyword: string, path: string, message: string): void;
  warn(keyword: string, path: string, message: string): void;
}

/** Where a field's value comes from: the entity itself, else its `defaults` section, else nowhere. */
function origin(own: object, ownPath: string, defaults: object | undefined, field: string): string | undefined {
  if ((own as Record<string, unknown>)[field] !== undefined) return `${ownPath}/${field}`;
  if (defaults !== undefined && (defaults as Record<string, unknown>)[field] !== undefined) {
    // Entity paths are `/<section>/<index>`; `defaults` sections are named in the singular.
    const section = ownPath.split('/')[1]?.replace(/s$/, '') ?? '';
    return pointer('defaults', section, field);
  }
  return undefined;
}

/** `[path, entity]` pairs: the `defaults` section of the kind first (when set), then every entity. */
function withDefaults<T, D>(
  section: 'exchanges' | 'queues' | 'tasks',
  items: readonly T[] | undefined,
  defaults: D | undefined,
): [string, T | D][] {
  const own = (items ?? []).map((item, i): [string, T | D] => [pointer(section, i), item]);
  return defaults === undefined ? own : [[pointer('defaults', section.slice(0, -1)), defaults], ...own];
}

/**
 * Runs every rule on the document (for JSON-pointer paths into it) and on its compiled form.
 * Returns errors and warnings; an empty array means the document is sound. Issues are unique by
 * rule and path, in rule order. `compiled` is the document's compiled form when the caller has it
 * already (the pipeline compiles once); without it the document is compiled here.
 */
export function checkRules(
  doc: TopologyDocument,
  options: RuleOptions = {},
  compiled: DesiredTopology = compileTopology(doc),
): TopologyIssue[] {
  const exchangeTypes = new Map<string, ExchangeType>(BUILTIN_EXCHANGES);
  for (const e of compiled.exchanges) exchangeTypes.set(e.name, e.type);
  const bindings: BindingSite[] = [];
  (doc.queues ?? []).forEach((q, i) => {
    (q.bindings ?? []).forEach((b, j) => {
      const path = pointer('queues', i, 'bindings', j);
      bindings.push({ path, doc: b, spec: compileQueueBinding(q.name, b), topLevel: false });
    });
  });
  (doc.bindings ?? []).forEach((b, i) => {
    bindings.push({ path: pointer('bindings', i), doc: b, spec: compileBinding(b), topLevel: true });
  });
  const issues: TopologyIssue[] = [];
  const seen = new Set<string>();
  const add = (severity: 'error' | 'warning', keyword: string, path: string, message: string): void => {
    // A value inherited from `defaults` is reported once, at its place there.
    if (seen.has(`${keyword}\u0000${path}`)) return;
    seen.add(`${keyword}\u0000${path}`);
    issues.push({ path, message, keyword, severity });
  };
  const ctx: Context = {
    doc,
    compiled,
    exchangeTypes,
    queueNames: new Set(compiled.queues.map((q) => q.name)),
    bindings,
    tasks: new Map(compiled.tasks.map((t) => [t.name, t])),
    transport: options.transport ?? 'target',
    capabilities: options.capabilities,
    error: (keyword, path, message) => add('error', keyword, path, message),
    warn: (keyword, path, message) => add('warning', keyword, path, message),
  };
  for (const rule of RULES) rule(ctx);
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Errors

function duplicateNames(ctx: Context): void {
  const sections = [
    ['exchanges', 'exchange', ctx.doc.exchanges],
    ['queues', 'queue', ctx.doc.queues],
    ['tasks', 'task', ctx.doc.tasks],
    ['broadcasts', 'broadcast', ctx.doc.broadcasts],
  ] as const;
  for (const [section, kind, items] of sections) {
    const first = new Map<string, number>();
    (items ?? []).forEach((item, i) => {
      const earlier = first.get(item.name);
      if (earlier === undefined) first.set(item.name, i);
      else {
        const message = `${kind} '${item.name}' is already declared at ${pointer(section, earlier)}`;
        ctx.error('duplicate-name', pointer(section, i, 'name'), message);
      }
    });
  }
}

/** `dangling-reference` and `default-exchange-binding`. */
function references(ctx: Context): void {
  const { doc } = ctx;
  const exchange = (path: string, name: string, role: string): void => {
    if (!ctx.exchangeTypes.has(name)) ctx.error('dangling-reference', path, `${role} ${show(name)} is not declared`);
  };
  const queue = (path: string, name: string, role: string): void => {
    if (!ctx.queueNames.has(name)) ctx.error('dangling-reference', path, `${role} '${name}' is not declared`);
  };
  /** An exchange and key to publish to; through the default exchange the key must name a queue. */
  const target = (path: string, to: { exchange: string; routingKey?: string }, role: string): void => {
    if (to.exchange !== '') exchange(`${path}/exchange`, to.exchange, `${role} exchange`);
    else if (to.routingKey !== undefined) queue(`${path}/routingKey`, to.routingKey, `${role} queue`);
  };

  for (const { path, spec, topLevel } of ctx.bindings) {
    if (spec.source === '') {
      const why = 'nothing can be bound to the default exchange: it already reaches every queue by its name';
      ctx.error('default-exchange-binding', `${path}/exchange`, why);
    } else exchange(`${path}/exchange`, spec.source, 'binding source exchange');
    if (!topLevel) continue;
    const destination = `${path}/destination`;
    if (spec.destinationType === 'queue') queue(destination, spec.destination, 'binding destination queue');
    else if (spec.destination !== '') exchange(destination, spec.destination, 'binding destination exchange');
    else ctx.error('default-exchange-binding', destination, 'the default exchange cannot be a binding destination');
  }
  for (const [path, e] of withDefaults('exchanges', doc.exchanges, doc.defaults?.exchange)) {
    if (e.alternateExchange !== undefined)
      exchange(`${path}/alternateExchange`, e.alternateExchange, 'alternate exchange');
  }
  for (const [path, q] of withDefaults('queues', doc.queues, doc.defaults?.queue)) {
    if (q.deadLetter !== undefined) target(`${path}/deadLetter`, q.deadLetter, 'dead-letter');
  }
  (doc.routes ?? []).forEach((r, i) => {
    target(pointer('routes', i), r, 'route');
  });

  const classes = doc.priorityClasses ?? {};
  for (const [cls, q] of Object.entries(classes)) queue(pointer('priorityClasses', cls), q, 'priority class queue');
  for (const [path, t] of withDefaults('tasks', doc.tasks, doc.defaults?.task)) {
    if (typeof t.priority === 'string' && !Object.hasOwn(classes, t.priority)) {
      ctx.error('dangling-reference', `${path}/priority`, `priority class '${t.priority}' is not in priorityClasses`);
    }
    const dl = t.deadLetter;
    if (dl?.queue !== undefined) queue(`${path}/deadLetter/queue`, dl.queue, 'dead-letter queue');
    if (dl?.exchange) exchange(`${path}/deadLetter/exchange`, dl.exchange, 'dead-letter exchange');
  }
  (doc.tasks ?? []).forEach((t, i) => {
    if (t.route !== undefined) target(pointer('tasks', i, 'route'), t.route, 'route');
    // A route to the default exchange without a key uses the task name as key: a queue must have that name.
    const matched = t.route === undefined ? (doc.routes ?? []).findIndex((r) => compileGlob(r.match)(t.name)) : -1;
    const via = t.route ?? doc.routes?.[matched];
    if (via?.exchange !== '' || via.routingKey !== undefined || ctx.queueNames.has(t.name)) return;
    const by = t.route === undefined ? `route ${pointer('routes', matched)}` : 'its route';
    const message = `task '${t.name}' goes by ${by} to the default exchange with its name as routing key, but no queue '${t.name}' is declared`;
    ctx.error('dangling-reference', pointer('tasks', i, 'name'), message);
  });
}

/** `routing-key-length` (error) and `invalid-topic-key` (warning). */
function routingKeys(ctx: Context): void {
  const tooLong = (path: string, key: string | undefined): void => {
    const bytes = key === undefined ? 0 : Buffer.byteLength(key, 'utf8');
    if (bytes <= MAX_ROUTING_KEY_BYTES) return;
    ctx.error(
      'routing-key-length',
      path,
      `routing key of ${bytes} bytes exceeds the AMQP limit of ${MAX_ROUTING_KEY_BYTES}`,
    );
  };
  for (const site of ctx.bindings) {
    const key = site.doc.routingKey;
    tooLong(`${site.path}/routingKey`, key);
    if (ctx.exchangeTypes.get(site.spec.source) !== 'topic' || key === undefined) continue;
    const mixed = key.split('.').filter((w) => w.length > 1 && /[*#]/.test(w));
    if (mixed.length === 0) continue;
    const words = mixed.map((w) => `'${w}'`).join(', ');
    const message = `${words} mixes a wildcard with other characters; only a whole word '*' or '#' is a wildcard, so RabbitMQ matches it literally`;
    ctx.warn('invalid-topic-key', `${site.path}/routingKey`, message);
  }
  (ctx.doc.queues ?? []).forEach((q, i) => {
    tooLong(pointer('queues', i, 'deadLetter', 'routingKey'), q.deadLetter?.routingKey);
  });
  (ctx.doc.routes ?? []).forEach((r, i) => {
    tooLong(pointer('routes', i, 'routingKey'), r.routingKey);
  });
  (ctx.doc.tasks ?? []).forEach((t, i) => {
    tooLong(pointer('tasks', i, 'route', 'routingKey'), t.route?.routingKey);
    tooLong(pointer('tasks', i, 'deadLetter', 'routingKey'), t.deadLetter?.routingKey);
    // The task name is the routing key when its route sets none.
    if (ctx.tasks.get(t.name)?.route?.routingKey === t.name) {
      tooLong(pointer('tasks', i, 'name'), t.name);
    }
  });
}

function isWhole(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** A range bound for messages: 2^32-1 rather than its ten digits. */
function showBound(n: number): string {
  return n === MAX_TTL_MS ? '2^32-1' : String(n);
}

function priorities(ctx: Context): void {
  const { doc } = ctx;
  const { min, max } = QUEUE_ARGUMENTS.maxPriority;
  (doc.queues ?? []).forEach((q, i) => {
    const path = origin(q, pointer('queues', i), doc.defaults?.queue, 'maxPriority');
    const value = q.maxPriority ?? doc.defaults?.queue?.maxPriority;
    if (path === undefined || value === undefined || isWhole(value, min, max)) return;
    ctx.error('priority-range', path, `maxPriority must be a whole number from ${min} to ${max}, got ${value}`);
  });
  const maxOf = new Map(ctx.compiled.queues.map((q) => [q.name, q.maxPriority]));
  (doc.tasks ?? []).forEach((t, i) => {
    const path = origin(t, pointer('tasks', i), doc.defaults?.task, 'priority');
    const task = ctx.tasks.get(t.name);
    const value = task?.priority;
    if (path === undefined || value === undefined) return;
    if (!isWhole(value, 0, MAX_PRIORITY)) {
      const message = `a message priority must be a whole number from 0 to ${MAX_PRIORITY}, got ${value}`;
      ctx.error('priority-range', path, message);
      return;
    }
    if (task?.route === undefined) return;
    for (const q of reachableQueues(ctx.compiled, task.route.exchange, task.route.routingKey)) {
      const max = maxOf.get(q);
      if (max === undefined || value <= max) continue;
      const message = `task '${t.name}' has priority ${value}, above the maxPriority ${max} of queue '${q}' it routes to, which treats it as ${max}`;
      ctx.warn('priority-range', path, message);
    }
  });
}

/** The durations among the queue arguments (`messageTtl`, `expires`): the table's entries in ms. */
const DURATIONS = QUEUE_ARGUMENT_ENTRIES.flatMap(([key, def]) =>
  def.kind === 'count' && def.unit === 'ms' ? [{ key, min: def.min, max: def.max ?? Number.MAX_SAFE_INTEGER }] : [],
);

function ttls(ctx: Context): void {
  const check = (path: string, field: string, value: number, min: number, max: number): void => {
    if (!isWhole(value, min, max)) {
      const message = `${field} must be a whole number of ms from ${min} to ${showBound(max)}, got ${value}`;
      ctx.error('ttl-range', path, message);
    } else if (field === 'messageTtl' && value > ABSURD_TTL_MS) {
      ctx.warn('ttl-range', path, `messageTtl of ${value} ms is over 30 days, which looks absurd: durations are in ms`);
    } else if (field === 'expires' && value < 1000) {
      ctx.warn(
        'ttl-range',
        path,
        `expires of ${value} ms deletes the queue after under a second unused: durations are in ms`,
      );
    }
  };
  for (const [path, q] of withDefaults('queues', ctx.doc.queues, ctx.doc.defaults?.queue)) {
    for (const { key, min, max } of DURATIONS) {
      const value = q[key];
      if (typeof value === 'number') check(`${path}/${key}`, key, value, min, max);
    }
  }
}

function deadLetterCycles(ctx: Context): void {
  for (const cycle of expiryCycles(ctx.compiled)) {
    const first = cycle[0] as string;
    const i = (ctx.doc.queues ?? []).findIndex((q) => q.name === first);
    const own = ctx.doc.queues?.[i]?.deadLetter !== undefined;
    const path = own
      ? pointer('queues', i, 'deadLetter', 'exchange')
      : pointer('defaults', 'queue', 'deadLetter', 'exchange');
    const names = cycle.map((n) => `'${n}'`).join(', ');
    const message = `queues ${names} dead-letter into one another and all have a messageTtl: messages expire around the cycle without ever reaching a consumer, and RabbitMQ silently drops them when they come back to a queue they expired from`;
    ctx.error('dead-letter-cycle', path, message);
  }
}

function unsupportedFeatures(ctx: Context): void {
  const caps = ctx.capabilities;
  if (caps === undefined) return;
  const { doc } = ctx;
  const unsupported = (path: string | undefined, feature: string): void => {
    if (path !== undefined)
      ctx.error('unsupported-feature', path, `the ${ctx.transport} transport does not support ${feature}`);
  };
  (doc.exchanges ?? []).forEach((e, i) => {
    const type = e.type ?? doc.defaults?.exchange?.type ?? 'direct';
    const at = (field: string) => origin(e, pointer('exchanges', i), doc.defaults?.exchange, field);
    if (!caps.exchangeTypes.has(type)) unsupported(at('type') ?? pointer('exchanges', i), `${type} exchanges`);
    if (!caps.alternateExchange) unsupported(at('alternateExchange'), 'alternate exchanges');
  });
  (doc.broadcasts ?? []).forEach((_, i) => {
    if (!caps.exchangeTypes.has('fanout')) unsupported(pointer('broadcasts', i), 'fanout exchanges (broadcasts)');
  });
  // Each queue argument's capability, from the table (`queueType` is checked by value below).
  const queueFeatures = QUEUE_ARGUMENT_ENTRIES.flatMap(([key, def]) =>
    def.needs === undefined ? [] : [[key, def.needs.supported(caps), `${def.needs.feature} (${key})`] as const],
  );
  (doc.queues ?? []).forEach((q, i) => {
    const at = (field: string) => origin(q, pointer('queues', i), doc.defaults?.queue, field);
    for (const [field, supported, feature] of queueFeatures) if (!supported) unsupported(at(field), feature);
    const type = q.queueType ?? doc.defaults?.queue?.queueType;
    if (type !== undefined && !caps.queueTypes.has(type)) unsupported(at('queueType'), `${type} queues`);
  });
  for (const site of ctx.bindings) {
    if (site.spec.destinationType !== 'exchange' || caps.exchangeToExchange) continue;
    unsupported(`${site.path}/destinationType`, 'exchange-to-exchange bindings');
  }
}

function broadcastTypes(ctx: Context): void {
  const firstDeclared = new Map<string, number>();
  (ctx.doc.exchanges ?? []).forEach((e, i) => {
    if (!firstDeclared.has(e.name)) firstDeclared.set(e.name, i);
  });
  (ctx.doc.broadcasts ?? []).forEach((b, i) => {
    const declared = firstDeclared.get(b.name) ?? -1;
    const type = ctx.exchangeTypes.get(b.name);
    if (declared === -1 || type === 'fanout') return;
    const message = `broadcast '${b.name}' needs a fanout exchange, but ${pointer('exchanges', declared)} declares it as ${type ?? 'direct'}`;
    ctx.error('broadcast-type', pointer('broadcasts', i, 'name'), message);
  });
}

// ---------------------------------------------------------------------------------------------
// Warnings

/** What uses queues and exchanges besides bindings; `sinks` receive dead letters or unroutable messages. */
function usedTargets(ctx: Context): { queues: Set<string>; exchanges: Set<string>; sinks: Set<string> } {
  const queues = new Set<string>(Object.values(ctx.compiled.priorityClasses));
  const exchanges = new Set<string>();
  const sinks = new Set<string>();
  const via = (t: { exchange?: string; routingKey?: string; queue?: string }) => {
    if (t.queue !== undefined) queues.add(t.queue);
    if (t.exchange === '' && t.routingKey !== undefined) queues.add(t.routingKey);
    else if (t.exchange !== undefined) exchanges.add(t.exchange);
  };
  for (const q of ctx.compiled.queues) {
    if (q.deadLetter === undefined) continue;
    via(q.deadLetter);
    sinks.add(q.deadLetter.exchange);
  }
  for (const e of ctx.compiled.exchanges) if (e.alternateExchange !== undefined) sinks.add(e.alternateExchange);
  for (const r of ctx.compiled.routes) via(r);
  for (const t of ctx.compiled.tasks) {
    if (t.route) via(t.route);
    if (t.deadLetter) {
      via(t.deadLetter);
      // A task's final dead-letter exchange is a sink like a queue's.
      if (t.deadLetter.exchange !== undefined) sinks.add(t.deadLetter.exchange);
    }
  }
  return { queues, exchanges, sinks };
}

function designWarnings(ctx: Context): void {
  const { queues: usedQueues, exchanges: usedExchanges, sinks } = usedTargets(ctx);
  const bound = new Set(ctx.compiled.bindings.filter((b) => b.destinationType === 'queue').map((b) => b.destination));
  const specs = new Map(ctx.compiled.queues.map((q) => [q.name, q]));
  (ctx.doc.queues ?? []).forEach((q, i) => {
    if (!bound.has(q.name) && !usedQueues.has(q.name)) {
      const message = `queue '${q.name}' has no bindings: only messages published to the default exchange with routing key '${q.name}' reach it`;
      ctx.warn('unbound-queue', pointer('queues', i, 'name'), message);
    }
    const spec = specs.get(q.name);
    if (spec?.queueType === 'quorum' && spec.maxPriority !== undefined) {
      const path = origin(q, pointer('queues', i), ctx.doc.defaults?.queue, 'maxPriority') ?? pointer('queues', i);
      const message =
        'quorum queues do not support maxPriority (RabbitMQ 3.x refuses or ignores it); use one queue per priority class';
      ctx.warn('quorum-priority', path, message);
    }
  });

  // A dead-letter or alternate exchange feeding one parking queue is the normal design, not a
  // mistake; and a broadcast exchange is already what the warning recommends.
  const broadcasts = new Set(ctx.compiled.broadcasts.map((b) => b.exchange));
  // Grouped once: filtering every binding for each fanout exchange was quadratic.
  const bySource = new Map<string, BindingSite[]>();
  for (const site of ctx.bindings) {
    const group = bySource.get(site.spec.source);
    if (group) group.push(site);
    else bySource.set(site.spec.source, [site]);
  }
  for (const e of ctx.compiled.exchanges) {
    if (e.type !== 'fanout' || sinks.has(e.name) || broadcasts.has(e.name)) continue;
    const [only, ...others] = bySource.get(e.name) ?? [];
    if (only === undefined || others.length > 0 || only.spec.destinationType !== 'queue') continue;
    const spec = specs.get(only.spec.destination);
    if (spec === undefined || spec.exclusive || spec.autoDelete) continue;
    const message = `fanout exchange '${e.name}' feeds the single queue '${spec.name}': every worker consuming '${spec.name}' competes for each message; if each worker should get a copy, use a broadcast`;
    ctx.warn('shared-fanout-queue', `${only.path}/exchange`, message);
  }

  const sources = new Set(ctx.compiled.bindings.map((b) => b.source));
  (ctx.doc.exchanges ?? []).forEach((e, i) => {
    const used = [sources, usedExchanges, sinks, broadcasts].some((set) => set.has(e.name));
    if (used || e.name.startsWith('amq.')) return;
    const message = `exchange '${e.name}' has no bindings and no route or task publishes to it: messages sent to it are dropped`;
    ctx.warn('unused-exchange', pointer('exchanges', i, 'name'), message);
  });

  const routes = ctx.doc.routes ?? [];
  routes.forEach((r, j) => {
    const earlier = routes.findIndex((o, i) => i < j && (isMatchAll(o.match) || o.match === r.match));
    if (earlier === -1) return;
    const message = `this route never applies: ${pointer('routes', earlier)} ('${routes[earlier]?.match}') comes first and matches every task it matches`;
    ctx.warn('route-shadowed', pointer('routes', j, 'match'), message);
  });
}

const RULES: readonly ((ctx: Context) => void)[] = [
  duplicateNames,
  references,
  routingKeys,
  priorities,
  ttls,
  deadLetterCycles,
  unsupportedFeatures,
  broadcastTypes,
  designWarnings,
  checkBrokerEntities,
  checkRoutingTests,
  checkSchedules,
];
