/**
 * Warnings about common design mistakes: `unbound-queue`, `quorum-priority`, `shared-fanout-queue`,
 * `unused-exchange` and `route-shadowed`. None of them makes a document invalid.
 *
 * @module
 */
import { isMatchAll } from '../compile/task-glob.js';
import { type BindingSite, origin, pointer, type RuleContext } from './rule-context.js';

/** What uses queues and exchanges besides bindings; `sinks` receive dead letters or unroutable messages. */
function usedTargets(ctx: RuleContext): { queues: Set<string>; exchanges: Set<string>; sinks: Set<string> } {
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

export function designWarnings(ctx: RuleContext): void {
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
