/**
 * `wakame schedules <topology>`: the topology's schedules as their group on the broker sees them — the last
 * slot each handled, the next one, and the leader of the last term. Read-only: it never takes the lease.
 *
 * @module
 */
import { type ScheduleGroupStatus, scheduleStatus } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { type BrokerOptions, openBroker, readTopology } from '../topology-input.js';

/** Options of {@link schedules}. */
export interface SchedulesOptions extends BrokerOptions {
  /** The schedule group (`scheduler.group` of its workers). @defaultValue 'default' */
  readonly group?: string;
}

export async function schedules(
  ctx: CommandContext,
  file: string,
  options: SchedulesOptions,
): Promise<ScheduleGroupStatus> {
  const connection = await openBroker(ctx, options);
  try {
    const { desired } = await readTopology(ctx, file, connection);
    const status = await scheduleStatus(connection, desired, options.group ? { group: options.group } : {});
    if (ctx.jsonMode) ctx.json({ ok: true, ...status });
    else if (!ctx.quiet) print(ctx, status);
    return status;
  } finally {
    await connection.close();
  }
}

function print(ctx: CommandContext, status: ScheduleGroupStatus): void {
  const leader = status.leader
    ? `term ${status.term}, led by ${status.leader.description ?? status.leader.id}${status.leader.since ? ` since ${status.leader.since}` : ''}`
    : 'no worker has led yet';
  ctx.out(`schedules of group '${status.group}': ${leader}`);
  if (status.schedules.length === 0) ctx.out('  (the topology has no schedules)');
  for (const s of status.schedules) {
    ctx.out(`  ${s.name} → ${s.task}: ${s.trigger}, missed: ${s.missed}`);
    ctx.out(`    last slot ${s.lastSlot ?? '(none yet)'}, next ${s.nextSlot ?? '(none)'}`);
  }
}
