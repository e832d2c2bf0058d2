/**
 * Stack records on RabbitMQ: the state document as the global parameter
 * `wakame.stack.<vhost>.<stack>` (management API), the apply lock as the exclusive queue
 * `wakame.lock.<stack>` (gone with its connection).
 *
 * A vhost of its own, with `.` and `/` in its name (both must be encoded in the parameter name);
 * the vhost and the global parameters made here are deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import { AccessRefusedError, Connection, ConnectionError, type LockHolder, StackLockedError } from '@wakame/core';
import type { StackStateStore } from '@wakame/core/spi';
import {
  AMQP_URL,
  brokerGate,
  createVhost,
  deleteVhost,
  MANAGEMENT_ENDPOINT,
  management,
  RABBITMQ_MANAGEMENT_URL,
} from '@wakame/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LockingChild, lockInChild } from '../file/stacks-holder.js';

const gate = await brokerGate('amqp stack store', { name: 'rabbitmq', url: AMQP_URL });
const managementGate = await brokerGate('amqp stack store (management)', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const id = randomUUID();
const vhost = `wakame.stacks/${id}`;
/** The vhost as it appears in parameter names: percent-encoded, dots included. */
const encodedVhost = `wakame%2Estacks%2F${id}`;

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

describe.skipIf(gate === 'skip' || managementGate === 'skip')('amqp stack store', () => {
  let url = '';
  const open: Connection[] = [];
  const children: LockingChild[] = [];
  const stackNames = new Set<string>();

  beforeAll(async () => {
    url = await createVhost(vhost);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill();
    for (const c of open.splice(0)) await c.close();
  });
  afterAll(async () => {
    // Global parameters are not part of the vhost: they outlive it unless deleted.
    for (const stack of stackNames) {
      await management('DELETE', `global-parameters/${encodeURIComponent(`wakame.stack.${encodedVhost}.${stack}`)}`);
    }
    await deleteVhost(vhost);
  });

  function stack(): string {
    const name = `orders-${randomUUID().slice(0, 8)}`;
    stackNames.add(name);
    return name;
  }

  async function stacksOf(options: { managementUrl?: string } = {}): Promise<StackStateStore> {
    const connection = await Connection.open(url, { transportOptions: options });
    open.push(connection);
    const stacks = connection.admin.stacks;
    if (!stacks) throw new Error('the amqp transport has no stack store');
    return stacks;
  }

  it('reads nothing for an unknown stack, round-trips a state document and removes it', async () => {
    const name = stack();
    const stacks = await stacksOf();
    expect(await stacks.read(name)).toBeUndefined();
    const state = { version: 1, owned: [{ kind: 'queue', name: 'q1', arguments: {} }], empty: {}, note: 'ünïcode' };
    await stacks.write(name, state);
    expect(await stacks.read(name)).toEqual(state);
    // An empty document survives too (RabbitMQ turns an empty top-level object into a list).
    await stacks.write(name, {});
    expect(await stacks.read(name)).toEqual({});
    await stacks.write(name, state);
    const parameter = `wakame.stack.${encodedVhost}.${name}`;
    expect(await management('GET', `global-parameters/${encodeURIComponent(parameter)}`)).toMatchObject({
      name: parameter,
      value: { vhost, stack: name, state },
    });
    expect(await (await stacksOf()).read(name)).toEqual(state);
    await stacks.remove(name);
    expect(await stacks.read(name)).toBeUndefined();
    await stacks.remove(name);
    expect(stacks.describe(name)).toBe(
      `RabbitMQ global parameter ${parameter} (management API at ${MANAGEMENT_ENDPOINT})`,
    );
  });

  it('lets one connection at a time have the lock, naming the holder to the other', async () => {
    const name = stack();
    const first = await stacksOf();
    const second = await stacksOf();
    const lock = await first.lock(name, { holder: holder('apply by alice (pid 1)'), timeoutMs: 0 });
    const error = await rejection(second.lock(name, { holder: holder('apply by bob'), timeoutMs: 0 }));
    expect(error).toBeInstanceOf(StackLockedError);
    expect((error as StackLockedError).message).toContain('apply by alice (pid 1)');
    // The same connection is refused too (RabbitMQ would let it declare its own queue again).
    const again = await rejection(first.lock(name, { holder: holder('apply by alice again'), timeoutMs: 0 }));
    expect((again as StackLockedError).holder?.description).toBe('apply by alice (pid 1)');
    await lock.release();
    await lock.release();
    const next = await second.lock(name, { holder: holder('apply by bob'), timeoutMs: 0 });
    await next.release();
    // Released for good: the first connection can take it again.
    await (await first.lock(name, { holder: holder('alice, later'), timeoutMs: 0 })).release();
  });

  it('a waiting lock is granted once the holder releases', async () => {
    const name = stack();
    const [first, second, third] = [await stacksOf(), await stacksOf(), await stacksOf()];
    const lock = await first.lock(name, { holder: holder('first'), timeoutMs: 0 });
    let released = false;
    const waiting = second
      .lock(name, { holder: holder('second'), timeoutMs: 20_000 })
      .then((granted) => ({ granted, afterRelease: released }));
    await expect(third.lock(name, { holder: holder('third'), timeoutMs: 0 })).rejects.toBeInstanceOf(StackLockedError);
    released = true;
    await lock.release();
    const { granted, afterRelease } = await waiting;
    expect(afterRelease).toBe(true);
    await granted.release();
  });

  it('a lock held by a process killed with SIGKILL goes with its connection', async () => {
    const name = stack();
    const child = await lockInChild(url, name);
    children.push(child);
    const stacks = await stacksOf();
    const error = await rejection(stacks.lock(name, { holder: holder('parent'), timeoutMs: 0 }));
    expect((error as StackLockedError).message).toContain(child.description);
    await child.kill();
    // The broker drops the exclusive queue once it sees the dead connection's socket close.
    const lock = await stacks.lock(name, { holder: holder('parent'), timeoutMs: 15_000 });
    await lock.release();
  }, 40_000);

  it('says where the management API was looked for when it cannot be reached, without the password', async () => {
    const stacks = await stacksOf({ managementUrl: 'http://someone:s3cret-pw@127.0.0.1:1' });
    const error = await rejection(stacks.read(stack()));
    expect(error).toBeInstanceOf(ConnectionError);
    const message = (error as Error).message;
    expect(message).toContain('http://127.0.0.1:1');
    expect(message).toContain('--management-url');
    expect(message).not.toContain('s3cret-pw');
    expect(stacks.describe('orders')).not.toContain('s3cret-pw');
  });

  it('refused credentials are an AccessRefusedError naming the API, without the password', async () => {
    const wrong = new URL(MANAGEMENT_ENDPOINT);
    wrong.username = 'guest';
    wrong.password = 'wrong-s3cret';
    const stacks = await stacksOf({ managementUrl: wrong.href });
    const error = await rejection(stacks.write(stack(), { version: 1 }));
    expect(error).toBeInstanceOf(AccessRefusedError);
    const message = (error as Error).message;
    expect(message).toContain(MANAGEMENT_ENDPOINT);
    expect(message).toContain('--management-url');
    expect(message).not.toContain('wrong-s3cret');
  });
});
