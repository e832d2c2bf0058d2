/**
 * Stack records on Redis: the state document in `<keyprefix>_wakame.stack.<stack>`, the apply lock in
 * `<keyprefix>_wakame.lock.<stack>` (SET NX PX, renewed by its holder, lapsing when it stops).
 *
 * Redis database 10, and a key prefix of its own per test: nothing here is flushed, so other suites
 * (and concurrent runs) are left alone; the keys made here are deleted afterwards.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Connection, type LockHolder, StackLockedError } from '@wakame/core';
import type { StackStateStore } from '@wakame/core/spi';
import { brokerGate, REDIS_URL, redisUrl, waitFor } from '@wakame/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LockingChild, lockInChild } from '../file/stacks-holder.js';

const DB = 10;
const gate = await brokerGate('redis stack store', { name: 'redis', url: REDIS_URL });

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

describe.skipIf(gate === 'skip')('redis stack store', () => {
  let raw: Redis;
  const prefixes: string[] = [];
  const open: Connection[] = [];
  const children: LockingChild[] = [];

  beforeAll(() => {
    raw = new Redis(redisUrl(DB));
  });
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill();
    for (const c of open.splice(0)) await c.close();
  });
  afterAll(async () => {
    for (const prefix of prefixes) {
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
    }
    raw.disconnect();
  });

  function fresh(): string {
    const prefix = `stk${randomBytes(4).toString('hex')}:`;
    prefixes.push(prefix);
    return prefix;
  }

  function url(prefix: string, query = ''): string {
    return redisUrl(DB, `keyprefix=${prefix}${query}`);
  }

  async function stacksOf(prefix: string, query = ''): Promise<StackStateStore> {
    const connection = await Connection.open(url(prefix, query));
    open.push(connection);
    const stacks = connection.admin.stacks;
    if (!stacks) throw new Error('the redis transport has no stack store');
    return stacks;
  }

  it('reads nothing for an unknown stack, round-trips a state document and removes it', async () => {
    const prefix = fresh();
    const stacks = await stacksOf(prefix);
    expect(await stacks.read('orders')).toBeUndefined();
    const state = { version: 1, owned: [{ kind: 'queue', name: 'q1', arguments: {} }], empty: {}, note: 'ünïcode' };
    await stacks.write('orders', state);
    expect(await stacks.read('orders')).toEqual(state);
    // Under the key prefix, in Wakame's own key space (kombu keeps its queues under bare names).
    expect(JSON.parse((await raw.get(`${prefix}_wakame.stack.orders`)) ?? 'null')).toEqual(state);
    expect(await (await stacksOf(prefix)).read('orders')).toEqual(state);
    expect(await (await stacksOf(fresh())).read('orders')).toBeUndefined();
    await stacks.remove('orders');
    expect(await stacks.read('orders')).toBeUndefined();
    await stacks.remove('orders');
    const where = new URL(redisUrl(DB));
    expect(stacks.describe('orders')).toBe(
      `Redis key ${prefix}_wakame.stack.orders on redis://${where.hostname}:${where.port || 6379}/${DB}`,
    );
  });

  it('lets one holder at a time have the lock, naming the holder to the other', async () => {
    const prefix = fresh();
    const first = await stacksOf(prefix);
    const second = await stacksOf(prefix);
    const lock = await first.lock('orders', { holder: holder('apply by alice (pid 1)'), timeoutMs: 0 });
    expect(await raw.exists(`${prefix}_wakame.lock.orders`)).toBe(1);
    const error = await rejection(second.lock('orders', { holder: holder('apply by bob'), timeoutMs: 0 }));
    expect(error).toBeInstanceOf(StackLockedError);
    expect((error as StackLockedError).message).toContain('apply by alice (pid 1)');
    await lock.release();
    await lock.release();
    expect(await raw.exists(`${prefix}_wakame.lock.orders`)).toBe(0);
    const next = await second.lock('orders', { holder: holder('apply by bob'), timeoutMs: 0 });
    await next.release();
  });

  it('a waiting lock is granted once the holder releases', async () => {
    const prefix = fresh();
    const [first, second, third] = [await stacksOf(prefix), await stacksOf(prefix), await stacksOf(prefix)];
    const lock = await first.lock('orders', { holder: holder('first'), timeoutMs: 0 });
    let released = false;
    const waiting = second
      .lock('orders', { holder: holder('second'), timeoutMs: 20_000 })
      .then((granted) => ({ granted, afterRelease: released }));
    await expect(third.lock('orders', { holder: holder('third'), timeoutMs: 0 })).rejects.toBeInstanceOf(
      StackLockedError,
    );
    released = true;
    await lock.release();
    const { granted, afterRelease } = await waiting;
    expect(afterRelease).toBe(true);
    await granted.release();
  });

  it('renews the lease while held; release leaves alone a lock that is no longer its own', async () => {
    const prefix = fresh();
    const stacks = await stacksOf(prefix, '&lease=1000');
    const key = `${prefix}_wakame.lock.orders`;
    const lock = await stacks.lock('orders', { holder: holder('renewing'), timeoutMs: 0 });
    // Between renewals the time to live only falls: a rise between two readings is a renewal.
    let last = Number.POSITIVE_INFINITY;
    await waitFor(
      async () => {
        const ttl = await raw.pttl(key);
        const rose = ttl > last;
        last = ttl;
        return rose;
      },
      { timeoutMs: 10_000, what: 'the lease to be renewed' },
    );
    const theirs = JSON.stringify({ holder: holder('someone else'), token: 'theirs' });
    await raw.set(key, theirs, 'PX', 60_000);
    await lock.release();
    expect(await raw.get(key)).toBe(theirs);
  });

  it('closing the connection releases its locks', async () => {
    const prefix = fresh();
    const connection = await Connection.open(url(prefix));
    await connection.admin.stacks?.lock('orders', { holder: holder('closing'), timeoutMs: 0 });
    await connection.close();
    const other = await stacksOf(prefix);
    await (await other.lock('orders', { holder: holder('after close'), timeoutMs: 0 })).release();
  });

  it('a lock held by a process killed with SIGKILL lapses with its lease', async () => {
    const prefix = fresh();
    const child = await lockInChild(url(prefix, '&lease=1000'), 'orders');
    children.push(child);
    const stacks = await stacksOf(prefix);
    const error = await rejection(stacks.lock('orders', { holder: holder('parent'), timeoutMs: 0 }));
    expect((error as StackLockedError).message).toContain(child.description);
    await child.kill();
    // Nobody renews it any more: the 1 s lease runs out while this waits.
    const lock = await stacks.lock('orders', { holder: holder('parent'), timeoutMs: 15_000 });
    await lock.release();
  }, 40_000);
});
