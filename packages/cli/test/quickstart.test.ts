import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import type { QuickstartReport } from '../src/commands/quickstart.js';
import { capture } from './capture.js';

describe('wakame quickstart (what pnpm start runs)', () => {
  it('runs the whole job on the embedded file broker, highest class first', async () => {
    const url = `file://${mkdtempSync(join(tmpdir(), 'wakame-quickstart-'))}`;
    const c = capture({ jsonMode: true });
    await runCli(c.ctx, ['quickstart', '--url', url, '--tasks', '10']);
    const report = c.json[0] as QuickstartReport;
    expect(report).toMatchObject({ processed: 30, inPriorityOrder: true, sent: { low: 10, mid: 10, high: 10 } });
    expect(report.order[0]).toMatch(/^high×/);
    // A second run on the same directory finds nothing to change and gives the same summary.
    const again = capture({ jsonMode: true });
    await runCli(again.ctx, ['quickstart', '--url', url, '--tasks', '10']);
    expect((again.json[0] as QuickstartReport).order).toEqual(report.order);
  }, 30_000);
});
