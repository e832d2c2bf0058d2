/**
 * How a run ends, in process through `execute` (what main.ts runs): exit codes — 64 for a malformed command line,
 * 1 for Wakame errors, 70 for internal ones — and with `--json` exactly one document on stdout for every outcome.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@wakame/core';
import { describe, expect, it } from 'vitest';
import { USAGE_EXIT_CODE } from '../src/cli.js';
import type { CommandContext } from '../src/context.js';
import { execute } from '../src/run.js';
import { capture } from './capture.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const cliVersion = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Runs `argv` as main.ts does; returns the exit code and everything written. */
async function wakame(argv: string[], overrides: Partial<CommandContext> = {}) {
  const c = capture(overrides);
  const code = await execute(c.ctx, argv);
  return { code, out: c.out, err: c.err, json: c.json };
}

async function topologyFile(yaml: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'wakame-outcome-')), 'topology.yaml');
  await writeFile(file, yaml);
  return file;
}

describe('usage errors exit 64 (EX_USAGE), not 2 (plan --detailed-exitcode: changes pending)', () => {
  it('is the exported usage exit code', () => {
    expect(USAGE_EXIT_CODE).toBe(64);
  });

  it.each([
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['version', '--frob'], "unknown option '--frob'"],
    [['validate'], "missing required argument 'file'"],
    [['consume', 'q', '--count'], "option '--count <n>' argument missing"],
    [['publish', 'x', '--routing-key', 'q', '--count', 'many'], "--count takes an integer ≥ 1, not 'many'."],
    [[], 'missing command'],
  ])('%j: exit 64, the message and a hint on stderr, nothing on stdout', async (argv, message) => {
    const r = await wakame(argv);
    expect(r.code).toBe(64);
    expect(r.err).toContain(`error: ${message}`);
    expect(r.err.at(-1)).toMatch(/^hint: run 'wakame .*--help' for /);
    expect(r.out).toEqual([]);
  });

  it('hints at the help of the command whose line was malformed', async () => {
    expect((await wakame(['plan', 'x.yaml', '--frob'])).err.at(-1)).toBe(
      "hint: run 'wakame plan --help' for its usage",
    );
    expect((await wakame(['frob'])).err.at(-1)).toBe("hint: run 'wakame --help' for the commands");
  });

  it.each([['--json', 'frobnicate'], ['frobnicate', '--json'], ['version', '--frob', '--json'], ['--json']])(
    '%s … with --json anywhere: one ERR_USAGE document on stdout',
    async (...argv) => {
      const r = await wakame(argv);
      expect(r.code).toBe(64);
      expect(r.out).toEqual([]);
      expect(r.json).toEqual([
        {
          ok: false,
          error: { code: 'ERR_USAGE', message: expect.any(String), hint: expect.stringMatching(/--help/) },
        },
      ]);
    },
  );
});

describe('wakame --version', () => {
  it.each(['--version', '-V'])('%s prints the CLI version and exits 0', async (flag) => {
    const r = await wakame([flag]);
    expect(r).toMatchObject({ code: 0, out: [cliVersion], err: [] });
  });

  it('prints a JSON document with --json, before or after', async () => {
    for (const argv of [
      ['--version', '--json'],
      ['--json', '-V'],
    ]) {
      const r = await wakame(argv);
      expect(r.code).toBe(0);
      expect(r.json).toEqual([
        { ok: true, '@wakame/cli': cliVersion, '@wakame/core': expect.any(String), node: process.version },
      ]);
    }
  });

  it('leaves the version command as it was', async () => {
    const r = await wakame(['version']);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe(`@wakame/cli   ${cliVersion}`);
  });
});

