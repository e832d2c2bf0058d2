/**
 * `diff(desired, live)` → {@link Plan}: pure and deterministic, it never touches a broker. Creates
 * come in dependency order (exchanges, queues, bindings), deletions in the reverse order.
 *
 * @module
 */
import { stableStringify } from '../internal/stable-stringify.js';
import type { BindingSpec, ExchangeSpec, QueueSpec } from '../transport/spi.js';
import { exchangeDifferences, queueDifferences } from '../virtual/equivalence.js';
import { bindingKey } from '../virtual/in-memory-topology.js';
import type { Change, ChangeKind } from './change.js';
import type { DesiredTopology } from './desired.js';
import type { LiveState, ProbeResult } from './observe.js';

/** The result of planning: every change, and what the counts mean. */
export interface Plan {
  readonly changes: readonly Change[];
  /** How many changes of each kind. */
  readonly counts: Readonly<Partial<Record<ChangeKind, number>>>;
  /** True when applying needs `allowDestructive` (some entity must be replaced). */
  readonly destructive: boolean;
  /** True when nothing would be created, bound or replaced. */
  readonly noChanges: boolean;
  /** False when live state was probed instead of listed (bindings could not be checked). */
  readonly complete: boolean;
}

/** Entities a broker owns, never reported as extraneous. */
function isBrokerOwned(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}

/** Compares what the topology wants with what exists. */
export function diff(desired: DesiredTopology, live: LiveState): Plan {
  const changes: Change[] = [];
  const rebind = new Set<string>(); // entities replaced: their bindings must be made again
  const replaced = (kind: 'exchange' | 'queue', name: string) => rebind.add(`${kind}\u0000${name}`);

  if (live.kind === 'listed') {
    const exchanges = new Map(live.observed.exchanges.map((e) => [e.name, e]));
    const queues = new Map(live.observed.queues.map((q) => [q.name, q]));
    for (const e of desired.exchanges) {
      const actual = exchanges.get(e.name);
      if (!actual) changes.push({ kind: 'create-exchange', exchange: e });
      else {
        const differences = exchangeDifferences(e, actual);
        if (differences.length === 0) changes.push({ kind: 'unchanged', entity: { kind: 'exchange', name: e.name } });
        else {
          changes.push({ kind: 'replace-exchange', exchange: e, differences, destructive: true });
          replaced('exchange', e.name);
        }
      }
    }
    for (const q of desired.queues) {
      const actual = queues.get(q.name);
      if (!actual) changes.push({ kind: 'create-queue', queue: q });
      else {
        const differences = queueDifferences(q, actual);
        if (differences.length === 0) changes.push({ kind: 'unchanged', entity: { kind: 'queue', name: q.name } });
        else {
          changes.push({
            kind: 'replace-queue',
            queue: q,
            differences,
            messageCount: actual.messageCount,
            destructive: true,
          });
          replaced('queue', q.name);
        }
      }
    }
    const existing = new Set(live.observed.bindings.map(bindingKey));
    for (const b of desired.bindings) {
      const redo = rebind.has(`exchange\u0000${b.source}`) || rebind.has(`${b.destinationType}\u0000${b.destination}`);
      changes.push(
        !redo && existing.has(bindingKey(b))
          ? { kind: 'unchanged', entity: { kind: 'binding', binding: b } }
          : { kind: 'bind', binding: b },
      );
    }
    const wanted = {
      exchanges: new Set(desired.exchanges.map((e) => e.name)),
      queues: new Set(desired.queues.map((q) => q.name)),
      bindings: new Set(desired.bindings.map(bindingKey)),
    };
    for (const b of sorted(live.observed.bindings, bindingOrder)) {
      if (!wanted.bindings.has(bindingKey(b)) && !isBrokerOwned(b.source))
        changes.push({ kind: 'extraneous-binding', binding: b });
    }
    for (const q of sorted(live.observed.queues, byName)) {
      if (!wanted.queues.has(q.name) && !isBrokerOwned(q.name)) {
        changes.push({ kind: 'extraneous-queue', queue: q, messageCount: q.messageCount });
      }
    }
    for (const e of sorted(live.observed.exchanges, byName)) {
      if (!wanted.exchanges.has(e.name) && !isBrokerOwned(e.name))
        changes.push({ kind: 'extraneous-exchange', exchange: e });
    }
  } else {
    for (const e of desired.exchanges) changes.push(fromProbe('exchange', e, live.exchanges.get(e.name), replaced));
    for (const q of desired.queues) changes.push(fromProbe('queue', q, live.queues.get(q.name), replaced));
    for (const b of desired.bindings) {
      const created =
        rebind.has(`exchange\u0000${b.source}`) ||
        rebind.has(`${b.destinationType}\u0000${b.destination}`) ||
        live.exchanges.get(b.source)?.state === 'missing' ||
        (b.destinationType === 'queue' ? live.queues : live.exchanges).get(b.destination)?.state === 'missing';
      changes.push(
        created
          ? { kind: 'bind', binding: b }
          : {
              kind: 'unverifiable',
              entity: { kind: 'binding', binding: b },
              reason: 'bindings cannot be listed without the management API; apply binds it (a no-op if it exists)',
            },
      );
    }
  }
  return summarise(changes, live.kind === 'listed');
}

function fromProbe(
  kind: 'exchange' | 'queue',
  spec: ExchangeSpec | QueueSpec,
  probe: ProbeResult | undefined,
  replaced: (kind: 'exchange' | 'queue', name: string) => void,
): Change {
  if (!probe || probe.state === 'missing') {
    return kind === 'exchange'
      ? { kind: 'create-exchange', exchange: spec as ExchangeSpec }
      : { kind: 'create-queue', queue: spec as QueueSpec };
  }
  if (probe.state === 'equal') return { kind: 'unchanged', entity: { kind, name: spec.name } };
  replaced(kind, spec.name);
  return kind === 'exchange'
    ? { kind: 'replace-exchange', exchange: spec as ExchangeSpec, differences: probe.differences, destructive: true }
    : {
        kind: 'replace-queue',
        queue: spec as QueueSpec,
        differences: probe.differences,
        messageCount: probe.messageCount,
        destructive: true,
      };
}

function summarise(changes: Change[], complete: boolean): Plan {
  const counts: Partial<Record<ChangeKind, number>> = {};
  for (const c of changes) counts[c.kind] = (counts[c.kind] ?? 0) + 1;
  const acting = changes.some(
    (c) =>
      c.kind === 'create-exchange' ||
      c.kind === 'create-queue' ||
      c.kind === 'bind' ||
      c.kind === 'replace-exchange' ||
      c.kind === 'replace-queue',
  );
  return {
    changes,
    counts,
    destructive: changes.some((c) => c.kind === 'replace-exchange' || c.kind === 'replace-queue'),
    noChanges: !acting,
    complete,
  };
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function bindingOrder(a: BindingSpec, b: BindingSpec): number {
  const ka = `${a.source}\u0000${a.destinationType}\u0000${a.destination}\u0000${a.routingKey}\u0000${stableStringify(a.arguments)}`;
  const kb = `${b.source}\u0000${b.destinationType}\u0000${b.destination}\u0000${b.routingKey}\u0000${stableStringify(b.arguments)}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function sorted<T>(items: readonly T[], order: (a: T, b: T) => number): T[] {
  return [...items].sort(order);
}
