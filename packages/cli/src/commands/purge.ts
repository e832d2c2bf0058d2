/**
 * `wakame purge <queue>`: removes every ready message from a queue. Destructive, so it asks first, or needs
 * `--yes` where there is nobody to ask (scripts, CI). Messages delivered to consumers and not yet acknowledged are
 * not ready, and are not purged.
 *
 * @module
 */
import { confirmed } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { ExitError } from '../errors.js';
import { type BrokerOptions, openBroker } from '../topology-input.js';
import { passiveSpec } from './publish.js';

export interface PurgeOptions extends BrokerOptions {
  /** Purge without asking. */
  readonly yes?: boolean;
}

/** What was purged. */
export interface PurgeResult {
  readonly queue: string;
  readonly purged: number;
}

/**
 * Purges `queue` once confirmed.
 * @throws {@link NotFoundError} when the queue does not exist.
 * @throws {@link ExitError} when the purge was not confirmed (declined, or no prompt and no `--yes`).
 */
export async function purge(ctx: CommandContext, queue: string, options: PurgeOptions): Promise<PurgeResult> {
  // Refuse before connecting when the answer is known to be no: nothing to ask, and no flag.
  if (!options.yes && !ctx.confirm) await confirmed(ctx, `Purge queue '${queue}'?`, { flag: '--yes' });
  const connection = await openBroker(ctx, options);
  try {
    // Look before asking: a missing queue fails with NotFoundError instead of a pointless question, and the
    // question can say how many messages are at stake.
    const { messageCount } = await connection.admin.declareQueue(passiveSpec(queue), { passive: true });
    const question = `Purge ${messageCount} ready message${messageCount === 1 ? '' : 's'} from queue '${queue}' on ${connection.url}? This cannot be undone.`;
    if (!(await confirmed(ctx, question, { yes: options.yes, flag: '--yes' }))) {
      throw new ExitError(1, `not confirmed: nothing was purged from '${queue}'`);
    }
    const purged = await connection.admin.purgeQueue(queue);
    const result: PurgeResult = { queue, purged };
    if (ctx.jsonMode) ctx.json(result);
    else if (ctx.quiet) ctx.out(String(purged));
    else ctx.out(`Purged ${purged} message${purged === 1 ? '' : 's'} from queue '${queue}'.`);
    return result;
  } finally {
    await connection.close();
  }
}
