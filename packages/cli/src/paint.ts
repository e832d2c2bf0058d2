import type { CommandContext } from './context.js';

const COLORS: Record<string, string> = { '+': '32', '~': '33', '-': '31', '?': '36' };

/** Colours a plan line by its leading sign, only when writing to a terminal. */
export function paint(ctx: CommandContext, line: string): string {
  const code = COLORS[line[0] ?? ''];
  return ctx.color && code ? `\u001b[${code}m${line}\u001b[0m` : line;
}
