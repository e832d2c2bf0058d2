/**
 * Schedule arithmetic, pure and clock-free: the *slots* of a schedule (the instants it fires at —
 * croner's reading of the cron expression in its time zone, or the multiples of `every` since the
 * Unix epoch, so every worker computes the same slots without talking to the others), and what a
 * scheduler does when it looks at a schedule whose last recorded slot is `last` at time `now`.
 *
 * @module
 */
import { cronOf } from '../../topology/compile/schedules.js';
import type { CompiledSchedule } from '../../topology/desired.js';

/** At most this many passed slots are counted after a downtime (a `*\/1 * * * * *` down for a year). */
const MAX_COUNTED_SLOTS = 10_000;

/** The slot id of a run: the schedule's name and the slot's instant (`nightly@2026-03-29T01:00:00.000Z`). */
export function slotId(schedule: string, slotMs: number): string {
  return `${schedule}@${new Date(slotMs).toISOString()}`;
}

/** The slots of one schedule. */
export interface Slots {
  /** The first slot strictly after `ms`, or undefined when there is none (a cron whose dates are all past). */
  after(ms: number): number | undefined;
  /** The last slot at or before `ms`, or undefined when there is none. */
  atOrBefore(ms: number): number | undefined;
}

/** The slots of `schedule` (a cron expression is parsed once here). */
export function slotsOf(schedule: CompiledSchedule): Slots {
  const trigger = schedule.trigger;
  if (trigger.kind === 'every') {
    const every = trigger.everyMs;
    return {
      after: (ms) => (Math.floor(ms / every) + 1) * every,
      atOrBefore: (ms) => Math.floor(ms / every) * every,
    };
  }
  const cron = cronOf(trigger.expression, trigger.timezone);
  return {
    after: (ms) => cron.nextRun(new Date(ms))?.getTime(),
    atOrBefore: (ms) => cron.previousRuns(1, new Date(ms + 1))[0]?.getTime(),
  };
}

/** What a scheduler does with one schedule at one look. */
export interface SlotDecision {
  /** The slot to send a run for now, if any. */
  readonly fire?: number;
  /** The slot to record as handled (fired or skipped): later looks start after it. */
  readonly record?: number;
  /** Slots that passed without a run and will never get their own (0 when on time). */
  readonly missed: number;
}

const NOTHING: SlotDecision = Object.freeze({ missed: 0 });

/**
 * The decision for a schedule whose last handled slot is `last` (undefined: never handled) at
 * `now`. A schedule seen for the first time starts at its next slot (the slot that just passed is
 * recorded, not run). One owed slot at most `graceMs` late runs; anything more — several owed
 * slots, or one later than grace — is a downtime, handled by the `missed` policy: `skip` records
 * the latest slot without a run, `runOnce` runs the latest slot once for all of them.
 */
export function decide(schedule: CompiledSchedule, slots: Slots, last: number | undefined, now: number): SlotDecision {
  const due = slots.atOrBefore(now);
  if (due === undefined) return NOTHING;
  if (last === undefined) return { record: due, missed: 0 };
  const first = slots.after(last);
  if (first === undefined || first > now) return NOTHING;
  if (first === due && now - due <= schedule.graceMs) return { fire: due, record: due, missed: 0 };
  const passed = countSlots(slots, first, due);
  if (schedule.missed === 'skip') return { record: due, missed: passed };
  return { fire: due, record: due, missed: passed - 1 };
}

/** How many slots lie in [first, last] (both slots), counting at most {@link MAX_COUNTED_SLOTS}. */
function countSlots(slots: Slots, first: number, last: number): number {
  let count = 1;
  for (let at = first; at < last && count < MAX_COUNTED_SLOTS; count++) {
    const next = slots.after(at);
    if (next === undefined || next > last) break;
    at = next;
  }
  return count;
}
