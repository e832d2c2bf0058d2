/**
 * Client-side exchange routing for the virtual transport: which queues a publish reaches.
 *
 * A {@link RoutingTable} is built once per topology snapshot (rebuild it when exchanges or bindings change) and
 * answers {@link RoutingTable.route} on the publish hot path. It follows AMQP 0-9-1 as RabbitMQ implements it:
 *
 * - direct, fanout, topic ({@link compileTopic}) and headers ({@link compileHeaders}) exchanges;
 * - exchange-to-exchange bindings, each exchange being routed at most once per publish, so cycles end;
 * - alternate exchanges, used by an exchange whose own bindings matched nothing (RabbitMQ's rule: an exchange that
 *   matched only exchange-to-exchange bindings counts as routed even if those exchanges reach no queue; each of
 *   them falls back on its own alternate exchange instead).
 *
 * @module
 */
import { InvalidOperationError } from '../errors.js';
import { compileHeaders, type HeadersPattern } from '../model/headers-match.js';
import { compileTopic, type TopicPattern } from '../model/topic-match.js';
import type { BindingSpec, ExchangeSpec, ExchangeType } from '../transport/spi.js';

/** The topology a {@link RoutingTable} routes through. Queues are not needed: see {@link RoutingTable.route}. */
export interface RoutingSnapshot {
  readonly exchanges: readonly ExchangeSpec[];
  readonly bindings: readonly BindingSpec[];
}

/** Where one publish goes. Results may be shared between calls: treat them as immutable. */
export interface RouteResult {
  /** Queues that receive one copy each (a queue reachable several ways still gets one copy). */
  readonly queues: ReadonlySet<string>;
  /** False when the publish target exchange does not exist (the caller raises NotFoundError). */
  readonly exchangeFound: boolean;
}

function refuseChange(): never {
  throw new InvalidOperationError('route results are shared and cannot be modified');
}

/**
 * Route results are cached and handed to every caller, so one caller mutating a result would silently misroute
 * everybody else's messages. `ReadonlySet` only stops that at compile time and `Object.freeze` does not reach a
 * Set's contents, so result sets get this prototype, whose mutators refuse. It sits between the set and
 * `Set.prototype` (rather than being a subclass) so a result still has `constructor === Set` and compares equal to
 * `new Set([...])` in tests; swapping the prototype measured several times cheaper than own-property overrides.
 */
const FROZEN_SET_PROTOTYPE: object = Object.freeze(
  Object.create(Set.prototype, {
    add: { value: refuseChange },
    delete: { value: refuseChange },
    clear: { value: refuseChange },
  }),
);

function frozenSet<T>(values: Iterable<T>): ReadonlySet<T> {
  const set = new Set(values);
  Object.setPrototypeOf(set, FROZEN_SET_PROTOTYPE);
  return Object.freeze(set);
}

function result(queues: Iterable<string>): RouteResult {
  return Object.freeze({ queues: frozenSet(queues), exchangeFound: true });
}

const NO_QUEUES = result([]);
const NOT_FOUND: RouteResult = Object.freeze({ queues: NO_QUEUES.queues, exchangeFound: false });

/** The nameless default exchange, which every broker has and nobody declares. */
const DEFAULT_EXCHANGE: ExchangeSpec = Object.freeze({
  name: '',
  type: 'direct',
  durable: true,
  autoDelete: false,
  internal: false,
  arguments: Object.freeze({}),
});

/**
 * Most route results memoised at once, across all exchanges. When full the whole cache is dropped: simpler and
 * cheaper per publish than an LRU, and a hot set of more than this many routing keys is rare.
 */
const CACHE_LIMIT = 10_000;

/** What one matching binding (or several with the same key) sends a message to. */
interface Targets {
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
}

