/**
 * Stack records on RabbitMQ: the state document as the global parameter
 * `wakame.stack.<vhost>.<stack>` (management API), the apply lock as the exclusive queue
 * `wakame.lock.<stack>` (gone with its connection).
 *
 * A vhost of its own, with `.` and `/` in its name (both must be encoded in the parameter name);
 * the vhost and the global parameters made here are deleted afterwards. What every transport's store
 * does alike (round trips, one holder at a time, waiting) is in the conformance suite.
 */
import { randomUUID } from 'node:crypto';
import { AccessRefusedError, type Connection, ConnectionError, type StackLockedError } from '@wakame/core';
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
import { expectCrashedHolderLapses, holder, type LockingChild, openStacks, rejection } from '../file/stacks-holder.js';

const gate = await brokerGate('amqp stack store', { name: 'rabbitmq', url: AMQP_URL });
const managementGate = await brokerGate('amqp stack store (management)', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const id = randomUUID();
const vhost = `wakame.stacks/${id}`;
/** The vhost as it appears in parameter names: percent-encoded, dots included. */
const encodedVhost = `wakame%2Estacks%2F${id}`;

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

  const stacksOf = (transportOptions: { managementUrl?: string } = {}): Promise<StackStateStore> =>
    openStacks(url, open, { transportOptions });

  it('keeps the state document as a global parameter named after the encoded vhost and the stack', async () => {
    const name = stack();
    const stacks = await stacksOf();
    const state = { version: 1, owned: [{ kind: 'queue', name: 'q1', arguments: {} }], empty: {} };
    await stacks.write(name, state);
    const parameter = `wakame.stack.${encodedVhost}.${name}`;
    expect(await management('GET', `global-parameters/${encodeURIComponent(parameter)}`)).toMatchObject({
      name: parameter,
      value: { vhost, stack: name, state },
    });
    expect(stacks.describe(name)).toBe(
      `RabbitMQ global parameter ${parameter} (management API at ${MANAGEMENT_ENDPOINT})`,
    );
    await stacks.remove(name);
    const left = (await management<{ name: string }[]>('GET', 'global-parameters')) ?? [];
    expect(left.map((p) => p.name)).not.toContain(parameter);
  });

  it('refuses a held lock to its own connection too, which can take it again once released', async () => {
    const name = stack();
    const stacks = await stacksOf();
    const lock = await stacks.lock(name, { holder: holder('apply by alice (pid 1)'), timeoutMs: 0 });
    // RabbitMQ would let the owning connection declare its exclusive queue again: the store refuses it.
    const again = await rejection(stacks.lock(name, { holder: holder('apply by alice again'), timeoutMs: 0 }));
    expect((again as StackLockedError).holder?.description).toBe('apply by alice (pid 1)');
    await lock.release();
    await (await stacks.lock(name, { holder: holder('alice, later'), timeoutMs: 0 })).release();
  });

  it('a lock held by a process killed with SIGKILL goes with its connection', async () => {
    // The broker drops the exclusive queue once it sees the dead connection's socket close.
    await expectCrashedHolderLapses(url, stack(), await stacksOf(), children, 15_000);
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
