/**
 * Colour for plan output, so that additions, changes and deletions can be told apart at a glance;
 * each line's leading sign (`+`, `~`, `-`, `?`) picks the colour. It colours only when the command
 * context allows it (a terminal, no `NO_COLOR`, no JSON output), so piped output stays plain text.
 *
 * @module
 */
import type { CommandContext } from './context.js';

const COLORS: Record<string, string> = { '+': '32', '~': '33', '-': '31', '?': '36' };

/** Colours a plan line by its leading sign, only when writing to a terminal. */
export function paint(ctx: CommandContext, line: string): string {
  const code = COLORS[line[0] ?? ''];
  return ctx.color && code ? `\u001b[${code}m${line}\u001b[0m` : line;
}
