/**
 * Where a message can go in a compiled topology: the queues a publish can reach
 * ({@link reachableQueues}) and the queues whose messages can expire into one another forever
 * ({@link expiryCycles}). The rules use both.
 *
 * @module
 */
import { BUILTIN_EXCHANGES } from '../../model/builtin-exchanges.js';
import { compileTopic } from '../../model/topic-match.js';
import type { BindingSpec, ExchangeType } from '../../transport/spi.js';
import { compareStrings } from '../compile/compile.js';
import type { DesiredTopology } from '../desired.js';

/** Whether `binding` can take a message with `routingKey` (`undefined`: any key) from an exchange of `type`. */
function bindingAccepts(type: ExchangeType | undefined, binding: BindingSpec, routingKey: string | undefined): boolean {
  if (routingKey === undefined) return true;
  switch (type) {
    case 'direct':
      return binding.routingKey === routingKey;
    case 'topic':
      return compileTopic(binding.routingKey).matches(routingKey);
    default:
      // Fanout ignores the key; headers depend on message headers we cannot know, so assume a match.
      return true;
  }
}

/**
 * The queues a message published to `exchange` with `routingKey` can reach, through
 * exchange-to-exchange bindings too. `routingKey` `undefined` means "any key" (a dead-lettered
 * message keeps whatever key it had). Headers bindings are assumed to match. The default exchange
 * `''` reaches the declared queue named by the key, and nothing when the key is unknown.
 */
export function reachableQueues(
  topology: DesiredTopology,
  exchange: string,
  routingKey: string | undefined,
): ReadonlySet<string> {
  const found = new Set<string>();
  if (exchange === '') {
    if (routingKey !== undefined && topology.queues.some((q) => q.name === routingKey)) found.add(routingKey);
    return found;
  }
  const types = new Map<string, ExchangeType>(BUILTIN_EXCHANGES);
  for (const e of topology.exchanges) types.set(e.name, e.type);
  const visited = new Set<string>();
  const visit = (name: string): void => {
    if (visited.has(name)) return;
    visited.add(name);
    const type = types.get(name);
    for (const b of topology.bindings) {
      if (b.source !== name || !bindingAccepts(type, b, routingKey)) continue;
      if (b.destinationType === 'queue') found.add(b.destination);
      else visit(b.destination);
    }
  };
  visit(exchange);
  return found;
}

/**
 * Groups of queues whose messages can expire into one another forever: every queue of a group has
 * a `messageTtl` and a dead-letter target, and its dead letters can reach the next queue of the
 * group. A queue without `messageTtl` breaks such a circle (its messages wait for a consumer),
 * which is why the retry pattern — a work queue dead-lettering into a delay queue that expires
 * back into it — is not a cycle. Each group is sorted, and the groups by their first name.
 */
export function expiryCycles(topology: DesiredTopology): string[][] {
  const expiring = topology.queues.filter((q) => q.messageTtl !== undefined && q.deadLetter !== undefined);
  const names = new Set(expiring.map((q) => q.name));
  const next = new Map<string, string[]>();
  for (const q of expiring) {
    const dl = q.deadLetter as NonNullable<typeof q.deadLetter>;
    next.set(
      q.name,
      [...reachableQueues(topology, dl.exchange, dl.routingKey)].filter((n) => names.has(n)),
    );
  }
  const reach = new Map<string, Set<string>>();
  for (const { name } of expiring) {
    const seen = new Set<string>();
    const stack = [...(next.get(name) ?? [])];
    for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...(next.get(n) ?? []));
    }
    reach.set(name, seen);
  }
  const cycles: string[][] = [];
  const grouped = new Set<string>();
  // `expiring` is sorted by name (compiled topologies are), so groups come out sorted too.
  for (const { name } of expiring) {
    if (grouped.has(name) || !reach.get(name)?.has(name)) continue;
    const group = [...(reach.get(name) ?? [])].filter((n) => reach.get(n)?.has(name)).sort(compareStrings);
    for (const n of group) grouped.add(n);
    cycles.push(group);
  }
  return cycles;
}
