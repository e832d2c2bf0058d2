/**
 * Stack records on Redis: the state document in `<keyprefix>_wakame.stack.<stack>`, the apply lock in
 * `<keyprefix>_wakame.lock.<stack>` (SET NX PX, renewed by its holder, lapsing when it stops).
 *
 * Redis database 10, and a key prefix of its own per test: nothing here is flushed, so other suites
 * (and concurrent runs) are left alone; the keys made here are deleted afterwards. What every
 * transport's store does alike (round trips, one holder at a time, waiting) is in the conformance suite.
 */
import { randomBytes } from 'node:crypto';
import { Connection } from '@wakame/core';
import type { StackStateStore } from '@wakame/core/spi';
import { brokerGate, REDIS_URL, redisUrl, waitFor } from '@wakame/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCrashedHolderLapses, holder, type LockingChild, openStacks } from '../file/stacks-holder.js';

const DB = 10;
const gate = await brokerGate('redis stack store', { name: 'redis', url: REDIS_URL });

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

  const stacksOf = (prefix: string, query = ''): Promise<StackStateStore> => openStacks(url(prefix, query), open);

  it("keeps the records under the key prefix, in Wakame's own key space", async () => {
    const prefix = fresh();
    const stacks = await stacksOf(prefix);
    const state = { version: 1, owned: [{ kind: 'queue', name: 'q1', arguments: {} }] };
    await stacks.write('orders', state);
    // Under the key prefix, in Wakame's own key space (kombu keeps its queues under bare names).
    expect(JSON.parse((await raw.get(`${prefix}_wakame.stack.orders`)) ?? 'null')).toEqual(state);
    // Another key prefix is another broker: it sees neither the document nor the lock.
    const elsewhere = await stacksOf(fresh());
    expect(await elsewhere.read('orders')).toBeUndefined();
    const lock = await stacks.lock('orders', { holder: holder('apply by alice'), timeoutMs: 0 });
    expect(await raw.exists(`${prefix}_wakame.lock.orders`)).toBe(1);
    await (await elsewhere.lock('orders', { holder: holder('apply elsewhere'), timeoutMs: 0 })).release();
    await lock.release();
    expect(await raw.exists(`${prefix}_wakame.lock.orders`)).toBe(0);
    await stacks.remove('orders');
    expect(await raw.exists(`${prefix}_wakame.stack.orders`)).toBe(0);
    const where = new URL(redisUrl(DB));
    expect(stacks.describe('orders')).toBe(
      `Redis key ${prefix}_wakame.stack.orders on redis://${where.hostname}:${where.port || 6379}/${DB}`,
    );
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
    // Nobody renews it any more: the 1 s lease runs out while the parent waits.
    await expectCrashedHolderLapses(url(prefix, '&lease=1000'), 'orders', await stacksOf(prefix), children, 15_000);
  }, 40_000);
});
