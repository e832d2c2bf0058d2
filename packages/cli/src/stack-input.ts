/**
 * What `plan`, `apply` and `adopt` share: which stack a run is for, taking its lock, and printing a
 * plan in its three groups (this stack's changes, its entities no longer declared, foreign ones).
 *
 * @module
 */
import {
  type Connection,
  DEFAULT_STACK,
  describeBinding,
  describeChange,
  type ForeignEntity,
  lockStack,
  type Plan,
  queueLoad,
  type StackLock,
  type StackPlan,
} from '@wakame/core';
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

/** Prints a plan for people: this stack's changes, its undeclared entities, then the rest. */
export function printPlan(
  ctx: CommandContext,
  planned: StackPlan,
  url: string,
  options: { readonly verbose?: boolean; readonly showForeign?: boolean } = {},
): void {
  const { plan, stack } = planned;
  const probed = plan.complete ? '' : ' (probed over AMQP: bindings cannot be verified without the management API)';
  ctx.out(`Plan for ${url}, stack '${stack}'${probed}:`);
  for (const change of plan.changes) {
    if (change.kind.startsWith('extraneous')) continue;
    if (change.kind === 'unchanged' && !options.verbose) continue;
    ctx.out(paint(ctx, describeChange(change)));
  }
  const extraneous = plan.changes.filter((c) => c.kind.startsWith('extraneous'));
  if (extraneous.length > 0) {
    ctx.out(`Owned by stack '${stack}' but no longer declared (apply --prune deletes them):`);
    for (const change of extraneous) ctx.out(paint(ctx, describeChange(change)));
  }
  if (plan.unowned.length > 0) {
    ctx.out(
      `${plan.unowned.length} declared entit${plan.unowned.length === 1 ? 'y exists' : 'ies exist'} without belonging to stack '${stack}' (wakame adopt takes them over).`,
    );
  }
  if (plan.foreign.length > 0) {
    if (options.showForeign) {
      ctx.out(`Foreign (other owners; never changed or pruned):`);
      for (const f of plan.foreign) ctx.out(`  ${describeForeign(f)}`);
    } else {
      ctx.out(
        `${plan.foreign.length} foreign entit${plan.foreign.length === 1 ? 'y' : 'ies'} of other owners, never touched (--show-foreign lists them).`,
      );
    }
  }
  if (!planned.recorded) ctx.out(`(this transport keeps no stack records: nothing here is owned, nothing is pruned)`);
  ctx.out(summaryLine(plan));
}

/** `Plan: 2 to create, …` or `No changes…`. */
export function summaryLine(plan: Plan): string {
  const c = plan.counts;
  const creates = (c['create-exchange'] ?? 0) + (c['create-queue'] ?? 0) + (c.bind ?? 0);
  const replaces = (c['replace-exchange'] ?? 0) + (c['replace-queue'] ?? 0);
  const extraneous = (c['extraneous-exchange'] ?? 0) + (c['extraneous-queue'] ?? 0) + (c['extraneous-binding'] ?? 0);
  if (plan.noChanges) return `No changes: the broker matches the topology (${c.unchanged ?? 0} unchanged).`;
  return `Plan: ${creates} to create, ${replaces} to replace${replaces ? ' (destructive)' : ''}, ${extraneous} owned and no longer declared, ${c.unchanged ?? 0} unchanged${c.unverifiable ? `, ${c.unverifiable} unverifiable` : ''}.`;
}

function describeForeign(f: ForeignEntity): string {
  switch (f.kind) {
    case 'exchange':
      return `exchange ${f.exchange.name} (${f.exchange.type})`;
    case 'queue':
      return `queue ${f.queue.name}${queueLoad(f.messageCount, f.consumerCount)}`;
    case 'binding':
      return `bind ${describeBinding(f.binding)}`;
  }
}
