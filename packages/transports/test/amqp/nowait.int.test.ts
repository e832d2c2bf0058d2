/**
 * The amqplib internals `nowait.ts` relies on, checked against the installed amqplib and a real
 * RabbitMQ: the method ids, `sendImmediately`, that a batch costs its barrier alone, and that a
 * channel closed by a failing method runs nothing sent after it.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { QueueSpec } from '@wakame/core/spi';
import { AMQP_URL, brokerGate } from '@wakame/testkit';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barrier, METHOD, sendNowait } from '../../src/amqp/nowait.js';

const gate = await brokerGate('amqp nowait', { name: 'rabbitmq', url: AMQP_URL });
const queue = (name: string, extra: Partial<QueueSpec> = {}): QueueSpec => ({
  name,
  durable: false,
  exclusive: false,
  autoDelete: true,
  arguments: {},
  ...extra,
});

describe('amqplib internals used by nowait.ts', () => {
  it('spells the method ids as amqplib defines them', () => {
    // The package exports no `defs`: load it by path, next to its entry point.
    const require = createRequire(import.meta.url);
    const defs = require(join(dirname(require.resolve('amqplib')), 'lib', 'defs.js')) as Record<string, number>;
    expect(METHOD).toEqual({
      ExchangeDeclare: defs.ExchangeDeclare,
      ExchangeBind: defs.ExchangeBind,
      QueueDeclare: defs.QueueDeclare,
      QueueBind: defs.QueueBind,
    });
  });
});

describe.skipIf(gate === 'skip')('nowait declares on RabbitMQ', () => {
  let conn: ChannelModel;
  const p = `nowait-${randomUUID()}`;
  beforeAll(async () => {
    conn = await amqp.connect(AMQP_URL);
    conn.on('error', () => {});
  });
  afterAll(async () => {
    const ch = await conn.createChannel();
    for (let i = 0; i < 3; i++) await ch.deleteQueue(`${p}.${i}`);
    await conn.close();
  });

  it('declares with no reply each, the barrier resolving once all are done', async () => {
    const ch = await conn.createChannel();
    sendNowait(
      ch,
      [0, 1].map((i) => ({ method: 'queue.declare', spec: queue(`${p}.${i}`, { messageTtl: 100 }), passive: false })),
    );
    await barrier(ch);
    await expect(ch.checkQueue(`${p}.1`)).resolves.toMatchObject({ queue: `${p}.1` });
    await ch.close();
  });

  it('runs nothing after a failing method: the active declare behind a missing queue creates nothing', async () => {
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    const missing = queue(`${p}.2`);
    sendNowait(ch, [
      { method: 'queue.declare', spec: queue(`${p}.0`, { messageTtl: 100 }), passive: true },
      { method: 'queue.declare', spec: missing, passive: true },
      { method: 'queue.declare', spec: missing, passive: false },
    ]);
    await expect(barrier(ch)).rejects.toThrow(new RegExp(`no queue '${p}\\.2'`));
    const check = await conn.createChannel();
    check.on('error', () => {});
    await expect(check.checkQueue(`${p}.2`)).rejects.toThrow(/404/);
  });

  it('refuses to write on a channel with an RPC in flight', async () => {
    const ch = await conn.createChannel();
    const pending = ch.checkQueue(`${p}.0`);
    expect(() => sendNowait(ch, [{ method: 'queue.declare', spec: queue(`${p}.0`), passive: true }])).toThrow(/idle/);
    await pending;
    await ch.close();
  });
});
