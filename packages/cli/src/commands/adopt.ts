/**
 * `wakame adopt <file>`: the stack takes over entities that its topology declares and that already
 * exist on the broker (created by hand, by an older deployment, or by another tool), so that a later
 * `apply --prune` may delete them once the file stops declaring them. Nothing on the broker changes:
 * only the stack's state record does. Entities the file does not declare are never adopted.
 *
 * @module
 */
import { describeEntity, type EntityRef, planStack, recordStack, UnsupportedFeatureError } from '@wakame/core';
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
