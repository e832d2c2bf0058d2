import { randomUUID } from 'node:crypto';
import { Connection, type LockHolder, StackLockedError } from '@wakame/core';
import type { StackLock, StackStateStore } from '@wakame/core/spi';
import { beforeAll, describe, expect } from 'vitest';
import { expectRejection, type Harness, must } from './harness.js';

/** What a stack-record test gets: its connections' stores and random stack names, removed after the test. */
interface StackContext {
  /** The store of the test's first connection. */
  readonly stacks: StackStateStore;
  /** The store of another connection to the same broker (as another process would have). */
  other(): Promise<StackStateStore>;
  /** A random stack name unless given (the broker may be shared); its document is removed after the test. */
  stack(name?: string): string;
}

function holder(description: string): LockHolder {
  return { id: randomUUID(), description, since: new Date().toISOString() };
}

/**
 * The stack records `wakame apply` keeps on the broker (`connection.admin.stacks`): state documents and the
 * apply lock. A transport without a stack store skips these. Crash expiry, lease renewal and the layout of the
 * records are each transport's own and tested with it.
 */
export function stacksSuite(h: Harness): void {
  describe('stack records', () => {
    let supported = false;
    beforeAll(async () => {
      const probe = await Connection.open(h.options.url(), h.options.connectionOptions);
      try {
        supported = probe.admin.stacks !== undefined;
      } finally {
        await probe.close();
      }
    });

    /** Registers a test that runs only where the transport keeps stack records. */
    function stackTest(name: string, fn: (t: StackContext) => Promise<void>): void {
      h.test(
        name,
        async () => {
          const stacks = must((await h.open()).admin.stacks, 'connection.admin.stacks');
          const names: string[] = [];
          const context: StackContext = {
            stacks,
            other: async () => must((await h.open()).admin.stacks, 'connection.admin.stacks'),
            stack: (stack = h.name('stack')) => {
              names.push(stack);
              return stack;
            },
          };
          try {
            await fn(context);
          } finally {
            for (const stack of names) await stacks.remove(stack).catch(() => undefined);
          }
        },
        { needs: () => supported, timeout: 30_000 },
      );
    }

    /** Asserts that `stacks` cannot take `stack`'s lock at once because `by` holds it. */
    async function expectLocked(stacks: StackStateStore, stack: string, by: LockHolder): Promise<StackLockedError> {
      const error = (await expectRejection(
        stacks.lock(stack, { holder: holder('conformance: the refused one'), timeoutMs: 0 }),
        StackLockedError,
        'ERR_LOCKED',
      )) as StackLockedError;
      expect(error.stackName).toBe(stack);
      // Every transport here names the holder; the SPI lets one that cannot tell say "another apply".
      if (error.holder === undefined) {
        expect(error.message).toContain('another apply');
      } else {
        expect(error.holder).toEqual(by);
        expect(error.message).toContain(by.description);
      }
      return error;
    }

    stackTest('reads no state for a stack that has none', async ({ stacks, stack }) => {
      expect(await stacks.read(stack())).toBeUndefined();
    });

    stackTest('round-trips a state document (nested JSON, unicode), seen by another connection', async (t) => {
      const stack = t.stack();
      const state = {
        version: 3,
        owned: [
          { kind: 'queue', name: 'orders.ünïcode-✓', arguments: { 'x-max-priority': 9, 'x-queue-type': 'classic' } },
          { kind: 'exchange', name: '注文', arguments: {} },
        ],
        nested: { deeper: { list: [1, -2.5, true, false, null, 'text'], empty: {}, none: [] } },
        note: 'émoji 🐙, quotes "\'" and a \\ backslash',
      };
      const written = structuredClone(state);
      await t.stacks.write(stack, written);
      // The store keeps what was written, not the caller's object.
      written.owned.length = 0;
      const read = must(await t.stacks.read(stack), 'the document');
      expect(read).toEqual(state);
      (read as { version: number }).version = 99;
      expect(await t.stacks.read(stack)).toEqual(state);
      expect(await (await t.other()).read(stack)).toEqual(state);
    });

    stackTest('a write replaces the whole document', async (t) => {
      const stack = t.stack();
      await t.stacks.write(stack, { version: 1, owned: [{ kind: 'queue', name: 'q1' }], extra: { keep: false } });
      await t.stacks.write(stack, { version: 2, owned: [] });
      expect(await t.stacks.read(stack)).toEqual({ version: 2, owned: [] });
      // An empty document is a document, not an absent one.
      await t.stacks.write(stack, {});
      expect(await t.stacks.read(stack)).toEqual({});
      expect(await (await t.other()).read(stack)).toEqual({});
    });

    stackTest('removes a document; removing a missing one is a no-op', async (t) => {
      const stack = t.stack();
      await t.stacks.remove(stack);
      await t.stacks.write(stack, { version: 1 });
      await t.stacks.remove(stack);
      expect(await t.stacks.read(stack)).toBeUndefined();
      expect(await (await t.other()).read(stack)).toBeUndefined();
      await t.stacks.remove(stack);
      await t.stacks.write(stack, { version: 2 });
      expect(await t.stacks.read(stack)).toEqual({ version: 2 });
    });

    stackTest('keeps the records of two stacks apart', async (t) => {
      const first = t.stack();
      // A name that extends the other: no prefix match, no shared key or file.
      const second = t.stack(`${first}.b`);
      await t.stacks.write(first, { stack: 'first' });
      expect(await t.stacks.read(second)).toBeUndefined();
      await t.stacks.write(second, { stack: 'second' });
      expect(await t.stacks.read(first)).toEqual({ stack: 'first' });
      await t.stacks.write(first, { stack: 'first', version: 2 });
      expect(await t.stacks.read(second)).toEqual({ stack: 'second' });
      await t.stacks.remove(second);
      expect(await t.stacks.read(first)).toEqual({ stack: 'first', version: 2 });
      await t.stacks.remove(first);
    });

    stackTest('lets one connection at a time hold a lock, naming the holder to the next', async (t) => {
      const stack = t.stack();
      const second = await t.other();
      const alice = holder('conformance apply by alice (pid 1)');
      const lock = await t.stacks.lock(stack, { holder: alice, timeoutMs: 0 });
      await expectLocked(second, stack, alice);
      await lock.release();
      const bob = holder('conformance apply by bob');
      const next = await second.lock(stack, { holder: bob, timeoutMs: 0 });
      await expectLocked(await t.other(), stack, bob);
      await next.release();
    });

    stackTest('grants a waiting lock once the holder releases', async (t) => {
      const stack = t.stack();
      const [second, third] = [await t.other(), await t.other()];
      const first = holder('conformance: first');
      const lock = await t.stacks.lock(stack, { holder: first, timeoutMs: 0 });
      let released = false;
      const waiting = second
        .lock(stack, { holder: holder('conformance: waiting'), timeoutMs: 20_000 })
        .then((granted) => ({ granted, afterRelease: released }));
      // Still held while the second one waits.
      await expectLocked(third, stack, first);
      released = true;
      await lock.release();
      const { granted, afterRelease } = await waiting;
      expect(afterRelease).toBe(true);
      await granted.release();
    });

    stackTest('refuses a lock still held once the wait allowed is over, or when the wait is aborted', async (t) => {
      const stack = t.stack();
      const second = await t.other();
      const lock = await t.stacks.lock(stack, { holder: holder('conformance: holder'), timeoutMs: 0 });
      const timedOut = (await expectRejection(
        second.lock(stack, { holder: holder('conformance: impatient'), timeoutMs: 150 }),
        StackLockedError,
        'ERR_LOCKED',
      )) as StackLockedError;
      expect(timedOut.waitedMs).toBeGreaterThanOrEqual(150);
      const abort = new AbortController();
      const reason = new Error('conformance: gave up');
      const abandoned = second.lock(stack, {
        holder: holder('conformance: abandoned'),
        timeoutMs: 20_000,
        signal: abort.signal,
      });
      abort.abort(reason);
      await expect(abandoned).rejects.toBe(reason);
      await lock.release();
      // The abandoned wait left nothing behind: the lock is free.
      await (await second.lock(stack, { holder: holder('conformance: after'), timeoutMs: 0 })).release();
    });

    stackTest('keeps the locks of two stacks apart', async (t) => {
      const first = t.stack();
      const second = t.stack(`${first}.b`);
      const other = await t.other();
      const a = holder('conformance: holds the first');
      const b = holder('conformance: holds the second');
      const locks: StackLock[] = [
        await t.stacks.lock(first, { holder: a, timeoutMs: 0 }),
        await other.lock(second, { holder: b, timeoutMs: 0 }),
      ];
      await expectLocked(other, first, a);
      await expectLocked(t.stacks, second, b);
      await must(locks[0]).release();
      // Releasing one leaves the other held.
      await expectLocked(t.stacks, second, b);
      locks.push(await other.lock(first, { holder: a, timeoutMs: 0 }));
      for (const lock of locks) await lock.release();
    });

    stackTest('release() twice is harmless, even once another holder has the lock', async (t) => {
      const stack = t.stack();
      const second = await t.other();
      const lock = await t.stacks.lock(stack, { holder: holder('conformance: first'), timeoutMs: 0 });
      await lock.release();
      await lock.release();
      const bob = holder('conformance: second');
      const next = await second.lock(stack, { holder: bob, timeoutMs: 0 });
      // A stale release must not free the new holder's lock.
      await lock.release();
      await expectLocked(await t.other(), stack, bob);
      await next.release();
      await next.release();
      await (await t.stacks.lock(stack, { holder: holder('conformance: third'), timeoutMs: 0 })).release();
    });

    stackTest("describes where a stack's records live without the URL's password", async (t) => {
      const stack = t.stack();
      const description = t.stacks.describe(stack);
      expect(description).toContain(stack);
      const password = decodeURIComponent(new URL(h.url).password);
      if (password !== '') expect(description).not.toContain(`:${password}@`);
      if (password.length >= 4) expect(description).not.toContain(password);
    });
  });
}
