import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueEmptyError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import type { Message } from '../../src/messaging/message.js';
import { SimpleQueue, type SimpleQueueOptions, simpleQueue } from '../../src/messaging/simple-queue.js';
import { Exchange } from '../../src/model/exchange.js';
import { Queue } from '../../src/model/queue.js';

const memoryUrl = () => `memory://${randomUUID()}`;

describe('SimpleQueue', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  const connect = async (url = memoryUrl()) => {
    const connection = await Connection.open(url);
    cleanup.push(() => connection.close());
    return connection;
  };
  // Strings travel as text/plain, which the default accept list (json only) refuses to decode.
  const open = (connection: Connection, name: string | Queue = 'jobs', options: SimpleQueueOptions = {}) => {
    const queue = new SimpleQueue(connection, name, { accept: ['json', 'text'], ...options });
    cleanup.push(() => queue.close());
    return queue;
  };

  it('round-trips a body with its headers and content type (json and utf-8 text)', async () => {
    const q = open(await connect());
    await q.put({ id: 1, name: 'wakame' }, { headers: { 'x-trace': 'abc' } });
    await q.put('héllo', { serializer: 'text' });
    const json = await q.get({ timeout: 1_000 });
    expect(json.payload).toEqual({ id: 1, name: 'wakame' });
    expect(json.headers).toMatchObject({ 'x-trace': 'abc' });
    expect(json.contentType).toBe('application/json');
    expect(json.contentEncoding).toBe('utf-8');
    expect(json.routingKey).toBe('jobs');
    expect(json.exchange).toBe('jobs');
    await json.ack();
    const text = await q.get({ timeout: 1_000 });
    expect(text.contentType).toBe('text/plain');
    expect(text.body.toString('utf8')).toBe('héllo');
    await text.ack();
  });

  it('declares a direct exchange, queue and routing key named after a string name (kombu)', async () => {
    const connection = await connect();
    const q = open(connection, 'named');
    await q.put(1);
    const topology = await connection.admin.inspect();
    expect(topology.exchanges.find((e) => e.name === 'named')?.type).toBe('direct');
    expect(topology.bindings).toContainEqual(
      expect.objectContaining({ source: 'named', destination: 'named', routingKey: 'named' }),
    );
  });

  it('uses a given Queue as it is, publishing through its first binding', async () => {
    const connection = await connect();
    const queue = new Queue('media.video', {
      exchange: new Exchange('media', { type: 'topic' }),
      routingKey: 'video.#',
    });
    const q = simpleQueue(connection, queue);
    cleanup.push(() => q.close());
    await q.put({ n: 1 });
    const m = await q.get({ timeout: 1_000 });
    expect(m.exchange).toBe('media');
    expect(m.routingKey).toBe('video.#');
    await m.ack();
  });

  it('refuses a server-named queue', async () => {
    expect(() => new SimpleQueue(new Connection(memoryUrl()), new Queue(''))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });

  it('is FIFO', async () => {
    const q = open(await connect());
    for (let i = 0; i < 20; i++) await q.put(i);
    const got: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      const m = await q.get({ timeout: 1_000 });
      got.push(m.payload);
      await m.ack();
    }
    expect(got).toEqual([...Array(20).keys()]);
  });

  it('get rejects with QueueEmptyError within its timeout bounds', async () => {
    const q = open(await connect());
    const started = performance.now();
    const error = await q.get({ timeout: 150 }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(QueueEmptyError);
    expect(error).toMatchObject({ code: 'ERR_QUEUE_EMPTY', queue: 'jobs', message: expect.stringContaining('150 ms') });
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('waits for a message published during the get', async () => {
    const connection = await connect();
    const q = open(connection);
    const pending = q.get({ timeout: 2_000 });
    setTimeout(() => void q.put('late'), 50);
    const m = await pending;
    expect(m.payload).toBe('late');
    await m.ack();
  });

  it('keeps a message that arrives after a get gave up for the next get (never dropped or acked)', async () => {
    const q = open(await connect());
    await expect(q.get({ timeout: 30 })).rejects.toBeInstanceOf(QueueEmptyError);
    // The consumer now runs with nobody waiting: the delivery must be buffered, not lost.
    await q.put('kept');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await q.size()).toBe(1);
    const m = await q.getNowait();
    expect(m.payload).toBe('kept');
    expect(m.settled).toBe(false);
    await m.ack();
  });

  it('rejects with the abort reason when the signal aborts', async () => {
    const q = open(await connect());
    const controller = new AbortController();
    const pending = q.get({ timeout: 5_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop waiting')), 20);
    await expect(pending).rejects.toThrow('stop waiting');
    await expect(q.get({ signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
  });

  it('getNowait and get({ timeout: 0 }) reject at once when empty', async () => {
    const q = open(await connect());
    await expect(q.getNowait()).rejects.toMatchObject({ code: 'ERR_QUEUE_EMPTY' });
    await expect(q.get({ timeout: 0 })).rejects.toMatchObject({ code: 'ERR_QUEUE_EMPTY' });
    await q.put('x');
    const m = await q.getNowait();
    expect(m.payload).toBe('x');
    await m.ack();
  });

  it('refuses an unbounded or negative timeout', async () => {
    const q = open(await connect());
    await expect(q.get({ timeout: Number.POSITIVE_INFINITY })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(q.get({ timeout: -1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('size counts waiting messages and clear removes them', async () => {
    const q = open(await connect());
    expect(await q.size()).toBe(0);
    for (let i = 0; i < 5; i++) await q.put(i);
    expect(await q.size()).toBe(5);
    const first = await q.get({ timeout: 1_000 }); // prefetches one more into the buffer
    await first.ack();
    expect(await q.size()).toBe(4);
    expect(await q.clear()).toBe(4);
    expect(await q.size()).toBe(0);
    await expect(q.getNowait()).rejects.toBeInstanceOf(QueueEmptyError);
  });

  it('serves higher priorities first when the queue has maxPriority', async () => {
    const q = open(await connect(), 'prio', { queue: { maxPriority: 10 } });
    await q.put('low', { priority: 1 });
    await q.put('high', { priority: 9 });
    await q.put('mid', { priority: 5 });
    const order: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await q.get({ timeout: 1_000 });
      order.push(m.payload);
      await m.ack();
    }
    expect(order).toEqual(['high', 'mid', 'low']);
  });

  it('redelivers a requeued message', async () => {
    const q = open(await connect());
    await q.put('again');
    const first = await q.get({ timeout: 1_000 });
    expect(first.redelivered).toBe(false);
    await first.requeue();
    const second = await q.get({ timeout: 1_000 });
    expect(second.payload).toBe('again');
    expect(second.redelivered).toBe(true);
    await second.ack();
  });

  it('does not starve when the caller holds more unsettled messages than the prefetch', async () => {
    const q = open(await connect());
    for (let i = 0; i < 4; i++) await q.put(i);
    const held: Message[] = [];
    for (let i = 0; i < 4; i++) held.push(await q.get({ timeout: 1_000 }));
    expect(held.map((m) => m.payload)).toEqual([0, 1, 2, 3]);
    for (const m of held) await m.ack();
    expect(await q.size()).toBe(0);
  });

  it('close returns unsettled messages (handed out, fetched or buffered) to the queue', async () => {
    const connection = await connect();
    const q = new SimpleQueue(connection, 'jobs', { prefetch: 2, accept: ['json', 'text'] });
    for (let i = 0; i < 4; i++) await q.put(i);
    const a = await q.get({ timeout: 1_000 }); // pushed by the consumer (which also buffers 1)
    const b = await q.get({ timeout: 1_000 }); // from the buffer: the window (2) is now full
    const c = await q.get({ timeout: 1_000 }); // window full: fetched with basic.get
    expect([a.payload, b.payload, c.payload]).toEqual([0, 1, 2]);
    await a.ack(); // frees a slot: 3 is pushed into the buffer
    await new Promise((resolve) => setTimeout(resolve, 20));
    await q.close();
    await expect(q.get()).rejects.toMatchObject({ code: 'ERR_INVALID_OPERATION' });
    await expect(b.ack()).rejects.toMatchObject({ code: 'ERR_MESSAGE_STATE' });
    const again = open(connection);
    expect(await again.size()).toBe(3);
    const back: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await again.get({ timeout: 1_000 });
      expect(m.redelivered).toBe(true);
      back.push(m.payload);
      await m.ack();
    }
    expect(back.sort()).toEqual([1, 2, 3]);
  });

  it('close rejects a waiting get', async () => {
    const q = new SimpleQueue(await connect(), 'jobs');
    const pending = q.get({ timeout: 5_000 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await q.close();
    expect(await pending).toMatchObject({ code: 'ERR_INVALID_OPERATION' });
  });

  it('closing the connection closes the SimpleQueue', async () => {
    const connection = await Connection.open(memoryUrl());
    const q = new SimpleQueue(connection, 'jobs');
    const pending = q.get({ timeout: 5_000 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await connection.close();
    expect(await pending).toMatchObject({ code: 'ERR_INVALID_OPERATION' });
    expect(q.isClosed).toBe(true);
  });

  it('noAck hands out settled messages and never buffers any', async () => {
    const q = open(await connect(), 'jobs', { noAck: true });
    const pending = q.get({ timeout: 2_000 });
    setTimeout(() => void q.put('a'), 30);
    const m = await pending;
    expect(m.payload).toBe('a');
    expect(m.settled).toBe(true);
    await q.put('b');
    expect(await q.size()).toBe(1);
    expect((await q.get({ timeout: 1_000 })).payload).toBe('b');
    expect(await q.size()).toBe(0);
  });

  it('two SimpleQueues on one queue compete without duplicates or losses', async () => {
    const url = memoryUrl();
    const producer = open(await connect(url));
    const a = open(await connect(url));
    const b = open(await connect(url));
    const total = 40;
    for (let i = 0; i < total; i++) await producer.put(i);
    const seen: number[] = [];
    const perWorker = new Map<SimpleQueue, number>();
    const deadline = performance.now() + 5_000;
    const work = async (q: SimpleQueue) => {
      while (seen.length < total && performance.now() < deadline) {
        try {
          const m = await q.get({ timeout: 50 });
          seen.push(m.payload as number);
          perWorker.set(q, (perWorker.get(q) ?? 0) + 1);
          await m.ack();
          await new Promise((resolve) => setImmediate(resolve)); // let the other worker in
        } catch (error) {
          if (!(error instanceof QueueEmptyError)) throw error;
        }
      }
    };
    await Promise.all([work(a), work(b)]);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(perWorker.get(a)).toBeGreaterThan(0);
    expect(perWorker.get(b)).toBeGreaterThan(0);
  });

  it('put rejects after close', async () => {
    const q = new SimpleQueue(await connect(), 'jobs');
    await q.close();
    await expect(q.put(1)).rejects.toMatchObject({ code: 'ERR_INVALID_OPERATION' });
    await q.close(); // idempotent
  });
});
