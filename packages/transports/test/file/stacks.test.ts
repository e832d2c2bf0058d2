/**
 * Stack records of the file broker: state documents in `stacks/<stack>.json`, the apply lock in
 * `stacks/<stack>.lock` (lease renewed by its holder, stale once the lease ran out or the holding
 * process on this host is gone). Every test has a directory of its own. What every transport's store
 * does alike (round trips, one holder at a time, waiting) is in the conformance suite.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, StackLockedError } from '@wakame/core';
import type { StackStateStore } from '@wakame/core/spi';
import { waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStacks } from '../../src/file/stacks.js';
import { expectCrashedHolderLapses, holder, type LockingChild, openStacks, rejection } from './stacks-holder.js';

const open: Connection[] = [];
const children: LockingChild[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) await c.kill();
  for (const c of open.splice(0)) await c.close();
});

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'wakame-stacks-'));
}

const stacksOf = (url: string): Promise<StackStateStore> => openStacks(url, open);

describe('file stack store', () => {
  it('keeps a state document in stacks/<stack>.json, replaced through a rename', async () => {
    const dir = freshDir();
    const stacks = await stacksOf(`file://${dir}`);
    await stacks.write('orders', { version: 1 });
    await stacks.write('orders', { version: 2 });
    // Written through a temporary file and a rename: nothing else is left behind.
    expect(readdirSync(join(dir, 'stacks'))).toEqual(['orders.json']);
    expect(JSON.parse(readFileSync(join(dir, 'stacks', 'orders.json'), 'utf8'))).toEqual({ version: 2 });
    expect(stacks.describe('orders')).toBe(`state file ${join(dir, 'stacks', 'orders.json')}`);
    await stacks.remove('orders');
    expect(readdirSync(join(dir, 'stacks'))).toEqual([]);
  });

  it('refuses a stack name that is not a plain file name', async () => {
    const stacks = await stacksOf(`file://${freshDir()}`);
    await expect(stacks.read('../escape')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('renews the lease while held, and closing the connection releases the lock', async () => {
    const dir = freshDir();
    const connection = await Connection.open(`file://${dir}?lease=1000`);
    const file = join(dir, 'stacks', 'orders.lock');
    await connection.admin.stacks?.lock('orders', { holder: holder('renewing'), timeoutMs: 0 });
    const expiresAt = (): number => (JSON.parse(readFileSync(file, 'utf8')) as { expiresAt: number }).expiresAt;
    const first = expiresAt();
    await waitFor(() => expiresAt() > first, { timeoutMs: 10_000, what: 'the lease to be renewed' });
    await connection.close();
    const other = await stacksOf(`file://${dir}`);
    await (await other.lock('orders', { holder: holder('after close'), timeoutMs: 0 })).release();
  });

  it('takes over a lock whose lease ran out, and respects one whose lease runs (holder on another host)', async () => {
    const dir = freshDir();
    const stacks = await stacksOf(`file://${dir}`);
    mkdirSync(join(dir, 'stacks'), { recursive: true });
    const foreign = (expiresAt: number) =>
      writeFileSync(
        join(dir, 'stacks', 'orders.lock'),
        JSON.stringify({ holder: holder('apply on build-7'), pid: 1, hostname: 'build-7.invalid', expiresAt }),
      );
    foreign(Date.now() + 60_000);
    const error = await rejection(stacks.lock('orders', { holder: holder('me'), timeoutMs: 0 }));
    expect((error as StackLockedError).holder?.description).toBe('apply on build-7');
    foreign(Date.now() - 1);
    const lock = await stacks.lock('orders', { holder: holder('me'), timeoutMs: 0 });
    await lock.release();
    expect(readdirSync(join(dir, 'stacks'))).toEqual([]);
  });

  it('many processes taking over one stale lock at once: exactly one wins', async () => {
    for (let round = 0; round < 50; round++) {
      const dir = freshDir();
      mkdirSync(join(dir, 'stacks'));
      writeFileSync(
        join(dir, 'stacks', 'orders.lock'),
        JSON.stringify({ holder: holder('gone'), pid: 1, hostname: 'gone.invalid', expiresAt: Date.now() - 1 }),
      );
      // Stores of their own, as in separate processes; their file operations run concurrently.
      const contenders = Array.from({ length: 12 }, () => new FileStacks(dir));
      const outcomes = await Promise.allSettled(
        contenders.map((stacks, i) => stacks.lock('orders', { holder: holder(`contender ${i}`), timeoutMs: 0 })),
      );
      const winners = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      expect(winners).toHaveLength(1);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(StackLockedError);
      for (const lock of winners) await lock.release();
    }
  });

  it('a takeover guard left behind by a process that died mid-takeover does not block for ever', async () => {
    const dir = freshDir();
    const stacks = await stacksOf(`file://${dir}?lease=1000`);
    mkdirSync(join(dir, 'stacks'));
    const lockFile = join(dir, 'stacks', 'orders.lock');
    writeFileSync(
      lockFile,
      JSON.stringify({ holder: holder('gone'), pid: 1, hostname: 'gone.invalid', expiresAt: Date.now() - 1 }),
    );
    const guard = `${lockFile}.takeover`;
    writeFileSync(guard, JSON.stringify({ pid: 1, hostname: 'gone.invalid' }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(guard, old, old);
    const lock = await stacks.lock('orders', { holder: holder('me'), timeoutMs: 10_000 });
    await lock.release();
    expect(readdirSync(join(dir, 'stacks'))).toEqual([]);
  });

  it('release leaves alone a lock that is no longer its own', async () => {
    const dir = freshDir();
    const stacks = await stacksOf(`file://${dir}`);
    const lock = await stacks.lock('orders', { holder: holder('me'), timeoutMs: 0 });
    const file = join(dir, 'stacks', 'orders.lock');
    const theirs = JSON.stringify({
      holder: holder('someone else'),
      pid: 1,
      hostname: 'elsewhere.invalid',
      expiresAt: Date.now() + 60_000,
    });
    writeFileSync(file, theirs);
    await lock.release();
    expect(readFileSync(file, 'utf8')).toBe(theirs);
  });

  it('a lock held by a process killed with SIGKILL is taken once the process is gone', async () => {
    const url = `file://${freshDir()}`;
    // The lease (30 s by default) has not run out: the dead pid alone makes the lock stale.
    await expectCrashedHolderLapses(url, 'orders', await stacksOf(url), children, 0);
  }, 40_000);
});
