import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createProgram, runCli, USAGE_EXIT_CODE } from '../src/cli.js';
import { ExitError, isCodedError } from '../src/errors.js';
import { capture } from './capture.js';

const cliVersion = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

describe('wakame version', () => {
  it('prints a table of versions', async () => {
    const { ctx, out, err, json } = capture();
    await runCli(ctx, ['version']);
    expect(out).toEqual([
      `@wakame/cli   ${cliVersion}`,
      expect.stringMatching(/^@wakame\/core {2}\d+\.\d+\.\d+/),
      `node          ${process.version}`,
    ]);
    expect(err).toEqual([]);
    expect(json).toEqual([]);
  });

  it('prints an object with --json, before or after the command', async () => {
    for (const argv of [
      ['version', '--json'],
      ['--json', 'version'],
    ]) {
      const { ctx, out, json } = capture();
      await createProgram(ctx).parseAsync(argv, { from: 'user' });
      expect(out).toEqual([]);
      expect(json).toEqual([
        { '@wakame/cli': cliVersion, '@wakame/core': expect.stringMatching(/^\d+\./), node: process.version },
      ]);
    }
  });

  it('prints only the CLI version with --quiet', async () => {
    const { ctx, out } = capture();
    await runCli(ctx, ['version', '--quiet']);
    expect(out).toEqual([cliVersion]);
  });
});

describe('command line errors', () => {
  it('rejects an unknown command with a usage ExitError and prints nothing itself', async () => {
    const { ctx, out, err } = capture();
    const error = await runCli(ctx, ['frobnicate']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExitError);
    expect((error as ExitError).exitCode).toBe(USAGE_EXIT_CODE);
    expect((error as ExitError).message).toBe("unknown command 'frobnicate'");
    expect(out).toEqual([]);
    expect(err).toEqual([]);
  });

  it('suggests a close command name', async () => {
    const error = await runCli(capture().ctx, ['versoin']).catch((e: unknown) => e);
    expect((error as ExitError).message).toMatch(/Did you mean version\?/);
  });

  it('rejects an unknown option', async () => {
    const error = await runCli(capture().ctx, ['version', '--frob']).catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: USAGE_EXIT_CODE, message: "unknown option '--frob'" });
  });

  it('turns --help into a silent successful exit', async () => {
    const { ctx, out } = capture();
    const error = await runCli(ctx, ['--help']).catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: 0, message: '' });
    expect(out.join('\n')).toContain('version');
  });

  it('shows help on stderr and fails without a command', async () => {
    const { ctx, err } = capture();
    const error = await runCli(ctx, []).catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: USAGE_EXIT_CODE, message: 'missing command' });
    expect(err.join('\n')).toContain('Usage: wakame');
  });
});

describe('isCodedError', () => {
  it('recognises Wakame errors by their ERR_ code', () => {
    expect(isCodedError(Object.assign(new Error('x'), { code: 'ERR_INVALID_URL' }))).toBe(true);
    expect(isCodedError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
    expect(isCodedError({ code: 'ERR_X', message: 'not an Error' })).toBe(false);
  });
});
