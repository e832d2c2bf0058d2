import type { CommandContext } from '../src/context.js';

/** A command context that records everything a command writes. */
export interface Captured {
  readonly ctx: CommandContext;
  readonly out: string[];
  readonly err: string[];
  readonly json: unknown[];
}

export function capture(overrides: Partial<CommandContext> = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const json: unknown[] = [];
  const ctx: CommandContext = {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    json: (value) => json.push(value),
    jsonMode: false,
    quiet: false,
    color: false,
    env: {},
    cwd: process.cwd(),
    ...overrides,
  };
  return { ctx, out, err, json };
}
