/**
 * Where one message goes, step by step: {@link traceRoute} routes a publish through a topology the way RabbitMQ
 * does and records every exchange it passes, the bindings that matched there, and why it got there (the publish,
 * an exchange-to-exchange binding, an alternate exchange).
 *
 * It answers what the virtual transport's `RoutingTable` answers — the same matchers ({@link compileTopic},
 * {@link compileHeaders}), the same rules for exchange-to-exchange bindings, cycles and alternate exchanges; a test
 * checks the two agree — but it is built for explaining a route, not for the publish hot path: it keeps the path
 * and compiles patterns on every call. It lives in the model, below both the virtual transport and the topology
 * checks, so `wakame validate` (routing tests in a topology file) and `wakame route` can use it.
 *
 * @module
 */
import { BUILTIN_EXCHANGES } from './builtin-exchanges.js';
import { compileHeaders } from './headers-match.js';
import type { BindingSpec, ExchangeSpec, ExchangeType } from './specs.js';
import { compileTopic } from './topic-match.js';

/** What {@link traceRoute} routes through. */
export interface RouteTopology {
  readonly exchanges: readonly ExchangeSpec[];
  readonly bindings: readonly BindingSpec[];
  /**
   * Queue names, for the default exchange (which reaches the queue named by the routing key only if it exists).
   * Absent: the default exchange reaches the named queue unchecked.
   */
  readonly queues?: readonly { readonly name: string }[];
}

/** How the message came to an exchange. */
export type HopReason =
  | { readonly kind: 'publish' }
  /** An exchange-to-exchange binding of `from` matched. */
  | { readonly kind: 'binding'; readonly from: string; readonly binding: BindingSpec }
  /** No binding of `from` matched, and `from` has this exchange as its alternate exchange. */
  | { readonly kind: 'alternate'; readonly from: string };

/** One exchange the message passed through. */
export interface RouteHop {
  readonly exchange: string;
  readonly type: ExchangeType;
  readonly reason: HopReason;
  /** The bindings of this exchange that matched, in topology order (to queues and to exchanges). */
  readonly matched: readonly BindingSpec[];
  /** The alternate exchange the message went on to because nothing matched here. */
  readonly alternate?: string;
}

/** The whole route of one publish. */
export interface RouteTrace {
  /** False when the published-to exchange does not exist (then nothing else is set). */
  readonly exchangeFound: boolean;
  /** Exchanges in the order the message reached them (breadth first); the first is the published-to one. */
  readonly hops: readonly RouteHop[];
  /** Queues that receive one copy each, sorted by name. Empty: the message is unroutable. */
  readonly queues: readonly string[];
}

/** The message: a routing key and, for headers exchanges, its headers. */
export interface RoutedMessage {
  readonly routingKey: string;
  readonly headers?: Readonly<Record<string, unknown>>;
}

function alternateOf(spec: ExchangeSpec): string | undefined {
  if (spec.alternateExchange !== undefined) return spec.alternateExchange;
  const argument = spec.arguments['alternate-exchange'];
  return typeof argument === 'string' ? argument : undefined;
}

/** The built-in `amq.*` exchanges, which exist on every broker whether declared or not. */
function builtinSpec(name: string, type: ExchangeType): ExchangeSpec {
  return { name, type, durable: true, autoDelete: false, internal: false, arguments: {} };
}

function matches(type: ExchangeType, binding: BindingSpec, message: RoutedMessage): boolean {
  switch (type) {
    case 'direct':
      return binding.routingKey === message.routingKey;
    case 'fanout':
      return true;
    case 'topic':
      return compileTopic(binding.routingKey).matches(message.routingKey);
    case 'headers':
      return compileHeaders(binding.arguments).matches(message.headers);
  }
}

/**
 * Routes a message published to `exchange` through `topology` and records the way it took.
 *
 * Like RabbitMQ (and the virtual transport): each exchange is routed at most once per publish, which ends cycles;
 * an exchange whose own bindings matched nothing hands the message to its alternate exchange, if that exists; an
 * exchange that matched only exchange-to-exchange bindings counts as routed. Bindings from a missing exchange or
 * to a missing exchange, and bindings from or to the default exchange `''`, are ignored. The built-in `amq.*`
 * exchanges exist even when the topology does not list them.
 */
export function traceRoute(topology: RouteTopology, exchange: string, message: RoutedMessage): RouteTrace {
  if (exchange === '') return traceDefault(topology, message.routingKey);
  const specs = new Map<string, ExchangeSpec>();
  for (const [name, type] of BUILTIN_EXCHANGES) specs.set(name, builtinSpec(name, type));
  for (const spec of topology.exchanges) if (spec.name !== '') specs.set(spec.name, spec);
  const start = specs.get(exchange);
  if (start === undefined) return { exchangeFound: false, hops: [], queues: [] };

  const bySource = new Map<string, BindingSpec[]>();
  for (const binding of topology.bindings) {
    if (!specs.has(binding.source)) continue;
    if (binding.destinationType === 'exchange' && !specs.has(binding.destination)) continue;
    bySource.set(binding.source, [...(bySource.get(binding.source) ?? []), binding]);
  }

  const hops: RouteHop[] = [];
  const queues = new Set<string>();
  const seen = new Set<string>([exchange]);
  const pending: { spec: ExchangeSpec; reason: HopReason }[] = [{ spec: start, reason: { kind: 'publish' } }];
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    const { spec, reason } = next;
    const matched = (bySource.get(spec.name) ?? []).filter((b) => matches(spec.type, b, message));
    for (const binding of matched) {
      if (binding.destinationType === 'queue') queues.add(binding.destination);
      else if (!seen.has(binding.destination)) {
        seen.add(binding.destination);
        const to = specs.get(binding.destination) as ExchangeSpec;
        pending.push({ spec: to, reason: { kind: 'binding', from: spec.name, binding } });
      }
    }
    const alternateName = alternateOf(spec);
    const alternate = alternateName === undefined ? undefined : specs.get(alternateName);
    const useAlternate = matched.length === 0 && alternate !== undefined;
    if (useAlternate && !seen.has(alternate.name)) {
      seen.add(alternate.name);
      pending.push({ spec: alternate, reason: { kind: 'alternate', from: spec.name } });
    }
    hops.push({
      exchange: spec.name,
      type: spec.type,
      reason,
      matched,
      ...(useAlternate ? { alternate: alternate.name } : {}),
    });
  }
  return { exchangeFound: true, hops, queues: [...queues].sort(byCodePoint) };
}

/** The default exchange: the queue named by the routing key, when it exists; `''` names no queue. */
function traceDefault(topology: RouteTopology, routingKey: string): RouteTrace {
  const exists =
    routingKey !== '' && (topology.queues === undefined || topology.queues.some((q) => q.name === routingKey));
  const binding: BindingSpec = {
    source: '',
    destination: routingKey,
    destinationType: 'queue',
    routingKey,
    arguments: {},
  };
  const hop: RouteHop = { exchange: '', type: 'direct', reason: { kind: 'publish' }, matched: exists ? [binding] : [] };
  return { exchangeFound: true, hops: [hop], queues: exists ? [routingKey] : [] };
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
