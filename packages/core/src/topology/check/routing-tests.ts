/**
 * The routing tests of a topology file (its `expect:` section): each case publishes a message through the
 * compiled topology with {@link traceRoute} — RabbitMQ's routing, as the virtual transport does it — and fails
 * when a queue it must reach is missed or a queue it must not reach is reached.
 *
 * Errors: `routing-test` (the case's outcome differs; reported at the case, naming what was reached instead),
 * `dangling-reference` (the case publishes to an undeclared exchange or names an undeclared queue, which would
 * make it pass or fail for the wrong reason).
 *
 * @module
 */
import { traceRoute } from '../../model/route-trace.js';
import type { DesiredTopology } from '../desired.js';
import type { RoutingTestDocument, TopologyDocument } from '../document.js';

/** What the routing tests need from the rule context of `./rules.ts`. */
export interface RoutingTestContext {
  readonly doc: TopologyDocument;
  readonly compiled: DesiredTopology;
  error(keyword: string, path: string, message: string): void;
}

function pointer(...segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function list(names: readonly string[]): string {
  return names.length === 0 ? 'no queue' : names.map((n) => `'${n}'`).join(', ');
}

/** How a case reads in a message: `tasks 'video.encode' {format: mp4}`. */
export function describePublish(publish: RoutingTestDocument['publish']): string {
  const exchange = publish.exchange === '' ? 'the default exchange' : `'${publish.exchange}'`;
  const headers = Object.entries(publish.headers ?? {}).map(([k, v]) => `${k}: ${String(v)}`);
  const shown = headers.length === 0 ? '' : ` with headers {${headers.join(', ')}}`;
  return `a message to ${exchange} with routing key '${publish.routingKey ?? ''}'${shown}`;
}

/** Checks every case of `expect:`; a case naming something undeclared is reported as such and not routed. */
export function checkRoutingTests(ctx: RoutingTestContext): void {
  const { compiled } = ctx;
  const queues = new Set(compiled.queues.map((q) => q.name));
  (ctx.doc.expect ?? []).forEach((test, i) => {
    const path = pointer('expect', i);
    let sound = true;
    for (const field of ['reaches', 'notReaches'] as const) {
      (test[field] ?? []).forEach((name, j) => {
        if (queues.has(name)) return;
        ctx.error('dangling-reference', pointer('expect', i, field, j), `routing test queue '${name}' is not declared`);
        sound = false;
      });
    }
    if (test.reaches === undefined && test.notReaches === undefined) {
      ctx.error('routing-test', path, 'the routing test checks nothing: give reaches, notReaches or both');
      return;
    }
    const { publish } = test;
    const trace = traceRoute(compiled, publish.exchange, {
      routingKey: publish.routingKey ?? '',
      ...(publish.headers === undefined ? {} : { headers: publish.headers }),
    });
    if (!trace.exchangeFound) {
      const message = `routing test exchange '${publish.exchange}' is not declared`;
      ctx.error('dangling-reference', `${path}/publish/exchange`, message);
      return;
    }
    if (!sound) return;
    const reached = new Set(trace.queues);
    const problems: string[] = [];
    if (test.reaches?.length === 0 && reached.size > 0) problems.push('it must reach no queue');
    const missed = (test.reaches ?? []).filter((q) => !reached.has(q));
    if (missed.length > 0) problems.push(`it must reach ${list(missed)}`);
    const wrong = (test.notReaches ?? []).filter((q) => reached.has(q));
    if (wrong.length > 0) problems.push(`it must not reach ${list(wrong)}`);
    if (problems.length === 0) return;
    const message = `${describePublish(publish)} reaches ${list(trace.queues)}, but ${problems.join(' and ')}`;
    ctx.error('routing-test', path, message);
  });
}
