/**
 * The {@link Plan} — what planning found: every change, what exists without being this stack's —
 * and its text for people ({@link formatPlan}, {@link planSummary}).
 *
 * @module
 */
import type { BindingSpec, ExchangeSpec, QueueSpec } from '../../transport/spi.js';
import { type Change, type ChangeKind, describeBinding, describeChange, type EntityRef, queueLoad } from './change.js';

/** An entity that exists, is not declared, and belongs to nobody this stack knows. */
export type ForeignEntity =
  | { readonly kind: 'exchange'; readonly exchange: ExchangeSpec }
  | {
      readonly kind: 'queue';
      readonly queue: QueueSpec;
      readonly messageCount: number | undefined;
      readonly consumerCount: number | undefined;
    }
  | { readonly kind: 'binding'; readonly binding: BindingSpec };

/** The result of planning: every change, and what the counts mean. */
export interface Plan {
  readonly changes: readonly Change[];
  /** How many changes of each kind. */
  readonly counts: Readonly<Partial<Record<ChangeKind, number>>>;
  /** True when applying needs `allowDestructive` (some entity must be replaced). */
  readonly destructive: boolean;
  /**
   * True when nothing would be created, bound or replaced and the stack owns nothing undeclared:
   * drift (an owned entity changed, deleted or no longer declared) is a change.
   */
  readonly noChanges: boolean;
  /** False when live state was probed instead of listed (bindings could not be checked). */
  readonly complete: boolean;
  /** Whether ownership was known; without it every undeclared entity is foreign. */
  readonly ownershipKnown: boolean;
  /** Declared entities that exist but the stack does not own (`wakame adopt` takes them over). */
  readonly unowned: readonly EntityRef[];
  /** Undeclared entities of other owners: shown on request, never pruned. */
  readonly foreign: readonly ForeignEntity[];
}

/** What {@link formatPlan} needs besides the plan. */
export interface FormatPlanOptions {
  /** Where the plan was made, as shown to the user (a URL without its password). */
  readonly target: string;
  /** The stack planned for. */
  readonly stack: string;
  /** Whether the transport keeps stack records (without them nothing is owned or pruned). */
  readonly recorded: boolean;
  /** List unchanged entities too. */
  readonly verbose?: boolean;
  /** List foreign entities instead of only counting them. */
  readonly showForeign?: boolean;
}

/**
 * A plan as lines for people: a heading, this stack's changes, its entities no longer declared, a
 * note on unowned and foreign entities, then {@link planSummary}. Change lines start with their sign
 * (`+`, `~`, `-`, `?`, `»`), which a terminal may colour; no other line does.
 */
export function formatPlan(plan: Plan, options: FormatPlanOptions): string[] {
  const { stack } = options;
  const lines: string[] = [];
  const probed = plan.complete ? '' : ' (probed over AMQP: bindings cannot be verified without the management API)';
  lines.push(`Plan for ${options.target}, stack '${stack}'${probed}:`);
  for (const change of plan.changes) {
    if (isExtraneous(change)) continue;
    if (change.kind === 'unchanged' && !options.verbose) continue;
    lines.push(describeChange(change));
  }
  const extraneous = plan.changes.filter(isExtraneous);
  if (extraneous.length > 0) {
    lines.push(`Owned by stack '${stack}' but no longer declared (apply --prune deletes them):`);
    for (const change of extraneous) lines.push(describeChange(change));
  }
  if (plan.unowned.length > 0) {
    lines.push(
      `${plan.unowned.length} declared entit${plan.unowned.length === 1 ? 'y exists' : 'ies exist'} without belonging to stack '${stack}' (wakame adopt takes them over).`,
    );
  }
  if (plan.foreign.length > 0) {
    if (options.showForeign) {
      lines.push(`Foreign (other owners; never changed or pruned):`);
      for (const f of plan.foreign) lines.push(`  ${describeForeign(f)}`);
    } else {
      lines.push(
        `${plan.foreign.length} foreign entit${plan.foreign.length === 1 ? 'y' : 'ies'} of other owners, never touched (--show-foreign lists them).`,
      );
    }
  }
  if (!options.recorded)
    lines.push(`(this transport keeps no stack records: nothing here is owned, nothing is pruned)`);
  lines.push(planSummary(plan));
  return lines;
}

/** The plan in one line: `Plan: 2 to create, …` or `No changes…`. */
export function planSummary(plan: Plan): string {
  const c = plan.counts;
  const creates = (c['create-exchange'] ?? 0) + (c['create-queue'] ?? 0) + (c.bind ?? 0) + (c['create-entity'] ?? 0);
  const replaces = (c['replace-exchange'] ?? 0) + (c['replace-queue'] ?? 0);
  const extraneous =
    (c['extraneous-exchange'] ?? 0) +
    (c['extraneous-queue'] ?? 0) +
    (c['extraneous-binding'] ?? 0) +
    (c['extraneous-entity'] ?? 0);
  if (plan.noChanges) return `No changes: the broker matches the topology (${c.unchanged ?? 0} unchanged).`;
  const updates = c['update-entity'] ? `, ${c['update-entity']} to update in place` : '';
  const migrates = c['migrate-queue'] ? `, ${c['migrate-queue']} to migrate (every message kept)` : '';
  return `Plan: ${creates} to create${updates}, ${replaces} to replace${replaces ? ' (destructive)' : ''}${migrates}, ${extraneous} owned and no longer declared, ${c.unchanged ?? 0} unchanged${c.unverifiable ? `, ${c.unverifiable} unverifiable` : ''}.`;
}

function isExtraneous(change: Change): boolean {
  return change.kind.startsWith('extraneous');
}

function describeForeign(f: ForeignEntity): string {
  switch (f.kind) {
    case 'exchange':
      return `exchange ${f.exchange.name} (${f.exchange.type})`;
    case 'queue':
      return `queue ${f.queue.name}${queueLoad(f.messageCount, f.consumerCount)}`;
    case 'binding':
      return `bind ${describeBinding(f.binding)}`;
  }
}
