import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { ExitError } from '../src/errors.js';
import { capture } from './capture.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const EXAMPLES = ['priority-tasks', 'media', 'broadcast', 'topic', 'retry-dead-letter'];

async function fails(
  argv: string[],
  ctx = capture(),
): Promise<{ code: number; err: string[]; out: string[]; json: unknown[] }> {
  try {
    await runCli(ctx.ctx, argv);
  } catch (error) {
    if (error instanceof ExitError) return { code: error.exitCode, err: ctx.err, out: ctx.out, json: ctx.json };
    throw error;
  }
  throw new Error(`expected wakame ${argv.join(' ')} to fail`);
}

describe('wakame validate', () => {
  it.each(EXAMPLES)('accepts examples/%s', async (name) => {
    const c = capture();
    await runCli(c.ctx, ['validate', join(examples, name, 'topology.yaml')]);
    expect(c.out.at(-1)).toMatch(/is valid: /);
  });

  it('reports every problem with file:line:col, the line and a caret, and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      [
        'version: 1',
        'exchanges:',
        '  - { name: tasks, type: direkt }',
        'queues:',
        '  - name: q',
        '    maxPriorty: 10',
        '',
      ].join('\n'),
    );
    const result = await fails(['validate', file]);
    expect(result.code).toBe(1);
    const text = result.err.join('\n');
    expect(text).toContain(`${file}:3:`);
    expect(text).toContain(`${file}:6:5`);
    expect(text).toMatch(/did you mean 'maxPriority'/);
    expect(text).toMatch(/\^/);
  });

  it('prints machine-readable results with --json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-'));
    const file = join(dir, 'dangling.yaml');
    await writeFile(file, 'queues:\n  - name: q\n    bindings: [{ exchange: nowhere }]\n');
    const c = capture({ jsonMode: true });
    const result = await fails(['validate', file], c);
    expect(result.json[0]).toMatchObject({
      valid: false,
      errors: [{ keyword: 'dangling-reference', path: '/queues/0/bindings/0/exchange', line: 3 }],
    });
  });
});

describe('wakame plan and apply (memory broker, in process)', () => {
  it.each(EXAMPLES)('applies examples/%s, after which plan says no changes', async (name) => {
    const url = `memory://${randomUUID()}`;
    const file = join(examples, name, 'topology.yaml');
    const before = capture();
    await runCli(before.ctx, ['plan', file, '--url', url]);
    expect(before.out.at(-1)).toMatch(/^Plan: \d+ to create/);
    const applied = capture();
    await runCli(applied.ctx, ['apply', file, '--url', url, '--yes']);
    expect(applied.out.at(-1)).toMatch(/^Applied \d+ change/);
    const after = capture();
    await runCli(after.ctx, ['plan', file, '--url', url, '--detailed-exitcode']);
    expect(after.out.at(-1)).toMatch(/^No changes/);
    const again = capture();
    await runCli(again.ctx, ['apply', file, '--url', url, '--yes']);
    expect(again.out.at(-1)).toBe('Nothing to do: the broker already matches the topology.');
  });

  it('applies a TypeScript topology (examples/typescript) without a build step', async () => {
    const url = `memory://${randomUUID()}`;
    const file = join(examples, 'typescript', 'topology.ts');
    await runCli(capture().ctx, ['apply', file, '--url', url, '--yes']);
    const after = capture();
    await runCli(after.ctx, ['plan', file, '--url', url]);
    expect(after.out.at(-1)).toMatch(/^No changes/);
  });

  it('exits 2 from plan --detailed-exitcode when there are changes', async () => {
    const result = await fails([
      'plan',
      join(examples, 'topic', 'topology.yaml'),
      '--url',
      `memory://${randomUUID()}`,
      '--detailed-exitcode',
    ]);
    expect(result.code).toBe(2);
  });

  it('exports what it applied as YAML that plans to no changes', async () => {
    const url = `memory://${randomUUID()}`;
    await runCli(capture().ctx, ['apply', join(examples, 'retry-dead-letter', 'topology.yaml'), '--url', url, '--yes']);
    const dir = await mkdtemp(join(tmpdir(), 'wakame-'));
    const exported = join(dir, 'live.yaml');
    await runCli(capture().ctx, ['export', '--url', url, '-o', exported]);
    const after = capture();
    await runCli(after.ctx, ['plan', exported, '--url', url]);
    expect(after.out.at(-1)).toMatch(/^No changes/);
  });

  it('draws a Mermaid graph', async () => {
    const c = capture();
    await runCli(c.ctx, ['graph', join(examples, 'priority-tasks', 'topology.yaml')]);
    expect(c.out[0]).toMatch(/^flowchart LR/);
    expect(c.out.join('\n')).toContain('hipri');
  });
});

describe('topology command lines', () => {
  it.each(['validate', 'plan', 'apply', 'export', 'graph'])('%s --help shows examples and exits 0', async (command) => {
    const c = capture();
    const error = await runCli(c.ctx, [command, '--help']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExitError);
    expect((error as ExitError).exitCode).toBe(0);
    expect(c.out.join('\n')).toContain('Examples:');
  });

  it('refuses an unknown option as a usage error (exit 64) without running anything', async () => {
    const result = await fails(['apply', 'x.yaml', '--alow-destructive', '--yes']);
    expect(result.code).toBe(64);
  });

  it('refuses an unknown graph format with a typed error', async () => {
    await expect(
      runCli(capture().ctx, ['graph', join(examples, 'topic', 'topology.yaml'), '--format', 'svg']),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});
