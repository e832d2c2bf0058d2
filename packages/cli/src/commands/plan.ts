/**
 * `wakame plan <file>`: what `apply` would change on the broker, without changing anything, in three
 * groups: this stack's changes, its entities the file no longer declares, and foreign entities.
 * With `--detailed-exitcode` it exits 2 when there are changes — drift included — and 0 when there
 * are none (1 is an error, 64 a bad command line). `-o plan.json` saves the plan for `apply plan.json`.
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { planStack, type StackPlan, savePlan } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { ExitError } from '../errors.js';
import { planJson, printPlan, type StackOptions, stackName } from '../stack-input.js';
import { type BrokerOptions, openBroker, readTopology } from '../topology-input.js';

/** Exit code of `plan --detailed-exitcode` when there are changes (Terraform's). */
export const CHANGES_PENDING_EXIT_CODE = 2;

export interface PlanOptions extends BrokerOptions, StackOptions {
  readonly detailedExitcode?: boolean;
  /** Show unchanged entities too. */
  readonly verbose?: boolean;
  /** List foreign entities, not only count them. */
  readonly showForeign?: boolean;
  /** Save the plan to this file, for `apply <file>`. */
  readonly out?: string;
  /** Plan immutable queue changes as loss-free migrations. */
  readonly migrate?: boolean;
}

export async function plan(ctx: CommandContext, file: string, options: PlanOptions): Promise<StackPlan> {
  const connection = await openBroker(ctx, options);
  try {
    const { desired, checked } = await readTopology(ctx, file, connection);
    const stack = stackName(options, checked.document);
    const planned = await planStack(connection.admin, desired, stack, { migrate: options.migrate ?? false });
    if (options.out) {
      const saved = savePlan(planned, desired, { url: connection.url, transport: connection.transport.kind });
      await writeFile(resolve(ctx.cwd, options.out), `${JSON.stringify(saved, null, 2)}\n`);
    }
    if (ctx.jsonMode) {
      ctx.json({
        ...planJson(planned, connection.url, options.showForeign ?? false),
        ...(options.out ? { savedTo: options.out } : {}),
      });
    } else {
      printPlan(ctx, planned, connection.url, options);
      if (options.out && !ctx.quiet)
        ctx.out(`Saved the plan to ${options.out}; apply exactly this plan with: wakame apply ${options.out}`);
    }
    if (options.detailedExitcode && !planned.plan.noChanges) throw new ExitError(CHANGES_PENDING_EXIT_CODE, '');
    return planned;
  } finally {
    await connection.close();
  }
}
