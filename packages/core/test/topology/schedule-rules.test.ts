import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssues } from '../../src/topology/check/format-issues.js';
import { compileTopology } from '../../src/topology/compile/compile.js';
import { checkTopology } from '../../src/topology/pipeline.js';

const HEAD = `version: 1
exchanges: [{ name: tasks, type: direct }]
queues: [{ name: work, bindings: [{ exchange: tasks, routingKey: work }] }]
tasks:
  - name: report.build
    rateLimit: { max: 100, per: 1s }
    concurrency: 4
routes: [{ match: '**', exchange: tasks, routingKey: work }]
`;

async function check(schedules: string) {
  const dir = await mkdtemp(join(tmpdir(), 'wakame-schedule-rules-'));
  const file = join(dir, 'topology.yaml');
  await writeFile(file, `${HEAD}schedules:\n${schedules}`);
  return checkTopology(file);
}

describe('schedule rules', () => {
  it('accepts cron with a time zone, every with a unit, and task limits, compiled to milliseconds', async () => {
    const checked =
      await check(`  - { name: nightly, task: report.build, cron: '0 3 * * *', timezone: Europe/Paris, missed: skip }
  - { name: poll, task: report.build, every: 30s, grace: 2m }
`);
    expect(checked.issues).toEqual([]);
    const desired = compileTopology(checked.document as NonNullable<typeof checked.document>);
    expect(desired.schedules).toEqual([
      {
        name: 'nightly',
        task: 'report.build',
        payload: {},
        trigger: { kind: 'cron', expression: '0 3 * * *', timezone: 'Europe/Paris' },
        missed: 'skip',
        graceMs: 60_000,
      },
      {
        name: 'poll',
        task: 'report.build',
        payload: {},
        trigger: { kind: 'every', everyMs: 30_000 },
        missed: 'runOnce',
        graceMs: 120_000,
      },
    ]);
    expect(desired.tasks[0]).toMatchObject({ rateLimit: { max: 100, perMs: 1_000 }, concurrency: 4 });
  });

  it('reports a bad cron expression, an unknown time zone and an undeclared task at their line and column', async () => {
    const checked = await check(`  - name: a
    task: report.build
    cron: '61 * * * *'
  - name: b
    task: report.build
    cron: '0 3 * * *'
    timezone: Mars/Olympus
  - name: c
    task: report.missing
    every: 1m
`);
    expect(checked.errors.map((i) => [i.keyword, i.path, i.line, i.column])).toEqual([
      ['schedule-cron', '/schedules/0/cron', 12, 11],
      ['schedule-timezone', '/schedules/1/timezone', 16, 15],
      ['dangling-reference', '/schedules/2/task', 18, 11],
    ]);
    const text = formatIssues(checked.errors);
    expect(text).toContain("'61 * * * *' is not a cron expression");
    expect(text).toContain("'Mars/Olympus' is not an IANA time zone");
    expect(text).toContain("schedule task 'report.missing' is not declared");
  });

  it('needs exactly one of cron and every, and refuses a cron that never fires and a duplicate name', async () => {
    const checked = await check(`  - { name: a, task: report.build }
  - { name: b, task: report.build, cron: '* * * * *', every: 1s }
  - { name: c, task: report.build, cron: '0 0 30 2 *' }
  - { name: c, task: report.build, every: 1h, timezone: UTC }
`);
    expect(checked.errors.map((i) => [i.keyword, i.path])).toEqual([
      ['schedule-trigger', '/schedules/0'],
      ['schedule-trigger', '/schedules/1/every'],
      ['schedule-cron', '/schedules/2/cron'],
      ['duplicate-name', '/schedules/3/name'],
    ]);
    expect(checked.errors[2]?.message).toContain('never fires');
    expect(checked.warnings.map((i) => [i.keyword, i.path])).toEqual([['schedule-timezone', '/schedules/3/timezone']]);
  });

  it('adds the schedules of included files to its own, and locates their problems in the included file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-schedule-include-'));
    await writeFile(join(dir, 'base.yaml'), `${HEAD}schedules:\n  - { name: poll, task: report.build, every: 1m }\n`);
    await writeFile(
      join(dir, 'topology.yaml'),
      "include: [base.yaml]\nschedules:\n  - { name: nightly, task: report.build, cron: '0 3 * * *', timezone: Nowhere/Land }\n",
    );
    const checked = await checkTopology(join(dir, 'topology.yaml'));
    expect(checked.errors).toMatchObject([{ keyword: 'schedule-timezone', file: join(dir, 'topology.yaml'), line: 3 }]);
    await writeFile(
      join(dir, 'topology.yaml'),
      "include: [base.yaml]\nschedules:\n  - { name: nightly, task: report.build, cron: '0 3 * * *' }\n",
    );
    const merged = await checkTopology(join(dir, 'topology.yaml'));
    expect(merged.desired?.schedules?.map((s) => s.name)).toEqual(['nightly', 'poll']);
  });

  it("checks a schedule's payload against its task's payload schema, at the payload", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-schedule-payload-'));
    const file = join(dir, 'topology.yaml');
    await writeFile(
      file,
      `version: 1
tasks:
  - name: report.build
    payload: { type: object, required: [kind], properties: { kind: { type: string } } }
exchanges: [{ name: tasks, type: direct }]
queues: [{ name: work, bindings: [{ exchange: tasks, routingKey: work }] }]
schedules:
  - name: nightly
    task: report.build
    every: 1h
    payload: { kind: 7 }
  - { name: bare, task: report.build, every: 1h }
  - { name: good, task: report.build, every: 1h, payload: { kind: daily } }
`,
    );
    const checked = await checkTopology(file);
    expect(checked.errors.map((i) => [i.keyword, i.path, i.line])).toEqual([
      ['schedule-payload', '/schedules/0/payload', 11],
      ['schedule-payload', '/schedules/1', 12],
    ]);
    expect(checked.errors[0]?.message).toBe("task 'report.build' refuses this payload: payload/kind must be string");
    expect(checked.errors[1]?.message).toContain("must have required property 'kind'");
  });

  it('refuses a schedule of a Celery task at its task (the scheduler sends Wakame tasks only)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-schedule-celery-'));
    const file = join(dir, 'topology.yaml');
    await writeFile(
      file,
      `version: 1
tasks:
  - { name: proj.tasks.add, protocol: celery }
  - { name: report.build }
exchanges: [{ name: tasks, type: direct }]
queues: [{ name: work, bindings: [{ exchange: tasks, routingKey: work }] }]
routes: [{ match: '**', exchange: tasks, routingKey: work }]
schedules:
  - { name: sum, task: proj.tasks.add, every: 1h }
  - { name: report, task: report.build, every: 1h }
`,
    );
    const checked = await checkTopology(file);
    expect(checked.errors.map((i) => [i.keyword, i.path, i.line])).toEqual([
      ['schedule-protocol', '/schedules/0/task', 9],
    ]);
    expect(checked.errors[0]?.message).toContain("'proj.tasks.add', a Celery task");
  });

  it('refuses a duration without a unit it knows, through the schema', async () => {
    const checked = await check(`  - { name: a, task: report.build, every: 10 minutes }
`);
    expect(checked.errors).toMatchObject([{ path: '/schedules/0/every', line: 10 }]);
  });
});
