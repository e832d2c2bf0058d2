/**
 * `wakame apply <file>`: makes the broker match the topology, idempotently (the deployment step).
 * Refuses destructive replacements unless `--allow-destructive`, never drops a queue holding
 * messages without `--force`, and deletes extraneous entities only with `--prune`.
 *
 * @module
 */
import { type ApplyResult, applyPlan, describeChange, diff, observe } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { paint } from '../paint.js';
import { type BrokerOptions, openBroker, readTopology } from '../topology-input.js';
import { printPlan } from './plan.js';

export interface ApplyCommandOptions extends BrokerOptions {
  readonly allowDestructive?: boolean;
  readonly force?: boolean;
  readonly prune?: boolean;
  readonly concurrency?: string | number;
}

export async function apply(ctx: CommandContext, file: string, options: ApplyCommandOptions): Promise<ApplyResult> {
  const connection = await openBroker(ctx, options);
  try {
    const { desired } = await readTopology(ctx, file, connection);
    const plan = diff(desired, await observe(connection.admin, desired));
    if (!ctx.jsonMode && !ctx.quiet) printPlan(ctx, plan, connection.url, false);
    const total = plan.changes.length;
    let lastShown = 0;
    const result = await applyPlan(plan, connection.admin, {
      allowDestructive: options.allowDestructive ?? false,
      force: options.force ?? false,
      prune: options.prune ?? false,
      concurrency: Number(options.concurrency ?? 16),
      onProgress: (done, all) => {
        // Progress for long applies: at most every 10% (or every change for small ones), on stderr.
        if (ctx.jsonMode || ctx.quiet || all < 50) return;
        if (done === all || done - lastShown >= all / 10) {
          lastShown = done;
          ctx.err(`applied ${done}/${all}`);
        }
      },
    });
    if (ctx.jsonMode) {
      ctx.json({
        url: connection.url,
        applied: result.applied,
        kept: result.kept,
        durationMs: Math.round(result.durationMs),
      });
    } else if (!ctx.quiet) {
      for (const change of result.applied) if (total < 50) ctx.out(paint(ctx, `done ${describeChange(change)}`));
      ctx.out(
        result.applied.length === 0
          ? 'Nothing to do: the broker already matches the topology.'
          : `Applied ${result.applied.length} change(s) in ${Math.round(result.durationMs)} ms.${result.kept.length ? ` ${result.kept.length} extraneous entit${result.kept.length === 1 ? 'y' : 'ies'} kept (use --prune to delete).` : ''}`,
      );
    }
    return result;
  } finally {
    await connection.close();
  }
}
