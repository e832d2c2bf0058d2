/**
 * The errors of the topology pipeline that carry its own types (a change, a refusal), so they live
 * beside it rather than in the core `errors.ts`, which sits below every layer and names none of
 * them: an apply refused before any change, an apply that stopped part-way, and a saved plan whose
 * broker moved on. Each extends a class of `errors.ts`, so `catch` by category still works.
 *
 * @module
 */
import { InvalidOperationError, WakameError } from '../errors.js';
import { type Change, describeChange } from './plan/change.js';

/** One reason an apply cannot go ahead. */
export interface Refusal {
  readonly change: Change;
  readonly reason: string;
  /** The option that lifts this refusal (`''` when no option does: the refusal must be resolved first). */
  readonly lift: '--allow-destructive' | '--force' | '--migrate' | '';
}

/** Raised before any change when the plan needs a permission that was not given. */
export class PlanRefusedError extends InvalidOperationError {
  override readonly name = 'PlanRefusedError';
  override readonly code = 'ERR_PLAN_REFUSED';
  constructor(
    readonly refusals: readonly Refusal[],
    readonly hint: string,
  ) {
    super(`refusing to apply, nothing was changed: ${refusals.map((r) => r.reason).join('; ')}`);
  }
  /** The changes refused (kept for callers of the first version). */
  get refused(): readonly Change[] {
    return this.refusals.map((r) => r.change);
  }
}

/** A change failed part-way: `applied` were made, `failed` was not, the rest was not tried. */
export class ApplyFailedError extends WakameError {
  override readonly name = 'ApplyFailedError';
  readonly code = 'ERR_APPLY_FAILED';
  constructor(
    readonly applied: readonly Change[],
    readonly failed: Change,
    cause: unknown,
    readonly hint = 'Nothing was lost: deletes are conditional. Run plan again to see the state now.',
  ) {
    super(
      `apply stopped after ${applied.length} change(s): ${describeChange(failed)} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

/** The live state no longer matches the saved plan. */
export class StalePlanError extends InvalidOperationError {
  override readonly name = 'StalePlanError';
  override readonly code = 'ERR_PLAN_STALE';
  readonly hint = 'Run plan again, review it, and apply the new plan.';
}
