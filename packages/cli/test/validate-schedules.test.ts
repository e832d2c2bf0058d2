/** `wakame validate` on schedule mistakes: each at file:line:col with the reason, exit code 1, no stack trace. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { ExitError } from '../src/errors.js';
import { capture } from './capture.js';

describe('wakame validate: schedules', () => {
  it('shows a bad cron expression and an unknown time zone at their line and column', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-validate-schedules-'));
    const file = join(dir, 'topology.yaml');
    await writeFile(
      file,
      `version: 1
exchanges: [{ name: tasks, type: direct }]
queues: [{ name: work, bindings: [{ exchange: tasks, routingKey: work }] }]
tasks: [{ name: report.build }]
routes: [{ match: '**', exchange: tasks, routingKey: work }]
schedules:
  - name: nightly
    task: report.build
    cron: '0 25 * * *'
    timezone: Europe/Pariss
`,
    );
    const out = capture();
    const failure = await runCli(out.ctx, ['validate', file]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ExitError);
    expect((failure as ExitError).exitCode).toBe(1);
    const text = [...out.out, ...out.err].join('\n');
    expect(text).toContain(`${file}:9:11`);
    expect(text).toContain("'0 25 * * *' is not a cron expression");
    expect(text).toContain(`${file}:10:15`);
    expect(text).toContain("'Europe/Pariss' is not an IANA time zone");
    expect(text).not.toMatch(/\n\s+at /);
  });
});
