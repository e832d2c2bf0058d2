/**
 * `wakame adopt <file>`: the stack takes over entities that its topology declares and that already
 * exist on the broker (created by hand, by an older deployment, or by another tool), so that a later
 * `apply --prune` may delete them once the file stops declaring them. Nothing on the broker changes:
 * only the stack's state record does. Entities the file does not declare are never adopted.
 *
 * @module
 */
import {
  type Change,
  describeEntity,
  type EntityRef,
  planStack,
  recordStack,
  UnsupportedFeatureError,
} from '@wakame/core';
import type { CommandContext } from '../context.js';
import { type StackOptions, stackName, takeLock } from '../stack-input.js';
import { type BrokerOptions, openBroker, readTopology } from '../topology-input.js';

export interface AdoptOptions extends BrokerOptions, StackOptions {
  /** Seconds to wait for an apply of the same stack; 0 fails at once. */
  readonly lockTimeout?: number;
}

export async function adopt(ctx: CommandContext, file: string, options: AdoptOptions): Promise<readonly EntityRef[]> {
  const connection = await openBroker(ctx, options);
  try {
    const { desired, checked } = await readTopology(ctx, file, connection);
    const stack = stackName(options, checked.document);
    if (!connection.admin.stacks)
      throw new UnsupportedFeatureError('stack ownership records', connection.transport.kind);
    const lock = await takeLock(ctx, connection, stack, 'adopt', options.lockTimeout ?? 0);
    try {
      const planned = await planStack(connection.admin, desired, stack);
      const adopted = planned.plan.unowned;
      const state =
        adopted.length > 0 ? await recordStack(connection.admin, planned, { applied: [] }, { adopt: true }) : undefined;
      if (ctx.jsonMode) {
        ctx.json({ url: connection.url, stack, adopted, stateSerial: state?.serial ?? planned.state.serial });
      } else if (!ctx.quiet) {
        for (const entity of adopted) ctx.out(`adopted ${describeEntity(entity)}`);
        ctx.out(
          adopted.length === 0
            ? `Nothing to adopt: stack '${stack}' already owns every declared entity that exists.`
            : `Stack '${stack}' now owns ${adopted.length} more entit${adopted.length === 1 ? 'y' : 'ies'}; nothing on the broker changed.`,
        );
      }
      return adopted;
    } finally {
      await lock?.release();
    }
  } finally {
    await connection.close();
  }
}

/**
 * `wakame release <file>`: the stack lets go of the entities it owns but no longer declares. They
 * stay on the broker as they are, now foreign: never pruned, and no longer drift for
 * `plan --detailed-exitcode`. The inverse of {@link adopt}; nothing on the broker changes.
 */
export async function release(ctx: CommandContext, file: string, options: AdoptOptions): Promise<readonly EntityRef[]> {
  const connection = await openBroker(ctx, options);
  try {
    const { desired, checked } = await readTopology(ctx, file, connection);
    const stack = stackName(options, checked.document);
    if (!connection.admin.stacks)
      throw new UnsupportedFeatureError('stack ownership records', connection.transport.kind);
    const lock = await takeLock(ctx, connection, stack, 'release', options.lockTimeout ?? 0);
    try {
      const planned = await planStack(connection.admin, desired, stack);
      const undeclared = planned.plan.changes.filter((c) => c.kind.startsWith('extraneous'));
      const released = undeclared.map(entityOf);
      const kept = {
        ...planned,
        plan: { ...planned.plan, changes: planned.plan.changes.filter((c) => !c.kind.startsWith('extraneous')) },
      };
      const state = undeclared.length > 0 ? await recordStack(connection.admin, kept, { applied: [] }) : undefined;
      if (ctx.jsonMode) {
        ctx.json({ url: connection.url, stack, released, stateSerial: state?.serial ?? planned.state.serial });
      } else if (!ctx.quiet) {
        for (const entity of released) ctx.out(`released ${describeEntity(entity)}`);
        ctx.out(
          released.length === 0
            ? `Nothing to release: stack '${stack}' owns nothing that the file does not declare.`
            : `Stack '${stack}' no longer owns ${released.length} entit${released.length === 1 ? 'y' : 'ies'}; they stay on the broker.`,
        );
      }
      return released;
    } finally {
      await lock?.release();
    }
  } finally {
    await connection.close();
  }
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
