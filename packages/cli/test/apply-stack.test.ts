/**
 * plan/apply/adopt/release in process on the memory broker: the plan's three groups, confirmation,
 * adoption and release of ownership, and apply's summary.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Queue } from '@wakame/core';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import type { CommandContext } from '../src/context.js';
import { ExitError } from '../src/errors.js';
import { capture } from './capture.js';

const dir = mkdtempSync(join(tmpdir(), 'wakame-stack-'));
async function file(yaml: string): Promise<string> {
  const path = join(dir, `${randomUUID()}.yaml`);
  await writeFile(path, yaml);
  return path;
}
const TWO = 'name: shop\nqueues: [{ name: keep }, { name: drop }]\n';
const ONE = 'name: shop\nqueues: [{ name: keep }]\n';

async function wakame(args: string[], overrides: Partial<CommandContext> = {}) {
  const out = capture(overrides);
  try {
    await runCli(out.ctx, args);
    return { code: 0, ...out, error: undefined as unknown };
  } catch (error) {
    return { code: error instanceof ExitError ? error.exitCode : 1, ...out, error };
  }
}

describe('plan and apply with stacks (memory broker)', () => {
  const url = `memory://${randomUUID()}`;
  let keeper: Connection | undefined;
  afterEach(async () => {
    await keeper?.close();
  });

  it('asks before applying on a terminal, and needs --yes without one', async () => {
    const u = `memory://${randomUUID()}`;
    keeper = await Connection.open(u); // keeps the in-process broker alive between commands
    const two = await file(TWO);
    const noTerminal = await wakame(['apply', two, '--url', u]);
    expect(noTerminal.code).toBe(1);
    expect((noTerminal.error as Error).message).toContain('not confirmed. Pass --yes');
    const questions: string[] = [];
    const declined = await wakame(['apply', two, '--url', u], {
      confirm: async (q) => {
        questions.push(q);
        return false;
      },
    });
    expect(questions).toEqual([`Apply 2 change(s) to ${u} (stack 'shop')?`]);
    expect((declined.error as Error).message).toBe('not confirmed: nothing was changed');
    expect((await keeper.admin.inspect()).queues).toEqual([]);
    const approved = await wakame(['apply', two, '--url', u, '--auto-approve']);
    expect(approved.out.at(-1)).toMatch(/^Applied 2 change\(s\) in \d+ ms \(create queues 2 in \d+ ms\)\.$/);
  });

  it('groups the plan: changes, owned but undeclared, foreign; adopt and release move entities between them', async () => {
    keeper = await Connection.open(url);
    await keeper.declare(new Queue('other-app'), new Queue('legacy'));
    await wakame(['apply', await file(TWO), '--url', url, '--yes']);
    const plan = await wakame([
      'plan',
      await file('name: shop\nqueues: [{ name: keep }, { name: legacy }]\n'),
      '--url',
      url,
    ]);
    expect(plan.out).toEqual([
      `Plan for ${url}, stack 'shop':`,
      "Owned by stack 'shop' but no longer declared (apply --prune deletes them):",
      '- queue drop (owned, no longer declared; deleted with --prune)',
      "1 declared entity exists without belonging to stack 'shop' (wakame adopt takes them over).",
      '1 foreign entity of other owners, never touched (--show-foreign lists them).',
      'Plan: 0 to create, 0 to replace, 1 owned and no longer declared, 2 unchanged.',
    ]);

    const withLegacy = await file('name: shop\nqueues: [{ name: keep }, { name: drop }, { name: legacy }]\n');
    const adopted = await wakame(['adopt', withLegacy, '--url', url], { jsonMode: true });
    expect(adopted.json[0]).toMatchObject({ stack: 'shop', adopted: [{ kind: 'queue', name: 'legacy' }] });

    const one = await file(ONE);
    const released = await wakame(['release', one, '--url', url]);
    expect(released.out).toEqual([
      'released queue drop',
      'released queue legacy',
      "Stack 'shop' no longer owns 2 entities; they stay on the broker.",
    ]);
    const after = await wakame(['plan', one, '--url', url, '--detailed-exitcode', '--show-foreign']);
    expect(after.code).toBe(0);
    expect(after.out).toContain('  queue legacy');
    expect(after.out).toContain('  queue drop');
    // Released entities are foreign now: prune leaves them.
    await wakame(['apply', one, '--url', url, '--prune', '--force', '--yes']);
    expect((await keeper.admin.inspect()).queues.map((q) => q.name).sort()).toEqual([
      'drop',
      'keep',
      'legacy',
      'other-app',
    ]);
  });

  it('names the stack by --stack over the file, and refuses a bad stack name as a user error', async () => {
    const u = `memory://${randomUUID()}`;
    keeper = await Connection.open(u);
    const one = await file(ONE);
    const other = await wakame(['plan', one, '--url', u, '--stack', 'billing'], { jsonMode: true });
    expect(other.json[0]).toMatchObject({ stack: 'billing' });
    const bad = await wakame(['plan', one, '--url', u, '--stack', '../x']);
    expect(bad.error).toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: expect.stringContaining("invalid stack name '../x'"),
    });
  });
});
