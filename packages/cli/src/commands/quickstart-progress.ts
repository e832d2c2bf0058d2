/**
 * How `wakame quickstart` shows its worker's progress, and reads the order in which the tasks ran.
 *
 * @module
 */
import type { CommandContext } from '../context.js';

/** A one-line progress bar on a terminal; a line per 25% otherwise. */
export function showProgress(ctx: CommandContext, processed: readonly string[], total: number): void {
  if (ctx.jsonMode || ctx.quiet) return;
  const n = processed.length;
  if (ctx.color) {
    const width = 30;
    const filled = Math.round((n / total) * width);
    ctx.err(
      `\u001b[1A\u001b[2K   [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n}/${total} (${processed.at(-1)})`,
    );
  } else if (n === total || n % Math.max(1, Math.floor(total / 4)) === 0) {
    ctx.err(`   processed ${n}/${total} (last: ${processed.at(-1)})`);
  }
}

/** ['high','high','mid'] → ['high×2', 'mid×1']. */
export function runLengths(classes: readonly string[]): string[] {
  const out: { name: string; count: number }[] = [];
  for (const c of classes) {
    const last = out.at(-1);
    if (last?.name === c) last.count++;
    else out.push({ name: c, count: 1 });
  }
  return out.map((r) => `${r.name}×${r.count}`);
}

/**
 * Every high before every mid before every low: counts the tasks that ran after a task of a lower
 * class had already run. One is allowed: the first message may already sit in the prefetch window.
 */
export function isInPriorityOrder(classes: readonly string[]): boolean {
  const rank = (c: string): number => ['high', 'mid', 'low'].indexOf(c);
  let lowestSeen = 0;
  let late = 0;
  for (const c of classes) {
    if (rank(c) < lowestSeen) late++;
    lowestSeen = Math.max(lowestSeen, rank(c));
  }
  return late <= 1;
}
