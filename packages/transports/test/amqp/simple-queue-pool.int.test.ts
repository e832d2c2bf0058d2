import { Connection, ConnectionPool, ProducerPool, Queue, SimpleQueue } from '@wakame/core';
import { AMQP_URL, brokerGate, randomName, waitFor, within } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const gate = await brokerGate('amqp SimpleQueue and pools', { name: 'rabbitmq', url: AMQP_URL });

describe.skipIf(gate === 'skip')('amqp SimpleQueue and pools', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });
  /** A transient queue, deleted after the test. */
  const tempQueue = (admin: Connection) => {
    const queue = new Queue(randomName('simple'), { durable: false });
    cleanup.push(() => admin.admin.deleteQueue(queue.name));
    return queue;
  };

  it('a pool replaces a connection broken on purpose, and a confirmed publish does not block (kombu)', async () => {
    const admin = await Connection.open(AMQP_URL);
    cleanup.push(() => admin.close());
    const queue = tempQueue(admin);
    await admin.declare(queue);
    const pool = new ConnectionPool(AMQP_URL, { limit: 1, acquireTimeout: 5_000 });
    cleanup.push(() => pool.close());

    const broken = await pool.acquire();
    await broken.resource.connect();
    expect(broken.resource.capabilities.confirms).toBe(true);
    await broken.resource.close();
    broken.release();

    const lease = await pool.acquire();
    expect(lease.resource).not.toBe(broken.resource);
    expect(lease.resource.isClosed).toBe(false);
    await within(
      10_000,
      'a confirmed publish',
      lease.resource.producer().publish({ n: 1 }, { routingKey: queue.name }),
    );
    lease.release();
    expect(await queue.attach(admin).messageCount()).toBe(1);
  });

  it('a pooled connection whose transport died underneath reconnects and publishes', async () => {
    const admin = await Connection.open(AMQP_URL);
    cleanup.push(() => admin.close());
    const queue = tempQueue(admin);
    await admin.declare(queue);
    const pool = new ConnectionPool(AMQP_URL, { limit: 1 });
    cleanup.push(() => pool.close());
    await pool.use(async (c) => {
      await c.connect();
      await c.transport.close(); // the socket goes, the Connection object stays
    });
    await within(
      10_000,
      'a publish after the transport died',
      pool.use((c) => c.producer().publish('x', { routingKey: queue.name })),
    );
    expect(await queue.attach(admin).messageCount()).toBe(1);
  });

  it('a ProducerPool of 2 connections publishes 1000 messages concurrently', async () => {
    const admin = await Connection.open(AMQP_URL);
    cleanup.push(() => admin.close());
    const queue = tempQueue(admin);
    await admin.declare(queue);
    const producers = new ProducerPool(AMQP_URL, { limit: 2, producer: { routingKey: queue.name } });
    cleanup.push(() => producers.close());
    let peak = 0;
    await within(
      20_000,
      '1000 pooled publishes',
      Promise.all(
        Array.from({ length: 1_000 }, async (_, i) => {
          await producers.publish({ i });
          peak = Math.max(peak, producers.size);
        }),
      ),
    );
    expect(peak).toBeLessThanOrEqual(2);
    expect(await queue.attach(admin).messageCount()).toBe(1_000);
  });

  it('SimpleQueue round-trips, waits, times out, and returns unsettled messages on close', async () => {
    const connection = await Connection.open(AMQP_URL);
    cleanup.push(() => connection.close());
    const queue = tempQueue(connection);
    const q = new SimpleQueue(connection, queue, { accept: ['json', 'text'] });
    cleanup.push(() => q.close());

    await q.put({ hello: 'rabbit' }, { headers: { 'x-n': 1 } });
    const first = await q.get({ timeout: 5_000 });
    expect(first.payload).toEqual({ hello: 'rabbit' });
    expect(first.headers).toMatchObject({ 'x-n': 1 });
    expect(first.contentType).toBe('application/json');
    await first.ack();

    await expect(q.get({ timeout: 200 })).rejects.toMatchObject({ code: 'ERR_QUEUE_EMPTY' });
    const waiting = q.get({ timeout: 5_000 });
    await q.put('late');
    expect((await waiting).payload).toBe('late');
    await q.put('held'); // 'late' is unsettled: 'held' comes through basic.get

    const held = await q.get({ timeout: 5_000 });
    expect(held.payload).toBe('held');
    await q.close();

    const again = new SimpleQueue(connection, queue, { accept: ['json', 'text'] });
    cleanup.push(() => again.close());
    // Requeues are asynchronous on the broker: wait until both are ready again.
    await waitFor(async () => (await again.size()) === 2, { timeoutMs: 5_000, what: 'two requeued messages' });
    const back = [await again.get({ timeout: 5_000 }), await again.get({ timeout: 5_000 })];
    expect(back.map((m) => m.payload).sort()).toEqual(['held', 'late']);
    expect(back.every((m) => m.redelivered)).toBe(true);
    for (const m of back) await m.ack();
    await expect(again.getNowait()).rejects.toMatchObject({ code: 'ERR_QUEUE_EMPTY' });
  });
});
