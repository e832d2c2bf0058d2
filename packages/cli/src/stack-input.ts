/**
 * What `plan`, `apply` and `adopt` share: which stack a run is for, taking its lock, and printing a
 * plan in its three groups (this stack's changes, its entities no longer declared, foreign ones).
 *
 * @module
 */
import { type Connection, DEFAULT_STACK, formatPlan, lockStack, type StackLock, type StackPlan } from '@wakame/core';
import type { CommandContext } from './context.js';
import { paint } from './paint.js';

/** Options naming the stack. */
export interface StackOptions {
  /** Overrides the topology file's `name:`. */
  readonly stack?: string;
}

/** The stack: `--stack`, else the file's `name:`, else `default`. */
export function stackName(options: StackOptions, document: { readonly name?: string } | undefined): string {
  return options.stack ?? document?.name ?? DEFAULT_STACK;
}

/**
 * Takes the stack's lock for an apply, telling the user while it waits. `timeoutSeconds` 0 fails at
 * once when another apply holds it.
 */
export async function takeLock(
  ctx: CommandContext,
  connection: Connection,
  stack: string,
  operation: string,
  timeoutSeconds: number,
): Promise<StackLock | undefined> {
  if (!connection.admin.stacks) {
    if (!ctx.quiet && !ctx.jsonMode) {
      ctx.err(`note: ${connection.transport.kind} keeps no stack records here: no lock, no ownership, nothing pruned`);
    }
    return undefined;
  }
  if (timeoutSeconds > 0 && !ctx.quiet && !ctx.jsonMode) {
    // Only said when it may wait: a free lock is taken at once and silently.
    const probe = await lockStack(connection.admin, stack, { timeoutMs: 0, operation }).catch(() => undefined);
    if (probe) return probe;
    ctx.err(`waiting up to ${timeoutSeconds} s for the lock of stack '${stack}'…`);
  }
  return lockStack(connection.admin, stack, {
    timeoutMs: timeoutSeconds * 1000,
    operation,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
}

/** Plan as JSON: the plan itself, foreign entities listed only when asked (they can be many). */
export function planJson(planned: StackPlan, url: string, showForeign: boolean): Record<string, unknown> {
  const { foreign, ...plan } = planned.plan;
  return {
    url,
    stack: planned.stack,
    stateSerial: planned.state.serial,
    recorded: planned.recorded,
    ...plan,
    foreignCount: foreign.length,
    ...(showForeign ? { foreign } : {}),
  };
}

/** Prints a plan for people (core's {@link formatPlan}), colouring each change by its sign. */
export function printPlan(
  ctx: CommandContext,
  planned: StackPlan,
  url: string,
  options: { readonly verbose?: boolean; readonly showForeign?: boolean } = {},
): void {
  const lines = formatPlan(planned.plan, {
    target: url,
    stack: planned.stack,
    recorded: planned.recorded,
    ...(options.verbose === undefined ? {} : { verbose: options.verbose }),
    ...(options.showForeign === undefined ? {} : { showForeign: options.showForeign }),
  });
  for (const line of lines) ctx.out(paint(ctx, line));
}
