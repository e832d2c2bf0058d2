/**
 * `diff(desired, live, ownership)` → {@link Plan}: pure and deterministic, it never touches a broker.
 * Creates come in dependency order (exchanges, queues, bindings), deletions in the reverse order.
 *
 * What exists but is not declared falls in one of three groups (see `ownership.ts`): owned by this
 * stack (an `extraneous-*` change: drift, deleted with prune), made by Wakame at run time (ignored)
 * or foreign (listed in {@link Plan.foreign}, never touched).
 *
 * @module
 */
import { stableStringify } from '../../internal/stable-stringify.js';
import { bindingKey } from '../../model/binding-key.js';
import { exchangeDifferences, queueDifferences } from '../../model/equivalence.js';
import type { BindingSpec, ExchangeSpec, QueueSpec } from '../../transport/spi.js';
import type { DesiredTopology } from '../desired.js';
import type { Change, ChangeKind, EntityRef } from './change.js';
import { diffBroker, type LiveBroker } from './diff-broker.js';
import type { LiveState, ProbeResult } from './observe.js';
import { isRuntimeBinding, isRuntimeEntity, type Ownership, type StackState } from './ownership.js';
import type { ForeignEntity, Plan } from './plan.js';

/** Options of {@link diff}. */
export interface DiffOptions {
  /** The broker's own entities as listed; absent when the transport keeps none (or none matter). */
  readonly broker?: LiveBroker;
  /**
   * Plan queues whose immutable settings change as migrations (every message kept) instead of
   * replacements (deleted and declared again). Needs a listed broker.
   */
  readonly migrate?: boolean;
  /** Migrations an earlier apply began and did not finish (the stack record's journals). */
  readonly migrations?: StackState['migrations'];
}

/**
 * Compares what the topology wants with what exists. `ownership` is what the stack owns; without
 * it, nothing undeclared is the stack's.
 */
