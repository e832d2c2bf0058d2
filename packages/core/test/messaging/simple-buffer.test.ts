import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import { SimpleBuffer, simpleBuffer } from '../../src/messaging/simple-buffer.js';
import { Queue } from '../../src/model/queue.js';

describe('SimpleBuffer (kombu)', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  const connect = async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    cleanup.push(() => connection.close());
    return connection;
  };

  it('declares a transient, auto-delete queue and exchange and publishes transient messages', async () => {
    const connection = await connect();
    const buffer = simpleBuffer(connection, 'scratch');
    cleanup.push(() => buffer.close());
    await buffer.put({ step: 1 });
    const live = await connection.admin.inspect();
    expect(live.queues.find((q) => q.name === 'scratch')).toMatchObject({ durable: false, autoDelete: true });
    expect(live.exchanges.find((e) => e.name === 'scratch')).toMatchObject({ durable: false, autoDelete: true });
    const message = await buffer.get({ timeout: 1_000 });
    expect(message.payload).toEqual({ step: 1 });
    expect(message.properties.deliveryMode).toBe(1);
    await message.ack();
  });

  it('keeps an explicit persistent put and a given Queue declaration as they are', async () => {
    const connection = await connect();
    const durable = new Queue('kept', { durable: true });
    const buffer = new SimpleBuffer(connection, durable);
    cleanup.push(() => buffer.close());
    await buffer.put({ step: 2 }, { persistent: true });
    expect((await connection.admin.inspect()).queues.find((q) => q.name === 'kept')).toMatchObject({ durable: true });
    const message = await buffer.get({ timeout: 1_000 });
    expect(message.properties.deliveryMode).toBe(2);
    await message.ack();
  });
});
