/**
 * `apply(plan, admin)`: makes the broker match the plan. Refusals come first, before any change:
 * replacing an entity needs `allowDestructive`, and dropping a queue that holds messages needs
 * `force` too. Unchanged entities cost nothing (no declaring round-trip), so a second apply is free.
 *
 * @module
 */
import { InvalidOperationError } from '../errors.js';
import type { TopologyAdmin } from '../transport/spi.js';
import { type Change, describeChange } from './change.js';
import type { Plan } from './diff.js';
import { runConcurrently } from './observe.js';

/** Options of {@link applyPlan}. */
export interface ApplyOptions {
  /** Replace exchanges and queues whose immutable properties changed. @defaultValue false */
  readonly allowDestructive?: boolean;
  /** With `allowDestructive`: also replace queues that hold messages (they are lost). @defaultValue false */
  readonly force?: boolean;
  /** Delete extraneous exchanges, queues and bindings. @defaultValue false */
  readonly prune?: boolean;
  /** Declarations in flight at once. @defaultValue 16 */
  readonly concurrency?: number;
  /** Called after each change is made. */
  readonly onProgress?: (done: number, total: number, change: Change) => void;
}

/** What apply did. */
export interface ApplyResult {
  readonly applied: readonly Change[];
  /** Extraneous entities left in place (no `prune`). */
  readonly kept: readonly Change[];
  readonly durationMs: number;
}

/** Raised before any change when the plan needs a permission that was not given. */
export class PlanRefusedError extends InvalidOperationError {
  override readonly name = 'PlanRefusedError';
  override readonly code = 'ERR_PLAN_REFUSED';
  constructor(
    readonly refused: readonly Change[],
    readonly hint: string,
  ) {
    super(`refusing to apply: ${refused.map(describeChange).join('; ')}. ${hint}`);
  }
}

/** Executes `plan` against `admin`. @throws {@link PlanRefusedError} before touching anything. */
export async function applyPlan(plan: Plan, admin: TopologyAdmin, options: ApplyOptions = {}): Promise<ApplyResult> {
  const started = performance.now();
  const replaces = plan.changes.filter((c) => c.kind === 'replace-exchange' || c.kind === 'replace-queue');
  if (replaces.length > 0 && !options.allowDestructive) {
    throw new PlanRefusedError(replaces, 'Re-run with --allow-destructive to delete and re-declare them.');
  }
  const losing = plan.changes.filter((c) => c.kind === 'replace-queue' && c.messageCount !== 0 && !options.force);
  if (losing.length > 0) {
    throw new PlanRefusedError(losing, 'These queues hold (or may hold) messages; add --force to drop them.');
  }

  const byKind = (kinds: readonly Change['kind'][]) => plan.changes.filter((c) => kinds.includes(c.kind));
  const phases: Change[][] = [
    // Replacements first, queues before exchanges: deleting an exchange must not leave a queue bound to nothing.
    byKind(['replace-queue']),
    byKind(['replace-exchange']),
    byKind(['create-exchange']),
    byKind(['create-queue']),
    byKind(['bind', 'unverifiable']),
  ];
  const kept: Change[] = [];
  if (options.prune)
    phases.push(byKind(['extraneous-binding']), byKind(['extraneous-queue']), byKind(['extraneous-exchange']));
  else kept.push(...byKind(['extraneous-binding', 'extraneous-queue', 'extraneous-exchange']));

  const total = phases.reduce((n, phase) => n + phase.length, 0);
  let done = 0;
  const applied: Change[] = [];
  for (const phase of phases) {
    await runConcurrently(
      phase.map((change) => async () => {
        await execute(change, admin);
        applied.push(change);
        options.onProgress?.(++done, total, change);
      }),
      options.concurrency ?? 16,
    );
  }
  return { applied, kept, durationMs: performance.now() - started };
}

async function execute(change: Change, admin: TopologyAdmin): Promise<void> {
  switch (change.kind) {
    case 'create-exchange':
      return admin.declareExchange(change.exchange);
    case 'create-queue':
      await admin.declareQueue(change.queue);
      return;
    case 'bind':
      return admin.bind(change.binding);
    case 'replace-exchange':
      await admin.deleteExchange(change.exchange.name);
      return admin.declareExchange(change.exchange);
    case 'replace-queue':
      await admin.deleteQueue(change.queue.name);
      await admin.declareQueue(change.queue);
      return;
    case 'unverifiable':
      // Declaring is idempotent: an existing equal entity is left as it is.
      if (change.entity.kind === 'binding') return admin.bind(change.entity.binding);
      return;
    case 'extraneous-binding':
      return admin.unbind(change.binding);
    case 'extraneous-queue':
      await admin.deleteQueue(change.queue.name);
      return;
    case 'extraneous-exchange':
      return admin.deleteExchange(change.exchange.name);
    case 'unchanged':
      return;
  }
}
