/**
 * The rules on how entities refer to one another: `duplicate-name`, `dangling-reference`,
 * `default-exchange-binding`, `broadcast-type` and `dead-letter-cycle` (all errors).
 *
 * @module
 */
import { compileGlob } from '../compile/task-glob.js';
import { expiryCycles } from './routing.js';
import { pointer, type RuleContext, withDefaults } from './rule-context.js';

export function duplicateNames(ctx: RuleContext): void {
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
export function references(ctx: RuleContext): void {
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

function show(name: string): string {
  return name === '' ? 'the default exchange' : `'${name}'`;
}

export function broadcastTypes(ctx: RuleContext): void {
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

export function deadLetterCycles(ctx: RuleContext): void {
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
