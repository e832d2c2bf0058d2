/**
 * The rules of the `schedules:` section and of task limits: what the schema cannot say about them.
 *
 * Errors: `duplicate-name` (two schedules of one name: their slot ids would collide),
 * `dangling-reference` (a schedule's task is not declared), `schedule-trigger` (neither or both of
 * `cron` and `every`), `schedule-cron` (croner cannot parse the expression, or it never fires),
 * `schedule-timezone` (not an IANA time zone this Node.js knows), `schedule-payload` (the payload does not
 * satisfy its task's payload schema: every run would be refused), `schedule-protocol` (the task is a Celery task:
 * the scheduler sends Wakame's format only).
 * Warnings: `schedule-timezone` on an `every` schedule (slots are instants: a zone changes nothing),
 * `rate-limit` (a limit faster than a start per millisecond, which no timer can pace).
 *
 * @module
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { cronOf } from '../compile/schedules.js';
import type { DesiredTopology } from '../desired.js';
import type { ScheduleDocument, TopologyDocument } from '../document.js';

/** What the schedule rules need from the rule context of `./rules.ts`. */
export interface ScheduleRuleContext {
  readonly doc: TopologyDocument;
  readonly compiled: DesiredTopology;
  error(keyword: string, path: string, message: string): void;
  warn(keyword: string, path: string, message: string): void;
}

/** Why `timezone` is not usable, or undefined when Node.js knows it. */
export function timezoneProblem(timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return undefined;
  } catch {
    return `'${timezone}' is not an IANA time zone (e.g. UTC, Europe/Paris, America/New_York)`;
  }
}

/** Why `expression` is not a usable cron expression, or undefined when it is (and fires at least once). */
export function cronProblem(expression: string, timezone = 'UTC'): string | undefined {
  let cron: ReturnType<typeof cronOf>;
  try {
    cron = cronOf(expression, timezone);
  } catch (error) {
    return `'${expression}' is not a cron expression: ${(error as Error).message}`;
  }
  if (cron.nextRun() === null) return `'${expression}' never fires (no date matches it)`;
  return undefined;
}

let ajv: Ajv2020 | undefined;

/** Why `payload` does not fit `schema` (ajv's words), or undefined when it does (or the schema does not compile). */
export function payloadProblem(schema: Readonly<Record<string, unknown>>, payload: unknown): string | undefined {
  // strict: false, as for payloads on send and receipt: payload schemas may carry annotations ajv does not know.
  ajv ??= new Ajv2020({ allErrors: true, strict: false });
  let valid: boolean;
  try {
    valid = ajv.validate(schema, payload);
  } catch {
    return undefined;
  }
  return valid ? undefined : ajv.errorsText(ajv.errors, { dataVar: 'payload' });
}

function checkSchedule(
  ctx: ScheduleRuleContext,
  s: ScheduleDocument,
  at: string,
  tasks: ReadonlyMap<string, DesiredTopology['tasks'][number]>,
): void {
  const task = tasks.get(s.task);
  if (!task) ctx.error('dangling-reference', `${at}/task`, `schedule task '${s.task}' is not declared`);
  else if (task.protocol === 'celery') {
    // The scheduler sends through a TaskClient, in Wakame's format, which a Celery worker cannot run.
    ctx.error(
      'schedule-protocol',
      `${at}/task`,
      `schedule '${s.name}' targets '${s.task}', a Celery task (protocol: celery): schedules send Wakame tasks only; use Celery beat for it, or a Wakame task`,
    );
  } else if (task.payload !== undefined) {
    const problem = payloadProblem(task.payload, s.payload ?? {});
    const where = s.payload === undefined ? at : `${at}/payload`;
    if (problem !== undefined)
      ctx.error('schedule-payload', where, `task '${s.task}' refuses this payload: ${problem}`);
  }
  if (s.cron === undefined && s.every === undefined) {
    ctx.error('schedule-trigger', at, `schedule '${s.name}' needs cron (e.g. '0 3 * * *') or every (e.g. 30s)`);
    return;
  }
  if (s.cron !== undefined && s.every !== undefined) {
    ctx.error('schedule-trigger', `${at}/every`, `schedule '${s.name}' has both cron and every: keep one`);
    return;
  }
  const zoneProblem = s.timezone === undefined ? undefined : timezoneProblem(s.timezone);
  if (zoneProblem !== undefined) ctx.error('schedule-timezone', `${at}/timezone`, zoneProblem);
  if (s.cron !== undefined) {
    const problem = cronProblem(s.cron, zoneProblem === undefined ? s.timezone : undefined);
    if (problem !== undefined) ctx.error('schedule-cron', `${at}/cron`, problem);
  } else if (s.timezone !== undefined && zoneProblem === undefined) {
    ctx.warn(
      'schedule-timezone',
      `${at}/timezone`,
      'a time zone changes nothing for an every schedule (only for cron)',
    );
  }
}

/** Runs the schedule and task-limit rules. */
export function checkSchedules(ctx: ScheduleRuleContext): void {
  const tasks = new Map(ctx.compiled.tasks.map((t) => [t.name, t]));
  const first = new Map<string, number>();
  (ctx.doc.schedules ?? []).forEach((s, i) => {
    const at = `/schedules/${i}`;
    const earlier = first.get(s.name);
    if (earlier === undefined) first.set(s.name, i);
    else ctx.error('duplicate-name', `${at}/name`, `schedule '${s.name}' is already declared at /schedules/${earlier}`);
    checkSchedule(ctx, s, at, tasks);
  });
  (ctx.doc.tasks ?? []).forEach((t, i) => {
    const limit = ctx.compiled.tasks.find((c) => c.name === t.name)?.rateLimit;
    if (limit !== undefined && limit.perMs / limit.max < 1) {
      ctx.warn(
        'rate-limit',
        `/tasks/${i}/rateLimit`,
        `${limit.max} per ${limit.perMs} ms is faster than one start per millisecond: timers cannot pace it`,
      );
    }
  });
}
