/**
 * `wakame plan <file>`: what `apply` would change on the broker, without changing anything.
 * With `--detailed-exitcode`, exits 2 when there are changes (for CI gates), 0 when there are none.
 *
 * @module
 */
import { describeChange, diff, observe, type Plan } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { ExitError } from '../errors.js';
import { paint } from '../paint.js';
import { type BrokerOptions, openBroker, readTopology } from '../topology-input.js';

export interface PlanOptions extends BrokerOptions {
  readonly detailedExitcode?: boolean;
  /** Show unchanged entities too. */
  readonly verbose?: boolean;
}

export async function plan(ctx: CommandContext, file: string, options: PlanOptions): Promise<Plan> {
  const connection = await openBroker(ctx, options);
  try {
    const { desired } = await readTopology(ctx, file, connection);
    const result = diff(desired, await observe(connection.admin, desired));
    if (ctx.jsonMode) ctx.json({ url: connection.url, ...result });
    else printPlan(ctx, result, connection.url, options.verbose ?? false);
    if (options.detailedExitcode && !result.noChanges) throw new ExitError(2, '');
    return result;
  } finally {
    await connection.close();
  }
}

/** Prints a plan for people: one line per change, then the counts. */
export function printPlan(ctx: CommandContext, result: Plan, url: string, verbose: boolean): void {
  ctx.out(
    `Plan for ${url}${result.complete ? '' : ' (probed over AMQP: bindings cannot be verified without the management API)'}:`,
  );
  for (const change of result.changes) {
    if (change.kind === 'unchanged' && !verbose) continue;
    ctx.out(paint(ctx, describeChange(change)));
  }
  const c = result.counts;
  const creates = (c['create-exchange'] ?? 0) + (c['create-queue'] ?? 0) + (c.bind ?? 0);
  const replaces = (c['replace-exchange'] ?? 0) + (c['replace-queue'] ?? 0);
  const extraneous = (c['extraneous-exchange'] ?? 0) + (c['extraneous-queue'] ?? 0) + (c['extraneous-binding'] ?? 0);
  ctx.out(
    result.noChanges
      ? `No changes: the broker matches the topology (${c.unchanged ?? 0} unchanged${extraneous ? `, ${extraneous} extraneous` : ''}).`
      : `Plan: ${creates} to create, ${replaces} to replace${replaces ? ' (destructive)' : ''}, ${c.unchanged ?? 0} unchanged, ${c.unverifiable ?? 0} unverifiable, ${extraneous} extraneous.`,
  );
}