interface CompiledExchange {
  readonly spec: ExchangeSpec;
  readonly type: ExchangeType;
  /** The alternate exchange, only when it exists in the snapshot. */
  readonly alternate: string | undefined;
  /** direct: binding key → targets. */
  readonly direct: ReadonlyMap<string, Targets>;
  /** fanout: every binding's targets merged; undefined without bindings. */
  readonly fanout: Targets | undefined;
  /** topic: one entry per distinct binding key. */
  readonly topic: readonly { readonly pattern: TopicPattern; readonly targets: Targets }[];
  /** headers: one entry per binding (arguments differ from binding to binding). */
  readonly headers: readonly { readonly pattern: HeadersPattern; readonly targets: Targets }[];
  /** Whether routing from here never consults message headers, so results depend on the routing key alone. */
  readonly cacheable: boolean;
  /**
   * A direct exchange whose bindings all lead to queues (no exchange-to-exchange hop): the finished result per
   * binding key. A miss means no binding matched.
   */
  readonly directResults: ReadonlyMap<string, RouteResult> | undefined;
  /** The same for a fanout exchange with at least one binding, all to queues: one result for every key. */
  readonly fanoutResult: RouteResult | undefined;
}

/** Collects bindings of one source exchange before compiling them. */
class TargetsBuilder {
  readonly queues = new Set<string>();
  readonly exchanges = new Set<string>();
  add(binding: BindingSpec): void {
    (binding.destinationType === 'exchange' ? this.exchanges : this.queues).add(binding.destination);
  }
  build(): Targets {
    return Object.freeze({ queues: [...this.queues], exchanges: [...this.exchanges] });
  }
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

function alternateOf(spec: ExchangeSpec): string | undefined {
  if (spec.alternateExchange !== undefined) return spec.alternateExchange;
  const argument = spec.arguments['alternate-exchange'];
  return typeof argument === 'string' ? argument : undefined;
}

/**
 * An immutable routing table over one topology snapshot.
 *
 * Built with everything the hot path needs precomputed: direct bindings indexed by key, topic patterns compiled,
 * headers arguments parsed, and finished results for queue-only direct and fanout exchanges. Results that depend
 * only on `(exchange, routingKey)` — everything that never passes through a headers exchange — are memoised in a
 * bounded cache, so a repeated publish costs two map lookups and allocates nothing.
 *
 * The snapshot is taken as is: bindings whose source exchange is missing are ignored, as are bindings to a
 * missing destination exchange, bindings from or to the default exchange (RabbitMQ forbids both) and an
 * alternate exchange that does not exist. When two exchanges share a name the later one wins.
 */
export class RoutingTable {
  readonly #exchanges: ReadonlyMap<string, CompiledExchange>;
  readonly #cache = new Map<string, Map<string, RouteResult>>();
  #cached = 0;

