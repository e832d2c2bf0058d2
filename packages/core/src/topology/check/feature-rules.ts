/**
 * `unsupported-feature`: what the document asks of the target transport that its capabilities lack
 * (exchange and queue types, queue arguments, alternate exchanges, exchange-to-exchange bindings).
 * Checked only when the capabilities are known.
 *
 * @module
 */
import { QUEUE_ARGUMENT_ENTRIES } from '../../model/argument-table.js';
import { origin, pointer, type RuleContext } from './rule-context.js';

export function unsupportedFeatures(ctx: RuleContext): void {
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
