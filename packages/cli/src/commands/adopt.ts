/**
 * Ownership without touching the broker: only the stack's state record changes.
 *
 * - `wakame adopt <file>`: the stack takes over entities that its topology declares and that
 *   already exist (made by hand, by an older deployment, by another tool), so that a later
 *   `apply --prune` may delete them once the file stops declaring them. Undeclared entities are
 *   never adopted.
 * - `wakame release <file>`: the stack lets go of the entities it owns but no longer declares.
 *   They stay on the broker as they are, now foreign: never pruned, no longer drift.
 *
 * @module
 */
import {
  type Change,
  type Connection,
  describeEntity,
  type EntityRef,
  planStack,
  recordStack,
  type StackPlan,
  UnsupportedFeatureError,
} from '@wakame/core';
import type { CommandContext } from '../context.js';
import { type StackOptions, stackName, takeLock } from '../stack-input.js';
import { type BrokerOptions, openBroker, readTopology } from '../topology-input.js';

export interface AdoptOptions extends BrokerOptions, StackOptions {
  /** Seconds to wait for an apply of the same stack; 0 fails at once. */
  readonly lockTimeout?: number;
}

export function adopt(ctx: CommandContext, file: string, options: AdoptOptions): Promise<readonly EntityRef[]> {
  return withPlannedStack(ctx, file, options, 'adopt', async (connection, planned) => {
    const adopted = planned.plan.unowned;
    const state =
      adopted.length > 0 ? await recordStack(connection.admin, planned, { applied: [] }, { adopt: true }) : undefined;
    report(ctx, connection, planned, state?.serial, 'adopted', adopted, {
      none: `Nothing to adopt: stack '${planned.stack}' already owns every declared entity that exists.`,
      some: (n) => `Stack '${planned.stack}' now owns ${n} more ${entities(n)}; nothing on the broker changed.`,
    });
    return adopted;
  });
}

export function release(ctx: CommandContext, file: string, options: AdoptOptions): Promise<readonly EntityRef[]> {
  return withPlannedStack(ctx, file, options, 'release', async (connection, planned) => {
    const undeclared = planned.plan.changes.filter((c) => c.kind.startsWith('extraneous'));
    const released = undeclared.map(entityOf);
    // Recording a plan without its undeclared entities drops them from what the stack owns.
    const rest = planned.plan.changes.filter((c) => !c.kind.startsWith('extraneous'));
    const state =
      released.length > 0
        ? await recordStack(connection.admin, { ...planned, plan: { ...planned.plan, changes: rest } }, { applied: [] })
        : undefined;
    report(ctx, connection, planned, state?.serial, 'released', released, {
      none: `Nothing to release: stack '${planned.stack}' owns nothing that the file does not declare.`,
      some: (n) => `Stack '${planned.stack}' no longer owns ${n} ${entities(n)}; they stay on the broker.`,
    });
    return released;
  });
}

/** Opens the broker, reads the file, takes the stack's lock, plans, and runs `work`. */
async function withPlannedStack<T>(
  ctx: CommandContext,
  file: string,
  options: AdoptOptions,
  operation: string,
  work: (connection: Connection, planned: StackPlan) => Promise<T>,
): Promise<T> {
  const connection = await openBroker(ctx, options);
  try {
    const { desired, checked } = await readTopology(ctx, file, connection);
    const stack = stackName(options, checked.document);
    if (!connection.admin.stacks) {
      throw new UnsupportedFeatureError('stack ownership records', connection.transport.kind);
    }
    const lock = await takeLock(ctx, connection, stack, operation, options.lockTimeout ?? 0);
    try {
      return await work(connection, await planStack(connection.admin, desired, stack));
    } finally {
      await lock?.release();
    }
  } finally {
    await connection.close();
  }
}

function report(
  ctx: CommandContext,
  connection: Connection,
  planned: StackPlan,
  serial: number | undefined,
  verb: 'adopted' | 'released',
  changed: readonly EntityRef[],
  text: { readonly none: string; readonly some: (n: number) => string },
): void {
  if (ctx.jsonMode) {
    ctx.json({
      url: connection.url,
      stack: planned.stack,
      [verb]: changed,
      stateSerial: serial ?? planned.state.serial,
    });
    return;
  }
  if (ctx.quiet) return;
  for (const entity of changed) ctx.out(`${verb} ${describeEntity(entity)}`);
  ctx.out(changed.length === 0 ? text.none : text.some(changed.length));
}

function entities(n: number): string {
  return n === 1 ? 'entity' : 'entities';
}

function entityOf(change: Change): EntityRef {
  switch (change.kind) {
    case 'extraneous-queue':
      return { kind: 'queue', name: change.queue.name };
    case 'extraneous-exchange':
      return { kind: 'exchange', name: change.exchange.name };
    case 'extraneous-binding':
      return { kind: 'binding', binding: change.binding };
    default:
      throw new TypeError(`not an undeclared entity: ${change.kind}`);
  }
}
