/**
 * examples/deploy-pipeline/deploy.sh run as a CI system would: real processes, the embedded file
 * broker, review (plan -o) then deploy (apply plan.json), then a stale plan refused.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const script = join(repo, 'examples/deploy-pipeline/deploy.sh');
// tsx by absolute URL: the script runs in a temporary directory, where a bare `tsx` does not resolve.
const tsx = pathToFileURL(join(repo, 'node_modules/tsx/dist/loader.mjs')).href;
const wakame = `${process.execPath} --conditions=@wakame/source --import ${tsx} ${join(repo, 'packages/cli/src/main.ts')}`;

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [script, ...args], { cwd, env: { ...process.env, ...env, WAKAME: wakame } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('examples/deploy-pipeline', () => {
  it('reviews a saved plan, deploys exactly it, and refuses it once stale', async () => {
    const work = mkdtempSync(join(tmpdir(), 'wakame-pipeline-'));
    const env = { WAKAME_URL: `file://${join(work, 'broker')}` };
    const review = await run(['review'], env, work);
    expect(review.code).toBe(0);
    expect(review.out).toContain('+ exchange orders (topic, durable)');
    expect(review.out).toContain('plan saved to plan.json (changes pending: yes)');

    const deploy = await run(['deploy'], env, work);
    expect(deploy.code).toBe(0);
    const applied = JSON.parse(deploy.out) as { ok: boolean; stack: string; applied: unknown[] };
    expect(applied).toMatchObject({ ok: true, stack: 'orders' });
    expect(applied.applied).toHaveLength(5);

    const again = await run(['deploy'], env, work);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.out)).toMatchObject({ ok: false, error: { code: 'ERR_PLAN_STALE' } });

    const settled = await run(['review'], env, work);
    expect(settled.code).toBe(0);
    expect(settled.out).toContain('changes pending: no');
  }, 60_000);
});
