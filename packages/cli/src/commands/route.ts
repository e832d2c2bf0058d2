/**
 * `wakame route <exchange> <routing-key>`: the path a message takes, without sending one — the exchange, the
 * bindings that match there, exchange-to-exchange hops, the alternate exchange when nothing matched, the queues it
 * lands in and where each of them dead-letters to.
 *
 * It routes through a compiled topology file (`--topology`) or the live broker's listing (`admin.inspect()`; on
 * RabbitMQ that needs the management API), with `traceRoute` from `@wakame/core`: RabbitMQ's routing, as the
 * virtual transport and the routing tests of `wakame validate` do it.
 *
 * @module
 */
import {
  type BindingSpec,
  InvalidArgumentError,
  type QueueSpec,
  type RouteHop,
  type RouteTopology,
  type RouteTrace,
  traceRoute,
} from '@wakame/core';
import type { CommandContext } from '../context.js';
import { ExitError, USAGE_EXIT_CODE } from '../errors.js';
import { type BrokerOptions, openBroker, readTopology } from '../topology-input.js';
import { ListingUnavailableError } from './inspect.js';

/** What a route is traced through: a topology with its queues' dead-letter targets. */
interface Routable extends RouteTopology {
  readonly queues: readonly QueueSpec[];
}

/** Options of {@link route}. */
export interface RouteOptions extends BrokerOptions {
  /** `key=value` (a string, as `wakame publish` sends it) or `key:=json` (a number or boolean), repeatable. */
  readonly header?: readonly string[];
  /** Route through this topology file instead of a broker. */
  readonly topology?: string;
}

/** Where a reached queue's dead letters go, and the queues they land in from there. */
export interface DeadLetterRoute {
  readonly exchange: string;
  /** The routing key dead letters carry: the queue's own `deadLetter.routingKey`, else the message's. */
  readonly routingKey: string;
  readonly queues: readonly string[];
}

/** What `wakame route` shows, and prints with `--json`. */
export interface RouteReport {
  readonly ok: true;
  /** The topology file, or the broker URL (password masked). */
  readonly source: { readonly topology: string } | { readonly url: string };
  readonly exchange: string;
  readonly routingKey: string;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly hops: readonly RouteHop[];
  readonly queues: readonly { readonly name: string; readonly deadLetter?: DeadLetterRoute }[];
  /** True when the message reaches no queue. */
  readonly unroutable: boolean;
}

/** `key=value` pairs as strings; `key:=value` parsed as JSON (so `pages:=500` is the number a binding may ask for). */
export function parseRouteHeaders(pairs: readonly string[]): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`--header must look like key=value or key:=json, got '${pair}'`);
    const typed = pair[eq - 1] === ':' && eq > 1;
    const key = pair.slice(0, typed ? eq - 1 : eq);
    const raw = pair.slice(eq + 1);
    if (!typed) {
      headers[key] = raw;
      continue;
    }
    try {
      headers[key] = JSON.parse(raw) as unknown;
    } catch {
      throw new InvalidArgumentError(`--header ${key}:= takes a JSON value (500, true, "text"), got '${raw}'`);
    }
  }
  return headers;
}

/** Routes one message and prints its path; fails with exit code 1 when the exchange does not exist. */
export async function route(
  ctx: CommandContext,
  exchange: string,
  routingKey: string,
  options: RouteOptions,
): Promise<RouteReport> {
  if (options.topology !== undefined && options.url !== undefined) {
    throw new ExitError(USAGE_EXIT_CODE, 'give --topology <file> or --url <url>, not both');
  }
  const headers = parseRouteHeaders(options.header ?? []);
  const { topology, source } = await load(ctx, options);
  const trace = traceRoute(topology, exchange, { routingKey, headers });
  const where = 'topology' in source ? `in ${source.topology}` : `on ${source.url}`;
  if (!trace.exchangeFound) {
    const known = topology.exchanges.map((e) => e.name).filter((n) => n !== '');
    throw new ExitError(1, `exchange '${exchange}' does not exist ${where}`, {
      code: 'ERR_NOT_FOUND',
      hint: known.length === 0 ? 'there are no exchanges yet' : `known exchanges: ${known.join(', ')}`,
    });
  }
  const report = reportOf(topology, trace, { source, exchange, routingKey, headers });
  if (ctx.jsonMode) ctx.json(report);
  else print(ctx, report, topology, where);
  return report;
}