describe('--json: one document per outcome', () => {
  it('adds ok: true to a result', async () => {
    const r = await wakame(['graph', join(examples, 'topic', 'topology.yaml'), '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toEqual([{ ok: true, format: 'mermaid', graph: expect.any(String) }]);
  });

  it('answers --help with a document too', async () => {
    const r = await wakame(['--json', 'plan', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([]);
    expect(r.json).toEqual([{ ok: true, help: expect.stringContaining('Usage: wakame plan') }]);
  });

  it('reports an unreachable broker as ERR_CONNECTION, exit 1, without the password', async () => {
    const r = await wakame(['inspect', '--json', '--url', 'amqp://guest:s3cret@127.0.0.1:1//']);
    expect(r.code).toBe(1);
    expect(r.json).toEqual([{ ok: false, error: { code: 'ERR_CONNECTION', message: expect.any(String) } }]);
    expect(JSON.stringify(r.json)).not.toContain('s3cret');
    expect(r.err).toEqual([]);
  });

  it('reports a refused apply with its code and hint', async () => {
    const url = `memory://${randomUUID()}`;
    const keeper = await Connection.open(url); // keeps the in-process broker between commands
    try {
      expect((await wakame(['apply', await topologyFile('queues: [{ name: q }]\n'), '--url', url, '--yes'])).code).toBe(
        0,
      );
      const changed = await topologyFile('queues: [{ name: q, maxPriority: 5 }]\n');
      const r = await wakame(['apply', changed, '--url', url, '--yes', '--json']);
      expect(r.code).toBe(1);
      expect(r.json).toEqual([
        {
          ok: false,
          error: {
            code: 'ERR_PLAN_REFUSED',
            message: expect.stringContaining('refusing to apply'),
            hint: expect.stringContaining('--allow-destructive'),
          },
        },
      ]);
      // Without --json the hint follows the error on stderr.
      const text = await wakame(['apply', changed, '--url', url, '--yes']);
      expect(text.err.slice(-2)).toEqual([
        expect.stringMatching(/^error \[ERR_PLAN_REFUSED\]: refusing to apply/),
        expect.stringMatching(/^hint: .*--allow-destructive/),
      ]);
    } finally {
      await keeper.close();
    }
  });

  it.each(['plan', 'apply', 'send'])(
    '%s: an invalid topology is one ok: false document with its issues',
    async (command) => {
      const file = await topologyFile('queues:\n  - name: q\n    bindings: [{ exchange: nowhere }]\n');
      const argv =
        command === 'send'
          ? ['send', 't', '{}', '--topology', file, '--url', `memory://${randomUUID()}`, '--json']
          : [command, file, '--url', `memory://${randomUUID()}`, '--yes', '--json'].filter(
              (a) => command === 'apply' || a !== '--yes',
            );
      const r = await wakame(argv);
      expect(r.code).toBe(1);
      expect(r.json).toEqual([
        {
          ok: false,
          valid: false,
          error: { code: 'ERR_TOPOLOGY_VALIDATION', message: expect.stringContaining('1 error(s)') },
          errors: [expect.objectContaining({ keyword: 'dangling-reference' })],
          warnings: [],
        },
      ]);
    },
  );

  it('validate: ok follows valid', async () => {
    const bad = await wakame([
      'validate',
      await topologyFile('queues: [{ name: q, bindings: [{ exchange: x }] }]\n'),
      '--json',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.json).toEqual([
      expect.objectContaining({
        ok: false,
        valid: false,
        error: expect.objectContaining({ code: 'ERR_TOPOLOGY_VALIDATION' }),
      }),
    ]);
    const good = await wakame(['validate', join(examples, 'topic', 'topology.yaml'), '--json']);
    expect(good.code).toBe(0);
    expect(good.json).toEqual([expect.objectContaining({ ok: true, valid: true })]);
  });

  it('does not add a second document when a command chose its exit code (plan --detailed-exitcode)', async () => {
    const r = await wakame([
      'plan',
      join(examples, 'topic', 'topology.yaml'),
      '--url',
      `memory://${randomUUID()}`,
      '--detailed-exitcode',
      '--json',
    ]);
    expect(r.code).toBe(2);
    expect(r.json).toHaveLength(1);
    expect(r.json[0]).toMatchObject({ ok: true, noChanges: false });
  });

  it('reports an internal error as ERR_INTERNAL, exit 70, with the stack on stderr', async () => {
    const env = new Proxy(
      {},
      {
        get: () => {
          throw new TypeError('env exploded');
        },
      },
    );
    const json = await wakame(['inspect', '--json'], { env });
    expect(json.code).toBe(70);
    expect(json.json).toEqual([
      {
        ok: false,
        error: { code: 'ERR_INTERNAL', message: 'env exploded', hint: expect.stringContaining('internal error') },
      },
    ]);
    expect(json.err[0]).toMatch(/^TypeError: env exploded\n {4}at /);
    const text = await wakame(['inspect'], { env });
    expect(text.code).toBe(70);
    expect(text.err.at(-1)).toMatch(/This is an internal error in wakame/);
  });
});