export function diff(
  desired: DesiredTopology,
  live: LiveState,
  ownership?: Ownership,
  options: DiffOptions = {},
): Plan {
  const changes: Change[] = [];
  const foreign: ForeignEntity[] = [];
  const unowned: EntityRef[] = [];
  const owns = {
    exchange: (name: string) => ownership?.exchanges.has(name) ?? false,
    queue: (name: string) => ownership?.queues.has(name) ?? false,
    binding: (b: BindingSpec) => ownership?.bindings.has(bindingKey(b)) ?? false,
  };
  const noteUnowned = (entity: EntityRef): void => {
    if (!ownership || entity.kind === 'broker') return;
    const owned = entity.kind === 'binding' ? owns.binding(entity.binding) : owns[entity.kind](entity.name);
    if (!owned) unowned.push(entity);
  };
  const pending = options.migrations ?? {};
  if (options.broker) {
    // Vhosts, users, permissions and policies first: a policy must be in place before the queues it shapes.
    const broker = diffBroker(desired.broker, options.broker, ownership?.broker);
    changes.push(...broker.changes);
    unowned.push(...broker.unowned);
  }
  const rebind = new Set<string>(); // entities replaced: their bindings must be made again
  const replaced = (kind: 'exchange' | 'queue', name: string) => rebind.add(`${kind}\u0000${name}`);

  if (live.kind === 'listed') {
    const exchanges = new Map(live.observed.exchanges.map((e) => [e.name, e]));
    const queues = new Map(live.observed.queues.map((q) => [q.name, q]));
    for (const e of desired.exchanges) {
      const actual = exchanges.get(e.name);
      if (!actual) changes.push({ kind: 'create-exchange', exchange: e });
      else {
        noteUnowned({ kind: 'exchange', name: e.name });
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
      const journal = pending[q.name];
      if (!actual && journal !== undefined) {
        // Interrupted between deleting the queue and declaring it again: the migration puts it back.
        changes.push({
          kind: 'migrate-queue',
          queue: q,
          from: (journal.from as QueueSpec | undefined) ?? q,
          differences: [],
          bindings: bindingsOf(desired, q.name),
          messageCount: undefined,
          resumeFrom: typeof journal.step === 'string' ? journal.step : 'start',
        });
      } else if (!actual) changes.push({ kind: 'create-queue', queue: q });
      else {
        noteUnowned({ kind: 'queue', name: q.name });
        const differences = queueDifferences(q, actual);
        const { messageCount, consumerCount, ...from } = actual;
        const journal = pending[q.name];
        if (journal !== undefined) {
          // An interrupted migration resumes whatever the queue looks like now: its messages are held aside.
          changes.push({
            kind: 'migrate-queue',
            queue: q,
            from: (journal.from as QueueSpec | undefined) ?? from,
            differences,
            bindings: bindingsOf(desired, q.name),
            messageCount,
            consumerCount,
            resumeFrom: typeof journal.step === 'string' ? journal.step : 'start',
          });
        } else if (differences.length === 0)
          changes.push({ kind: 'unchanged', entity: { kind: 'queue', name: q.name } });
        else if (options.migrate && !q.exclusive) {
          changes.push({
            kind: 'migrate-queue',
            queue: q,
            from,
            differences,
            bindings: bindingsOf(desired, q.name),
            messageCount,
            consumerCount,
          });
        } else {
          changes.push({
            kind: 'replace-queue',
            queue: q,
            differences,
            messageCount: actual.messageCount,
            consumerCount: actual.consumerCount,
            destructive: true,
          });
          replaced('queue', q.name);
        }
      }
    }
    const existing = new Set(live.observed.bindings.map(bindingKey));
    for (const b of desired.bindings) {
      const redo = rebind.has(`exchange\u0000${b.source}`) || rebind.has(`${b.destinationType}\u0000${b.destination}`);
      const exists = existing.has(bindingKey(b));
      if (exists && !redo) noteUnowned({ kind: 'binding', binding: b });
      changes.push(
        !redo && exists ? { kind: 'unchanged', entity: { kind: 'binding', binding: b } } : { kind: 'bind', binding: b },
      );
    }
    const wanted = {
      exchanges: new Set(desired.exchanges.map((e) => e.name)),
      queues: new Set(desired.queues.map((q) => q.name)),
      bindings: new Set(desired.bindings.map(bindingKey)),
    };
    for (const b of inBindingOrder(live.observed.bindings)) {
      if (wanted.bindings.has(bindingKey(b)) || isRuntimeBinding(b, desired)) continue;
      if (owns.binding(b)) changes.push({ kind: 'extraneous-binding', binding: b });
      else foreign.push({ kind: 'binding', binding: b });
    }
    for (const q of sorted(live.observed.queues, byName)) {
      if (wanted.queues.has(q.name) || isRuntimeEntity('queue', q.name, desired)) continue;
      const { messageCount, consumerCount, ...spec } = q;
      if (owns.queue(q.name)) changes.push({ kind: 'extraneous-queue', queue: spec, messageCount, consumerCount });
      else foreign.push({ kind: 'queue', queue: spec, messageCount, consumerCount });
    }
    for (const e of sorted(live.observed.exchanges, byName)) {
      if (wanted.exchanges.has(e.name) || isRuntimeEntity('exchange', e.name, desired)) continue;
      if (owns.exchange(e.name)) changes.push({ kind: 'extraneous-exchange', exchange: e });
      else foreign.push({ kind: 'exchange', exchange: e });
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
  return summarise(changes, {
    complete: live.kind === 'listed',
    ownershipKnown: ownership !== undefined,
    unowned,
    foreign,
  });
}

function bindingsOf(desired: DesiredTopology, queue: string): BindingSpec[] {
  return desired.bindings.filter((b) => b.destinationType === 'queue' && b.destination === queue);
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
        consumerCount: probe.consumerCount,
        destructive: true,
      };
}

function summarise(changes: Change[], groups: Pick<Plan, 'complete' | 'ownershipKnown' | 'unowned' | 'foreign'>): Plan {
  const counts: Partial<Record<ChangeKind, number>> = {};
  for (const c of changes) counts[c.kind] = (counts[c.kind] ?? 0) + 1;
  const acting = changes.some(
    (c) =>
      c.kind === 'create-exchange' ||
      c.kind === 'create-queue' ||
      c.kind === 'bind' ||
      c.kind === 'replace-exchange' ||
      c.kind === 'replace-queue' ||
      c.kind === 'extraneous-exchange' ||
      c.kind === 'extraneous-queue' ||
      c.kind === 'extraneous-binding' ||
      c.kind === 'create-entity' ||
      c.kind === 'update-entity' ||
      c.kind === 'extraneous-entity' ||
      c.kind === 'migrate-queue',
  );
  return {
    changes,
    counts,
    destructive: changes.some((c) => c.kind === 'replace-exchange' || c.kind === 'replace-queue'),
    noChanges: !acting,
    ...groups,
  };
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Bindings sorted by source, destination type, destination, routing key and arguments. Each sort key is
 * made once: made inside the comparison, it cost two `stableStringify` calls per comparison.
 */
function inBindingOrder(bindings: readonly BindingSpec[]): BindingSpec[] {
  const keyed = bindings.map((b) => ({
    b,
    key: `${b.source}\u0000${b.destinationType}\u0000${b.destination}\u0000${b.routingKey}\u0000${stableStringify(b.arguments)}`,
  }));
  keyed.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  return keyed.map((k) => k.b);
}

function sorted<T>(items: readonly T[], order: (a: T, b: T) => number): T[] {
  return [...items].sort(order);
}
