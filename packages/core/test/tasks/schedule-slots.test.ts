import { describe, expect, it } from 'vitest';
import { decide, slotId, slotsOf } from '../../src/tasks/schedule/slots.js';
import { compileSchedule } from '../../src/topology/compile/schedules.js';
import type { ScheduleDocument } from '../../src/topology/document.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const at = (text: string) => Date.parse(text);

function schedule(doc: Partial<ScheduleDocument>) {
  return compileSchedule({ name: 's', task: 't', ...doc });
}

describe('schedule slots', () => {
  it('reads a cron expression in its time zone, across a daylight-saving change', () => {
    const slots = slotsOf(schedule({ cron: '0 3 * * *', timezone: 'Europe/Paris' }));
    // 03:00 in Paris is 02:00Z in winter (CET) and 01:00Z from 29 March 2026 (CEST).
    expect(iso(slots.after(at('2026-03-27T12:00:00Z')))).toBe('2026-03-28T02:00:00.000Z');
    expect(iso(slots.after(at('2026-03-28T02:00:00Z')))).toBe('2026-03-29T01:00:00.000Z');
    expect(iso(slots.atOrBefore(at('2026-03-29T01:00:00Z')))).toBe('2026-03-29T01:00:00.000Z');
    expect(iso(slots.atOrBefore(at('2026-03-29T00:59:59Z')))).toBe('2026-03-28T02:00:00.000Z');
    const newYork = slotsOf(schedule({ cron: '30 9 * * 1-5', timezone: 'America/New_York' }));
    // Friday 2026-01-02 09:30 EST, then Monday.
    expect(iso(newYork.after(at('2026-01-02T12:00:00Z')))).toBe('2026-01-02T14:30:00.000Z');
    expect(iso(newYork.after(at('2026-01-02T14:30:00Z')))).toBe('2026-01-05T14:30:00.000Z');
  });

  it('reads UTC when no time zone is given, and takes 6 fields as seconds first', () => {
    expect(iso(slotsOf(schedule({ cron: '0 3 * * *' })).after(at('2026-03-28T02:00:00Z')))).toBe(
      '2026-03-28T03:00:00.000Z',
    );
    expect(iso(slotsOf(schedule({ cron: '*/15 * * * * *' })).after(at('2026-01-01T00:00:07Z')))).toBe(
      '2026-01-01T00:00:15.000Z',
    );
  });

  it('aligns every-N slots on the epoch, so every worker computes the same ones', () => {
    const slots = slotsOf(schedule({ every: '30s' }));
    expect(iso(slots.after(at('2026-01-01T00:00:10Z')))).toBe('2026-01-01T00:00:30.000Z');
    expect(iso(slots.after(at('2026-01-01T00:00:30Z')))).toBe('2026-01-01T00:01:00.000Z');
    expect(iso(slots.atOrBefore(at('2026-01-01T00:00:59.999Z')))).toBe('2026-01-01T00:00:30.000Z');
    expect(slotsOf(schedule({ every: 1500 })).after(0)).toBe(1500);
  });

  it('names a run by its schedule and slot', () => {
    expect(slotId('nightly', at('2026-03-29T01:00:00Z'))).toBe('nightly@2026-03-29T01:00:00.000Z');
  });
});

describe('what a scheduler does at one look', () => {
  const every = schedule({ every: '1m' });
  const slots = slotsOf(every);
  const minute = (n: number) => at('2026-01-01T00:00:00Z') + n * 60_000;

  it('starts a schedule seen for the first time at its next slot (the one that just passed is not run)', () => {
    expect(decide(every, slots, undefined, minute(5) + 10_000)).toEqual({ record: minute(5), missed: 0 });
  });

  it('runs the one owed slot while it is within grace, and nothing before it is due', () => {
    expect(decide(every, slots, minute(5), minute(5) + 59_999)).toEqual({ missed: 0 });
    expect(decide(every, slots, minute(5), minute(6))).toEqual({ fire: minute(6), record: minute(6), missed: 0 });
    expect(decide(every, slots, minute(5), minute(6) + 59_000)).toEqual({
      fire: minute(6),
      record: minute(6),
      missed: 0,
    });
  });

  it('never runs a recorded slot again', () => {
    expect(decide(every, slots, minute(6), minute(6) + 30_000)).toEqual({ missed: 0 });
  });

  it('runOnce (the default): one run for all the slots a downtime missed, saying how many had no run', () => {
    expect(decide(every, slots, minute(5), minute(10) + 1_000)).toEqual({
      fire: minute(10),
      record: minute(10),
      missed: 4,
    });
  });

  it('skip: records the latest passed slot without a run', () => {
    const skipping = schedule({ every: '1m', missed: 'skip' });
    expect(decide(skipping, slotsOf(skipping), minute(5), minute(10) + 1_000)).toEqual({
      record: minute(10),
      missed: 5,
    });
  });

  it('a single slot later than grace is missed too (skip), or runs late once (runOnce)', () => {
    const strict = schedule({ cron: '0 3 * * *', grace: '5m', missed: 'skip' });
    const lenient = schedule({ cron: '0 3 * * *', grace: '5m' });
    const last = at('2026-01-01T03:00:00Z');
    const late = at('2026-01-02T03:06:00Z');
    expect(decide(strict, slotsOf(strict), last, late)).toEqual({ record: at('2026-01-02T03:00:00Z'), missed: 1 });
    expect(decide(lenient, slotsOf(lenient), last, late)).toEqual({
      fire: at('2026-01-02T03:00:00Z'),
      record: at('2026-01-02T03:00:00Z'),
      missed: 0,
    });
  });
});
