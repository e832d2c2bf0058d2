/**
 * A stack's deployment steps, as `plan`, `apply` and `adopt` run them: take the stack's lock, read
 * its state record, observe the broker, diff with ownership, and afterwards record what the stack
 * owns now. Each step is separate so a caller can show the plan and ask before applying.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { type LockHolder, TransportError } from '../../errors.js';
import { stableStringify } from '../../internal/stable-stringify.js';
import { bindingKey } from '../../model/binding-key.js';
import type { BindingSpec, StackLock, TopologyAdmin } from '../../transport/spi.js';
import type { DesiredTopology } from '../desired.js';
import type { Change } from './change.js';
import { diff } from './diff.js';
import { brokerChangeKey, type LiveBroker } from './diff-broker.js';
import { type LiveState, observe, observeBroker } from './observe.js';
import {
  checkStackName,
  emptyStackState,
  nextStackState,
  type OwnedEntities,
  ownershipOf,
  parseStackState,
  type StackState,
} from './ownership.js';
import type { Plan } from './plan.js';

/** A plan together with what it was computed from. */
export interface StackPlan {
  readonly stack: string;
  readonly state: StackState;
  readonly live: LiveState;
  readonly plan: Plan;
  /** The broker's own entities as listed, when they mattered to the plan. */
  readonly broker?: LiveBroker;
  /** False when the transport keeps no stack records (nothing can be owned, so nothing is pruned). */
  readonly recorded: boolean;
}

/** Who is taking a lock, for the message another apply shows while it waits. */
export function lockHolder(operation: string): LockHolder {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): the host and pid still identify the holder.
  }
  return {
    id: randomUUID(),
    description: `wakame ${operation} by ${user}@${hostname()} (pid ${process.pid})`,
    since: new Date().toISOString(),
  };
}

/**
 * Takes the stack's apply lock, waiting up to `timeoutMs`. Resolves to `undefined` when the
 * transport keeps no stack records (there is nothing to lock).
 * @throws {@link StackLockedError} when another apply still holds it.
 */
