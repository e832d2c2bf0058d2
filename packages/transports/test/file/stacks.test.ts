/**
 * Stack records of the file broker: state documents in `stacks/<stack>.json`, the apply lock in
 * `stacks/<stack>.lock` (lease renewed by its holder, stale once the lease ran out or the holding
 * process on this host is gone). Every test has a directory of its own.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, type LockHolder, StackLockedError } from '@wakame/core';
import type { StackStateStore } from '@wakame/core/spi';
import { waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStacks } from '../../src/file/stacks.js';
import { type LockingChild, lockInChild } from './stacks-holder.js';

const open: Connection[] = [];
const children: LockingChild[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) await c.kill();
  for (const c of open.splice(0)) await c.close();
});

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'wakame-stacks-'));
}

async function stacksOf(url: string): Promise<StackStateStore> {
  const connection = await Connection.open(url);
  open.push(connection);
  const stacks = connection.admin.stacks;
  if (!stacks) throw new Error('the file transport has no stack store');
  return stacks;
}

function holder(description: string): LockHolder {
  return { id: randomUUID(), description, since: new Date().toISOString() };
}

/** Resolves with what `promise` rejects with; fails the test when it resolves. */
function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('file stack store', () => {
  it('reads nothing for an unknown stack, round-trips a state document and removes it', async () => {
    const dir = freshDir();
    const stacks = await stacksOf(`file://${dir}`);
    expect(await stacks.read('orders')).toBeUndefined();
    const state = { version: 1, owned: [{ kind: 'queue', name: 'q1', arguments: {} }], note: 'ünïcode' };
    await stacks.write('orders', state);
    expect(await stacks.read('orders')).toEqual(state);
    await stacks.write('orders', { version: 2 });
    expect(await stacks.read('orders')).toEqual({ version: 2 });
    // Written through a temporary file and a rename: nothing else is left behind.
    expect(readdirSync(join(dir, 'stacks'))).toEqual(['orders.json']);
    // Another connection (another process would be the same) sees it.
    expect(await (await stacksOf(`file://${dir}`)).read('orders')).toEqual({ version: 2 });
    await stacks.remove('orders');
    expect(await stacks.read('orders')).toBeUndefined();
    await stacks.remove('orders');
    expect(stacks.describe('orders')).toBe(`state file ${join(dir, 'stacks', 'orders.json')}`);
  });

  it('refuses a stack name that is not a plain file name', async () => {
    const stacks = await stacksOf(`file://${freshDir()}`);
    await expect(stacks.read('../escape')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('lets one holder at a time have the lock, naming the holder to the other', async () => {
    const dir = freshDir();
    const first = await stacksOf(`file://${dir}`);
    const second = await stacksOf(`file://${dir}`);
    const lock = await first.lock('orders', { holder: holder('apply by alice (pid 1)'), timeoutMs: 0 });
    const error = await rejection(second.lock('orders', { holder: holder('apply by bob'), timeoutMs: 0 }));
    expect(error).toBeInstanceOf(StackLockedError);
    expect((error as StackLockedError).message).toContain('apply by alice (pid 1)');
    expect((error as StackLockedError).holder?.description).toBe('apply by alice (pid 1)');
    await lock.release();
    await lock.release();
    const next = await second.lock('orders', { holder: holder('apply by bob'), timeoutMs: 0 });
    await next.release();
  });

  it('a waiting lock is granted once the holder releases', async () => {
    const dir = freshDir();
    const [first, second, third] = [
      await stacksOf(`file://${dir}`),
      await stacksOf(`file://${dir}`),
      await stacksOf(`file://${dir}`),
    ];
    const lock = await first.lock('orders', { holder: holder('first'), timeoutMs: 0 });
    let released = false;
    const waiting = second
      .lock('orders', { holder: holder('second'), timeoutMs: 20_000 })
      .then((granted) => ({ granted, afterRelease: released }));
    // Still held while the second one waits.
    await expect(third.lock('orders', { holder: holder('third'), timeoutMs: 0 })).rejects.toBeInstanceOf(
      StackLockedError,
    );
    released = true;
    await lock.release();
    const { granted, afterRelease } = await waiting;
    expect(afterRelease).toBe(true);
    await granted.release();
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
    const dir = freshDir();
    const url = `file://${dir}`;
    const child = await lockInChild(url, 'orders');
    children.push(child);
    const stacks = await stacksOf(url);
    const error = await rejection(stacks.lock('orders', { holder: holder('parent'), timeoutMs: 0 }));
    expect((error as StackLockedError).message).toContain(child.description);
    await child.kill();
    // The lease (30 s by default) has not run out: the dead pid alone makes the lock stale.
    const lock = await stacks.lock('orders', { holder: holder('parent'), timeoutMs: 0 });
    await lock.release();
  }, 40_000);
});
