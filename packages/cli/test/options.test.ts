/**
 * Numeric options: one parser module (options.ts) for every numeric flag of every command. A bad value is a
 * usage error (exit 64) naming the flag and the accepted range, found before anything runs.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection, Queue } from '@wakame/core';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram, runCli } from '../src/cli.js';
import { integer, integerOrName, seconds } from '../src/options.js';
import { execute } from '../src/run.js';
import { capture } from './capture.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const topology = join(examples, 'priority-tasks', 'topology.yaml');
const worker = join(examples, 'priority-tasks', 'worker.ts');

describe('option parsers', () => {
  it('integer: decimal digits within the range only', () => {
    const parse = integer('--n', { min: 1, max: 10 });
    expect(parse('7')).toBe(7);
    expect(parse(' 10 ')).toBe(10);
    for (const bad of ['0', '11', 'abc', '', '1.5', '1e1', '0x5', '5abc']) {
      expect(() => parse(bad)).toThrow(`--n takes an integer from 1 to 10, not '${bad}'.`);
    }
    expect(() => integer('--n', { min: 0 })('-1')).toThrow('--n takes an integer ≥ 0');
  });

  it('seconds: decimals allowed, bounded by what a timer can wait', () => {
    const parse = seconds('--t');
    expect(parse('0')).toBe(0);
    expect(parse('2.5')).toBe(2.5);
    for (const bad of ['-1', 'soon', '1e3', '2147484', '']) {
      expect(() => parse(bad)).toThrow(`--t takes a number of seconds from 0 to 2147483, not '${bad}'.`);
    }
    expect(() => seconds('--t', { min: 0.1 })('0')).toThrow('from 0.1 to');
  });

  it('integerOrName: a name passes, anything numeric must be an integer in range', () => {
    const parse = integerOrName('--priority', { min: 0, max: 255 });
    expect(parse('high')).toBe('high');
    expect(parse('5')).toBe(5);
    for (const bad of ['256', '-1', '1.5', '.5']) {
      expect(() => parse(bad)).toThrow(`--priority takes a name or an integer from 0 to 255, not '${bad}'.`);
    }
  });
});

/** Every option taking a number, by its placeholder. */
function numericOptions(program: Command): string[] {
  return program.commands.flatMap((command) =>
    command.options
      .filter((option) => /[<[](n|ms|seconds|class\|n)[>\]]/.test(option.flags))
      .filter((option) => option.parseArg === undefined)
      .map((option) => `${command.name()} ${option.flags}`),
  );
}

describe('every numeric option of every command', () => {
  it('has a parser', () => {
    expect(numericOptions(createProgram(capture().ctx))).toEqual([]);
  });

  const memory = `memory://${randomUUID()}`;
  it.each([
    [['apply', topology, '--url', memory, '--yes', '--concurrency', 'abc'], '--concurrency takes an integer ≥ 1'],
    [['apply', topology, '--url', memory, '--yes', '--concurrency', '0'], '--concurrency takes an integer ≥ 1'],
    [
      ['apply', topology, '--url', memory, '--yes', '--lock-timeout', 'forever'],
      '--lock-timeout takes a number of seconds from 0 to',
    ],
    [['publish', 'x', '--routing-key', 'q', '--priority', '300'], '--priority takes an integer from 0 to 255'],
    [['publish', 'x', '--routing-key', 'q', '--expiration', '-5'], '--expiration takes an integer ≥ 0'],
    [['publish', 'x', '--routing-key', 'q', '--count', '0'], '--count takes an integer ≥ 1'],
    [['consume', 'q', '--count', 'all'], '--count takes an integer ≥ 1'],
    [['consume', 'q', '--timeout', '10s'], '--timeout takes a number of seconds from 0 to 2147483'],
    [['inspect', '--watch', '0'], '--watch takes a number of seconds from 0.1 to 2147483'],
    [['worker', worker, '--concurrency', '0'], '--concurrency takes an integer from 1 to 10000'],
    [['worker', worker, '--shutdown-timeout', 'long'], '--shutdown-timeout takes a number of seconds from 0 to'],
    [['send', 't', '{}', '--delay', '1.5'], '--delay takes an integer from 0 to 2147483000'],
    [['send', 't', '{}', '--expires', 'never'], '--expires takes an integer ≥ 0'],
    [['send', 't', '{}', '--wait', '0'], '--wait takes a number of seconds from 0.1 to'],
    [['send', 't', '{}', '--priority', '256'], '--priority takes a name or an integer from 0 to 255'],
    [['quickstart', '--tasks', '0'], '--tasks takes an integer from 1 to 10000'],
    [['demo', '--messages', '1e6'], '--messages takes an integer from 1 to 1000000'],
  ])('%j is a usage error naming the flag and its range', async (argv, message) => {
    const c = capture();
    expect(await execute(c.ctx, argv)).toBe(64);
    expect(c.err[0]).toMatch(new RegExp(`^error: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*, not '`));
    expect(c.out).toEqual([]);
    const json = capture();
    expect(await execute(json.ctx, [...argv, '--json'])).toBe(64);
    expect(json.json).toEqual([
      { ok: false, error: { code: 'ERR_USAGE', message: expect.stringContaining(message), hint: expect.any(String) } },
    ]);
  });

  it('apply --concurrency abc applies nothing and says so (it used to say "Nothing to do" and exit 0)', async () => {
    const url = `memory://${randomUUID()}`;
    const keeper = await Connection.open(url);
    try {
      const c = capture();
      expect(await execute(c.ctx, ['apply', topology, '--url', url, '--yes', '--concurrency', 'abc'])).toBe(64);
      expect(c.out.join('\n')).not.toContain('Nothing to do');
      expect((await keeper.admin.inspect()).queues).toEqual([]);
      const ok = capture();
      expect(await execute(ok.ctx, ['apply', topology, '--url', url, '--yes', '--concurrency', '2'])).toBe(0);
      expect(ok.out.at(-1)).toMatch(/^Applied 7 change/);
    } finally {
      await keeper.close();
    }
  });

  it('hands the commands numbers: consume --timeout 0.2, demo --messages 20, publish --count 3', async () => {
    const url = `memory://${randomUUID()}`;
    const keeper = await Connection.open(url);
    try {
      await keeper.declare(new Queue('q'));
      await runCli(capture().ctx, ['publish', 'x', '--url', url, '--routing-key', 'q', '--count', '3']);
      const consumed = capture({ quiet: true });
      await runCli(consumed.ctx, ['consume', 'q', '--url', url, '--timeout', '0.2', '--ack']);
      expect(consumed.out).toEqual(['x', 'x', 'x']);
      const demo = capture({ jsonMode: true });
      await runCli(demo.ctx, ['demo', '--messages', '20']);
      expect(demo.json[0]).toMatchObject({ published: 20 });
    } finally {
      await keeper.close();
    }
  });
});