export async function lockStack(
  admin: TopologyAdmin,
  stack: string,
  options: { readonly timeoutMs: number; readonly operation: string; readonly signal?: AbortSignal },
): Promise<StackLock | undefined> {
  if (!admin.stacks) return undefined;
  return admin.stacks.lock(checkStackName(stack), {
    holder: lockHolder(options.operation),
    timeoutMs: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** Reads the stack's state record (empty when it has none, or the transport keeps none). */
export async function readStackState(admin: TopologyAdmin, stack: string): Promise<StackState> {
  checkStackName(stack);
  if (!admin.stacks) return emptyStackState(stack);
  return parseStackState(stack, await admin.stacks.read(stack));
}

/**
 * Observes the broker and plans `desired` for `stack`. The queues the plan would delete get their
 * message and consumer counts from the broker itself, not from a listing: RabbitMQ's management API
 * reports statistics that lag by seconds, and a refusal must see the message published just before.
 */
export async function planStack(
  admin: TopologyAdmin,
  desired: DesiredTopology,
  stack: string,
  options: PlanStackOptions = {},
): Promise<StackPlan> {
  const live = await observe(admin, desired);
  let state = emptyStackState(checkStackName(stack));
  let recorded = admin.stacks !== undefined;
  try {
    state = await readStackState(admin, stack);
  } catch (error) {
    // A broker that could not be listed (RabbitMQ without its management API) keeps its records
    // out of reach too: plan without ownership — nothing undeclared is owned, so nothing is pruned.
    if (live.kind !== 'probed' || !(error instanceof TransportError)) throw error;
    recorded = false;
  }
  const ownership = recorded ? ownershipOf(state) : undefined;
  const broker = await observeBroker(admin, desired, (ownership?.broker.size ?? 0) > 0);
  const plan = diff(desired, live, ownership, {
    ...(broker ? { broker } : {}),
    migrate: (options.migrate ?? false) && live.kind === 'listed',
    ...(state.migrations ? { migrations: state.migrations } : {}),
  });
  return { stack, state, live, plan: await withExactCounts(admin, plan), recorded, ...(broker ? { broker } : {}) };
}

/** Options of {@link planStack}. */
export interface PlanStackOptions {
  /**
   * Plan queues whose immutable settings change as loss-free migrations (`apply --migrate`) rather
   * than replacements. Only where the broker can be listed (the management API, on RabbitMQ).
   */
  readonly migrate?: boolean;
}

async function withExactCounts(admin: TopologyAdmin, plan: Plan): Promise<Plan> {
  const changes: Change[] = [];
  for (const change of plan.changes) {
    const counted =
      change.kind === 'extraneous-queue' || change.kind === 'replace-queue' || change.kind === 'migrate-queue';
    if (!counted || !plan.complete) {
      changes.push(change);
      continue;
    }
    try {
      const { messageCount, consumerCount } = await admin.declareQueue(change.queue, { passive: true });
      changes.push({ ...change, messageCount, consumerCount });
    } catch {
      // Gone since the listing, or not checkable: the conditional delete still guards it.
      changes.push(change);
    }
  }
  return { ...plan, changes };
}

/** What the stack owns once `applied` (a subset of `plan`'s changes) has been made. */
export function ownedAfter(
  state: StackState,
  plan: Plan,
  applied: readonly Change[],
  adopt = false,
  vhost = '/',
): OwnedEntities {
  const broker = new Set<string>();
  const exchanges = new Set<string>();
  const queues = new Set<string>();
  const bindings = new Map<string, BindingSpec>();
  const owned = ownershipOf(state);
  const addBinding = (b: BindingSpec) => bindings.set(bindingKey(b), b);
  // Still owned: declared entities it owned before, and owned ones kept although no longer declared.
  for (const c of plan.changes) {
    switch (c.kind) {
      case 'unchanged':
      case 'unverifiable':
        if (c.entity.kind === 'broker') {
          const key = brokerChangeKey(c, vhost);
          if (key !== undefined && owned.broker.has(key)) broker.add(key);
        } else if (c.entity.kind === 'binding') {
          if (owned.bindings.has(bindingKey(c.entity.binding))) addBinding(c.entity.binding);
        } else if ((c.entity.kind === 'exchange' ? owned.exchanges : owned.queues).has(c.entity.name)) {
          (c.entity.kind === 'exchange' ? exchanges : queues).add(c.entity.name);
        }
        break;
      case 'create-exchange':
      case 'replace-exchange':
      case 'extraneous-exchange':
        if (owned.exchanges.has(c.exchange.name)) exchanges.add(c.exchange.name);
        break;
      case 'create-queue':
      case 'replace-queue':
      case 'extraneous-queue':
        if (owned.queues.has(c.queue.name)) queues.add(c.queue.name);
        break;
      case 'bind':
      case 'extraneous-binding':
        if (owned.bindings.has(bindingKey(c.binding))) addBinding(c.binding);
        break;
      case 'migrate-queue':
        if (owned.queues.has(c.queue.name)) queues.add(c.queue.name);
        break;
      case 'create-entity':
      case 'update-entity':
      case 'extraneous-entity': {
        const key = brokerChangeKey(c, vhost);
        if (key !== undefined && owned.broker.has(key)) broker.add(key);
        break;
      }
    }
  }
  // Made now: created, replaced and bound; deleted now: pruned.
  for (const c of applied) {
    switch (c.kind) {
      case 'create-exchange':
      case 'replace-exchange':
        exchanges.add(c.exchange.name);
        break;
      case 'create-queue':
      case 'replace-queue':
        queues.add(c.queue.name);
        break;
      case 'bind':
        addBinding(c.binding);
        break;
      case 'unverifiable':
        if (c.entity.kind === 'binding') addBinding(c.entity.binding);
        break;
      case 'migrate-queue':
        queues.add(c.queue.name);
        break;
      case 'create-entity':
      case 'update-entity': {
        const key = brokerChangeKey(c, vhost);
        if (key !== undefined) broker.add(key);
        break;
      }
      case 'extraneous-entity': {
        const key = brokerChangeKey(c, vhost);
        if (key !== undefined) broker.delete(key);
        break;
      }
      case 'extraneous-exchange':
        exchanges.delete(c.exchange.name);
        break;
      case 'extraneous-queue':
        queues.delete(c.queue.name);
        break;
      case 'extraneous-binding':
        bindings.delete(bindingKey(c.binding));
        break;
      case 'unchanged':
        break;
    }
  }
  if (adopt) {
    for (const e of plan.unowned) {
      if (e.kind === 'binding') addBinding(e.binding);
      else if (e.kind === 'broker') {
        const key = brokerChangeKey({ kind: 'unchanged', entity: e }, vhost);
        if (key !== undefined) broker.add(key);
      } else (e.kind === 'exchange' ? exchanges : queues).add(e.name);
    }
  }
  return { exchanges: [...exchanges], queues: [...queues], bindings: [...bindings.values()], broker: [...broker] };
}

/**
 * Records what the stack owns after an apply (or an adoption), when the transport keeps records.
 * `result` is what was applied (an `ApplyResult` fits).
 * @returns the state written, or `undefined` when nothing is recorded.
 */
export async function recordStack(
  admin: TopologyAdmin,
  planned: StackPlan,
  result: { readonly applied: readonly Change[] },
  options: { readonly adopt?: boolean } = {},
): Promise<StackState | undefined> {
  if (!admin.stacks || !planned.recorded) return undefined;
  // Migrations journal into the record while apply runs: keep the journals as they are now.
  const current = planned.plan.changes.some((c) => c.kind === 'migrate-queue')
    ? parseStackState(planned.stack, await admin.stacks.read(planned.stack))
    : planned.state;
  const state = nextStackState(planned.state, {
    owned: ownedAfter(planned.state, planned.plan, result.applied, options.adopt ?? false, admin.broker?.vhost ?? '/'),
    ...(current.migrations ? { migrations: current.migrations } : {}),
  });
  // An apply that changed no ownership leaves the record (and its serial) alone: saved plans made
  // before a no-op apply stay valid.
  if (
    planned.state.serial > 0 &&
    stableStringify(state.owned) === stableStringify(planned.state.owned) &&
    stableStringify(state.migrations ?? {}) === stableStringify(current.migrations ?? {}) &&
    current === planned.state
  ) {
    return planned.state;
  }
  await admin.stacks.write(planned.stack, state as unknown as Record<string, unknown>);
  return state;
}
