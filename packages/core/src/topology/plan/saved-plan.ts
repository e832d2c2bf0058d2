/**
 * Plans saved for later (`plan -o plan.json`, then `apply plan.json`): the reviewed plan is exactly
 * what gets applied, or nothing is. A saved plan carries a fingerprint of the live state it was
 * computed from — the stack's record serial and the live form of every entity the plan touches or
 * the stack owns — and applying it first recomputes that fingerprint; any difference refuses.
 *
 * Message and consumer counts are left out of the fingerprint: they move all the time on a live
 * broker, and the deletes a plan makes are conditional anyway (see `apply.ts`).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../errors.js';
import { stableStringify } from '../../internal/stable-stringify.js';
import { brokerEntityKey, brokerEntityList, NO_BROKER_ENTITIES } from '../../model/broker-entities.js';
import type { BindingSpec } from '../../transport/spi.js';
import type { DesiredTopology } from '../desired.js';
import { StalePlanError } from '../errors.js';
import type { Plan } from './plan.js';
import type { StackPlan } from './stack.js';

/** Format version written by this release. */
export const SAVED_PLAN_VERSION = 1;

/** A plan as written to a file. */
export interface SavedPlan {
  readonly format: 'wakame-plan';
  readonly version: typeof SAVED_PLAN_VERSION;
  readonly createdAt: string;
  readonly stack: string;
  /** The broker, as a redacted URL (no password) and its transport kind. */
  readonly target: { readonly url: string; readonly transport: string };
  /** See the module description. */
  readonly fingerprint: string;
  readonly stateSerial: number;
  readonly desired: DesiredTopology;
  readonly plan: Plan;
}

/** The fingerprint of the live state `planned` was computed from. */
export function fingerprintOf(planned: StackPlan, desired: DesiredTopology): string {
  const owned = planned.state.owned;
  const exchanges = new Set([...desired.exchanges.map((e) => e.name), ...owned.exchanges]);
  const queues = new Set([...desired.queues.map((q) => q.name), ...owned.queues]);
  const touches = (b: BindingSpec) =>
    exchanges.has(b.source) || (b.destinationType === 'queue' ? queues : exchanges).has(b.destination);
  const live = planned.live;
  const relevant =
    live.kind === 'listed'
      ? {
          exchanges: live.observed.exchanges.filter((e) => exchanges.has(e.name)),
          queues: live.observed.queues
            .filter((q) => queues.has(q.name))
            .map(({ messageCount: _m, consumerCount: _c, ...spec }) => spec),
          bindings: live.observed.bindings.filter(touches),
        }
      : {
          exchanges: [...live.exchanges].map(([name, p]) => [
            name,
            p.state,
            p.state === 'conflict' ? p.differences : [],
          ]),
          queues: [...live.queues].map(([name, p]) => [name, p.state, p.state === 'conflict' ? p.differences : []]),
        };
  const sortBy = (items: readonly unknown[]) => items.map((i) => stableStringify(i)).sort();
  const brokerKeys = new Set([
    ...brokerEntityList(desired.broker ?? NO_BROKER_ENTITIES).map((e) =>
      brokerEntityKey(e, planned.broker?.vhost ?? '/'),
    ),
    ...(owned.broker ?? []),
  ]);
  // Listed users carry their stored hash: it goes into the digest only, never into the file.
  const broker = planned.broker
    ? brokerEntityList(planned.broker.entities).filter((e) =>
        brokerKeys.has(brokerEntityKey(e, planned.broker?.vhost ?? '/')),
      )
    : [];
  const material = {
    ...(broker.length > 0 ? { broker: sortBy(broker) } : {}),
    ...(planned.state.migrations ? { migrations: planned.state.migrations } : {}),
    stack: planned.stack,
    serial: planned.state.serial,
    kind: live.kind,
    exchanges: sortBy(relevant.exchanges),
    queues: sortBy(relevant.queues),
    bindings: 'bindings' in relevant ? sortBy(relevant.bindings) : [],
  };
  return `sha256:${createHash('sha256').update(stableStringify(material)).digest('hex')}`;
}

/** The document `plan -o` writes. */
export function savePlan(
  planned: StackPlan,
  desired: DesiredTopology,
  target: { readonly url: string; readonly transport: string },
): SavedPlan {
  return {
    format: 'wakame-plan',
    version: SAVED_PLAN_VERSION,
    createdAt: new Date().toISOString(),
    stack: planned.stack,
    target,
    fingerprint: fingerprintOf(planned, desired),
    stateSerial: planned.state.serial,
    desired,
    plan: planned.plan,
  };
}

/** Whether a parsed JSON value is a saved plan (of any version). */
export function isSavedPlan(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { format?: unknown }).format === 'wakame-plan';
}

/** Checks a parsed saved plan's shape and version. @throws {@link InvalidArgumentError} */
export function parseSavedPlan(value: unknown, source: string): SavedPlan {
  if (!isSavedPlan(value)) throw new InvalidArgumentError(`${source} is not a saved Wakame plan`);
  const plan = value as Partial<SavedPlan>;
  if (plan.version !== SAVED_PLAN_VERSION) {
    throw new InvalidArgumentError(
      `${source} is a saved plan of format version ${String(plan.version)}; this Wakame reads version ${SAVED_PLAN_VERSION}`,
    );
  }
  const complete =
    typeof plan.stack === 'string' &&
    typeof plan.fingerprint === 'string' &&
    typeof plan.target?.url === 'string' &&
    Array.isArray(plan.plan?.changes) &&
    Array.isArray(plan.desired?.queues);
  if (!complete) throw new InvalidArgumentError(`${source} is an incomplete saved plan`);
  // A plan file never holds a password (it shows as `(sensitive)`): a plan that sets one cannot be
  // applied from the file, or the user's password would become that placeholder.
  const setsPassword = (plan.plan?.changes ?? []).some(
    (c) =>
      (c.kind === 'create-entity' || c.kind === 'update-entity') &&
      c.entity.kind === 'user' &&
      c.entity.spec.credential?.kind === 'password',
  );
  if (setsPassword) {
    throw new InvalidArgumentError(
      `${source} sets a user's password, which a saved plan never holds: apply the topology file itself (its \${ENV} gives the password)`,
    );
  }
  return plan as SavedPlan;
}

/**
 * Refuses a saved plan whose broker or live state changed since it was made.
 * @throws {@link StalePlanError}
 */
export function verifySavedPlan(saved: SavedPlan, planned: StackPlan, target: { readonly url: string }): void {
  if (saved.target.url !== target.url) {
    throw new StalePlanError(`the plan was made for ${saved.target.url}, not ${target.url}`);
  }
  if (planned.state.serial !== saved.stateSerial) {
    throw new StalePlanError(
      `stack '${saved.stack}' was applied since the plan was made (state serial ${saved.stateSerial} → ${planned.state.serial})`,
    );
  }
  if (fingerprintOf(planned, saved.desired) !== saved.fingerprint) {
    throw new StalePlanError(`the live state of stack '${saved.stack}' changed since the plan was made`);
  }
}