  constructor(snapshot: RoutingSnapshot) {
    const specs = new Map<string, ExchangeSpec>();
    for (const spec of snapshot.exchanges) if (spec.name !== '') specs.set(spec.name, spec);

    const grouped = new Map<string, Map<string, TargetsBuilder>>();
    const headerBindings = new Map<string, BindingSpec[]>();
    const edges = new Map<string, Set<string>>();
    for (const binding of snapshot.bindings) {
      const source = specs.get(binding.source);
      if (source === undefined) continue;
      if (binding.destinationType === 'exchange') {
        if (!specs.has(binding.destination)) continue;
        getOrCreate(edges, source.name, () => new Set<string>()).add(binding.destination);
      }
      if (source.type === 'headers') {
        getOrCreate(headerBindings, source.name, () => []).push(binding);
        continue;
      }
      // Fanout ignores the key, so all of its bindings share one group.
      const key = source.type === 'fanout' ? '' : binding.routingKey;
      const byKey = getOrCreate(grouped, source.name, () => new Map<string, TargetsBuilder>());
      getOrCreate(byKey, key, () => new TargetsBuilder()).add(binding);
    }

    const alternates = new Map<string, string>();
    for (const spec of specs.values()) {
      const alternate = alternateOf(spec);
      if (alternate !== undefined && specs.has(alternate)) alternates.set(spec.name, alternate);
    }
    const headerDependent = dependsOnHeaders(specs, edges, alternates);

    const compiled = new Map<string, CompiledExchange>();
    for (const spec of specs.values()) {
      const byKey = new Map<string, Targets>();
      for (const [key, builder] of grouped.get(spec.name) ?? []) byKey.set(key, builder.build());
      const headers = (headerBindings.get(spec.name) ?? []).map((binding) => {
        const builder = new TargetsBuilder();
        builder.add(binding);
        return { pattern: compileHeaders(binding.arguments), targets: builder.build() };
      });
      const queueOnly = !edges.has(spec.name);
      const fanoutTargets = byKey.get('');
      compiled.set(spec.name, {
        spec,
        type: spec.type,
        alternate: alternates.get(spec.name),
        direct: spec.type === 'direct' ? byKey : new Map(),
        fanout: spec.type === 'fanout' ? fanoutTargets : undefined,
        topic:
          spec.type === 'topic' ? [...byKey].map(([key, targets]) => ({ pattern: compileTopic(key), targets })) : [],
        headers,
        cacheable: !headerDependent.has(spec.name),
        directResults:
          queueOnly && spec.type === 'direct'
            ? new Map([...byKey].map(([key, targets]) => [key, result(targets.queues)]))
            : undefined,
        fanoutResult:
          queueOnly && spec.type === 'fanout' && fanoutTargets !== undefined ? result(fanoutTargets.queues) : undefined,
      });
    }
    this.#exchanges = compiled;
  }

  /** Whether `name` is an exchange of the snapshot; the default exchange `''` always exists. */
  hasExchange(name: string): boolean {
    return name === '' || this.#exchanges.has(name);
  }

  /**
   * The declaration of exchange `name` (`internal` included: refusing direct publishes to internal exchanges is
   * the caller's job), or undefined when it does not exist. `''` gives the default exchange.
   */
  exchange(name: string): ExchangeSpec | undefined {
    return name === '' ? DEFAULT_EXCHANGE : this.#exchanges.get(name)?.spec;
  }

  /**
   * The queues a message published to `exchange` with `routingKey` (and `headers`, for headers exchanges) reaches.
   *
   * The default exchange `''` routes to the queue named by the routing key, but the table does not know which
   * queues exist: it answers `{routingKey}` and the caller must check that the queue exists (and drop the name,
   * or treat the message as unroutable, when it does not). Routing key `''` on the default exchange routes nowhere.
   * Queue names reached through other exchanges come from bindings and are equally unchecked.
   *
   * The returned result may be shared with other calls and must not be modified.
   */
  route(exchange: string, routingKey: string, headers?: Readonly<Record<string, unknown>>): RouteResult {
    if (exchange === '') return this.#routeDefault(routingKey);
    const node = this.#exchanges.get(exchange);
    if (node === undefined) return NOT_FOUND;

    const directResults = node.directResults;
    if (directResults !== undefined) {
      const hit = directResults.get(routingKey);
      if (hit !== undefined) return hit;
      if (node.alternate === undefined) return NO_QUEUES;
    } else if (node.fanoutResult !== undefined) {
      return node.fanoutResult;
    }
    if (!node.cacheable) return this.#walk(node, routingKey, headers);

    const cached = this.#cache.get(exchange)?.get(routingKey);
    if (cached !== undefined) return cached;
    const routed = this.#walk(node, routingKey, headers);
    this.#remember(exchange, routingKey, routed);
    return routed;
  }

  #routeDefault(routingKey: string): RouteResult {
    if (routingKey === '') return NO_QUEUES;
    const cached = this.#cache.get('')?.get(routingKey);
    if (cached !== undefined) return cached;
    const routed = result([routingKey]);
    this.#remember('', routingKey, routed);
    return routed;
  }

