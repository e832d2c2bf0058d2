/**
 * Schedules and task limits as the worker uses them: durations (`1s`, `500ms`, or milliseconds)
 * turned into milliseconds and the defaults of a schedule filled in. Like the rest of the compiler,
 * it trusts a schema-valid document and never throws: a cron expression or time zone that does not
 * parse is left for the `schedule-*` rules (`../check/schedule-rules.ts`) to report at its line.
 *
 * @module
 */
import { Cron } from 'croner';
import type { CompiledSchedule } from '../desired.js';
import type { DurationDocument, ScheduleDocument } from '../document.js';

/** How late a slot may still run as on time when a schedule sets no `grace`. */
export const DEFAULT_SCHEDULE_GRACE_MS = 60_000;

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/;

/** Milliseconds of a schema-valid duration (`250`, `'1s'`, `'1.5m'`); NaN for anything else. */
export function durationMs(duration: DurationDocument): number {
  if (typeof duration === 'number') return duration;
  const match = DURATION.exec(duration);
  if (!match) return Number.NaN;
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** A schedule with its defaults applied (`missed: runOnce`, `grace: 60s`, payload `{}`, time zone UTC). */
export function compileSchedule(doc: ScheduleDocument): CompiledSchedule {
  const trigger: CompiledSchedule['trigger'] =
    doc.cron !== undefined
      ? { kind: 'cron', expression: doc.cron, timezone: doc.timezone ?? 'UTC' }
      : { kind: 'every', everyMs: durationMs(doc.every ?? Number.NaN) };
  return {
    name: doc.name,
    task: doc.task,
    payload: doc.payload ?? {},
    trigger,
    missed: doc.missed ?? 'runOnce',
    graceMs: doc.grace === undefined ? DEFAULT_SCHEDULE_GRACE_MS : durationMs(doc.grace),
  };
}

/**
 * croner's reading of a cron expression as the topology format defines it: 5 fields, or 6 with
 * seconds first; day-of-month and day-of-week combine with OR, as in classic cron.
 * @throws croner's error when the expression (or the time zone) does not parse.
 */
export function cronOf(expression: string, timezone: string): Cron {
  return new Cron(expression, { timezone, paused: true, mode: '5-or-6-parts' });
}
