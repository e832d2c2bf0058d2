/**
 * What `wakame schedules` shows: each schedule of a topology with the last slot its group handled
 * and the next one, and who leads — read from the schedules' state on the broker, never touching
 * the lease.
 *
 * @module
 */
import { SchedulerError } from '../../errors.js';
import type { Connection } from '../../messaging/connection.js';
import type { CompiledSchedule, DesiredTopology } from '../../topology/desired.js';
import { scheduleStackName, stateOf } from './scheduler.js';
import { slotsOf } from './slots.js';

/** One schedule as its group sees it. */
export interface ScheduleStatus {
  readonly name: string;
  readonly task: string;
  /** `cron '0 3 * * *' in Europe/Paris`, or `every 30000 ms`. */
  readonly trigger: string;
  readonly missed: CompiledSchedule['missed'];
  /** The last slot handled (sent or skipped), ISO 8601; absent before the first. */
  readonly lastSlot?: string;
  /** The next slot after the last one handled (or after `now` when none was), ISO 8601. */
  readonly nextSlot?: string;
}

/** A schedule group: its leader (when one has led) and its schedules. */
export interface ScheduleGroupStatus {
  readonly group: string;
  readonly term: number;
  readonly leader?: { readonly id: string; readonly description?: string; readonly since?: string };
  readonly schedules: readonly ScheduleStatus[];
}

/**
 * The status of the schedules of `topology` in `group`, as recorded on the broker.
 * @throws {@link SchedulerError} when the transport keeps no stack records.
 */
export async function scheduleStatus(
  connection: Connection,
  topology: DesiredTopology,
  options: { readonly group?: string; readonly now?: number } = {},
): Promise<ScheduleGroupStatus> {
  const stacks = connection.admin.stacks;
  if (!stacks) throw new SchedulerError('this transport keeps no stack records, where the state of schedules lives');
  const group = options.group ?? 'default';
  const state = stateOf(await stacks.read(scheduleStackName(group)));
  const now = options.now ?? Date.now();
  const iso = (ms: number | undefined) => (ms === undefined ? {} : { iso: new Date(ms).toISOString() });
  const schedules = (topology.schedules ?? []).map((schedule): ScheduleStatus => {
    const last = state.fired[schedule.name];
    const next = slotsOf(schedule).after(last ?? now);
    const trigger =
      schedule.trigger.kind === 'cron'
        ? `cron '${schedule.trigger.expression}' in ${schedule.trigger.timezone}`
        : `every ${schedule.trigger.everyMs} ms`;
    const lastSlot = iso(last).iso;
    const nextSlot = iso(next).iso;
    return {
      name: schedule.name,
      task: schedule.task,
      trigger,
      missed: schedule.missed,
      ...(lastSlot ? { lastSlot } : {}),
      ...(nextSlot ? { nextSlot } : {}),
    };
  });
  const leader = state.leader
    ? {
        id: state.leader,
        ...(state.leaderDescription ? { description: state.leaderDescription } : {}),
        ...(state.leaderSince ? { since: state.leaderSince } : {}),
      }
    : undefined;
  return { group, term: state.term, ...(leader ? { leader } : {}), schedules };
}