/** The compiled topology file, or the broker's listing (which must be complete to route through). */
async function load(
  ctx: CommandContext,
  options: RouteOptions,
): Promise<{ topology: Routable; source: RouteReport['source'] }> {
  if (options.topology !== undefined) {
    const { desired } = await readTopology(ctx, options.topology);
    return { topology: desired, source: { topology: options.topology } };
  }
  const connection = await openBroker(ctx, options);
  try {
    const observed = await connection.admin.inspect();
    if (!observed.complete) throw new ListingUnavailableError(connection.url);
    return { topology: observed, source: { url: connection.url } };
  } finally {
    await connection.close();
  }
}

function reportOf(
  topology: Routable,
  trace: RouteTrace,
  message: Pick<RouteReport, 'source' | 'exchange' | 'routingKey' | 'headers'>,
): RouteReport {
  const specs = new Map(topology.queues.map((q) => [q.name, q]));
  const queues = trace.queues.map((name) => {
    const target = specs.get(name)?.deadLetter;
    if (target === undefined) return { name };
    // A dead letter keeps the message's key unless the queue sets its own, and keeps its headers.
    const routingKey = target.routingKey ?? message.routingKey;
    const onward = traceRoute(topology, target.exchange, { routingKey, headers: message.headers });
    return { name, deadLetter: { exchange: target.exchange, routingKey, queues: onward.queues } };
  });
  return { ok: true, ...message, hops: trace.hops, queues, unroutable: trace.queues.length === 0 };
}

function show(exchange: string): string {
  return exchange === '' ? 'the default exchange' : `'${exchange}'`;
}

/** How a binding is matched: its key, or for headers exchanges its arguments. */
function matchOf(type: RouteHop['type'], binding: BindingSpec): string {
  if (type === 'fanout') return 'fanout';
  if (type === 'headers') {
    const pairs = Object.entries(binding.arguments).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    return `headers {${pairs.join(', ')}}`;
  }
  return `key '${binding.routingKey}'`;
}

function print(ctx: CommandContext, report: RouteReport, topology: Routable, where: string): void {
  const headers = Object.entries(report.headers).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  const withHeaders = headers.length === 0 ? '' : ` and headers {${headers.join(', ')}}`;
  if (!ctx.quiet) {
    ctx.out(`A message to ${show(report.exchange)} with routing key '${report.routingKey}'${withHeaders}, ${where}:`);
  }
  for (const hop of report.hops) {
    const reason = hop.reason;
    const via =
      reason.kind === 'binding'
        ? ` ← bound from '${reason.from}'`
        : reason.kind === 'alternate'
          ? ` ← alternate exchange of '${reason.from}'`
          : '';
    const name = hop.exchange === '' ? 'the default exchange' : `exchange '${hop.exchange}'`;
    ctx.out(`  ${name} (${hop.type})${via}`);
    for (const b of hop.matched) {
      const to = b.destinationType === 'queue' ? `queue '${b.destination}'` : `exchange '${b.destination}'`;
      ctx.out(`    ${hop.exchange === '' ? 'queue named by the key' : matchOf(hop.type, b)} → ${to}`);
    }
    if (hop.matched.length === 0) {
      const next = hop.alternate === undefined ? '' : ` → alternate exchange '${hop.alternate}'`;
      ctx.out(`    no binding matches${next}`);
    }
  }
  const internal = topology.exchanges.find((e) => e.name === report.exchange)?.internal === true;
  if (internal) ctx.out(`  note: ${show(report.exchange)} is internal: a client cannot publish to it directly`);
  if (report.unroutable) {
    ctx.out('Reaches no queue: the broker drops the message (or returns it to a mandatory publisher).');
    return;
  }
  ctx.out(`Reaches ${report.queues.length} queue${report.queues.length === 1 ? '' : 's'}:`);
  for (const q of report.queues) {
    const dl = q.deadLetter;
    if (dl === undefined) {
      ctx.out(`  ${q.name}`);
      continue;
    }
    const lands = dl.queues.length === 0 ? 'no queue' : dl.queues.join(', ');
    ctx.out(`  ${q.name}  (dead letters → ${show(dl.exchange)} with key '${dl.routingKey}' → ${lands})`);
  }
}