  #remember(exchange: string, routingKey: string, routed: RouteResult): void {
    if (this.#cached >= CACHE_LIMIT) {
      this.#cache.clear();
      this.#cached = 0;
    }
    getOrCreate(this.#cache, exchange, () => new Map<string, RouteResult>()).set(routingKey, routed);
    this.#cached++;
  }

  /** Routes through `start` and every exchange it leads to, each at most once (RabbitMQ's work list). */
  #walk(
    start: CompiledExchange,
    routingKey: string,
    headers: Readonly<Record<string, unknown>> | undefined,
  ): RouteResult {
    const walk = new Walk(this.#exchanges, start);
    for (let node = walk.next(); node !== undefined; node = walk.next()) {
      if (!matchBindings(node, routingKey, headers, walk) && node.alternate !== undefined) walk.enqueue(node.alternate);
    }
    return walk.queues.size === 0 ? NO_QUEUES : result(walk.queues);
  }
}

/** The state of routing one publish: the queues found so far and the exchanges still to route through. */
class Walk {
  readonly queues = new Set<string>();
  readonly #exchanges: ReadonlyMap<string, CompiledExchange>;
  // Exchanges already queued; RabbitMQ routes each exchange at most once per publish, which also ends cycles.
  readonly #seen: Set<string>;
  readonly #pending: CompiledExchange[];

  constructor(exchanges: ReadonlyMap<string, CompiledExchange>, start: CompiledExchange) {
    this.#exchanges = exchanges;
    this.#seen = new Set([start.spec.name]);
    this.#pending = [start];
  }

  next(): CompiledExchange | undefined {
    return this.#pending.pop();
  }

  /** Records a matching binding's targets. */
  take(targets: Targets): void {
    for (const queue of targets.queues) this.queues.add(queue);
    for (const name of targets.exchanges) this.enqueue(name);
  }

  enqueue(name: string): void {
    if (this.#seen.has(name)) return;
    this.#seen.add(name);
    const node = this.#exchanges.get(name);
    if (node !== undefined) this.#pending.push(node);
  }
}

/** Hands the targets of every binding of `node` that matches to `walk`; false when none matched. */
function matchBindings(
  node: CompiledExchange,
  routingKey: string,
  headers: Readonly<Record<string, unknown>> | undefined,
  walk: Walk,
): boolean {
  let matched = false;
  switch (node.type) {
    case 'direct': {
      const targets = node.direct.get(routingKey);
      if (targets !== undefined) {
        walk.take(targets);
        matched = true;
      }
      break;
    }
    case 'fanout':
      if (node.fanout !== undefined) {
        walk.take(node.fanout);
        matched = true;
      }
      break;
    case 'topic':
      for (const { pattern, targets } of node.topic) {
        if (pattern.matches(routingKey)) {
          walk.take(targets);
          matched = true;
        }
      }
      break;
    case 'headers':
      for (const { pattern, targets } of node.headers) {
        if (pattern.matches(headers)) {
          walk.take(targets);
          matched = true;
        }
      }
      break;
  }
  return matched;
}

/** Exchanges from which routing can reach a headers exchange (via bindings or alternates), found backwards. */
function dependsOnHeaders(
  specs: ReadonlyMap<string, ExchangeSpec>,
  edges: ReadonlyMap<string, ReadonlySet<string>>,
  alternates: ReadonlyMap<string, string>,
): Set<string> {
  const incoming = new Map<string, string[]>();
  const link = (from: string, to: string): void => {
    getOrCreate(incoming, to, () => []).push(from);
  };
  for (const [from, targets] of edges) for (const to of targets) link(from, to);
  for (const [from, to] of alternates) link(from, to);

  const found = new Set<string>();
  const pending: string[] = [];
  for (const spec of specs.values()) {
    if (spec.type === 'headers') {
      found.add(spec.name);
      pending.push(spec.name);
    }
  }
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    for (const from of incoming.get(name) ?? []) {
      if (!found.has(from)) {
        found.add(from);
        pending.push(from);
      }
    }
  }
  return found;
}
