import { randomUUID } from 'node:crypto';
import { Latch } from '@wakame/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionClosedError, TimeoutError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import type { Message } from '../../src/messaging/message.js';
import { Queue } from '../../src/model/queue.js';

const memoryUrl = () => `memory://${randomUUID()}`;

async function setup(handler?: (m: Message) => Promise<void>) {
  const connection = await Connection.open(memoryUrl());
  const queue = new Queue(`drain-${randomUUID()}`);
  const consumer = connection.consumer({ queues: [queue], ...(handler && { handler }) });
  const producer = connection.producer();
  const publish = (payload: unknown) => producer.publish(payload, { routingKey: queue.name, declare: [queue] });
  return { connection, consumer, publish };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Connection.drainEvents (kombu drain_events)', () => {
  it('resolves once a handler consumer of the connection has handled a delivery', async () => {
    const seen: unknown[] = [];
    const { connection, consumer, publish } = await setup(async (m) => {
      seen.push(m.payload);
      await m.ack();
    });
    await consumer.consume();
    const drained = connection.drainEvents({ timeout: 5 });
    await publish({ n: 1 });
    expect(await drained).toBeGreaterThanOrEqual(1);
    // Resolved after the handler, not merely after the delivery.
    expect(seen).toEqual([{ n: 1 }]);
    await connection.close();
  });

  it('runs a ported kombu loop until every message is handled, the loop bounded', async () => {
    const seen: number[] = [];
    const { connection, consumer, publish } = await setup(async (m) => {
      seen.push((m.payload as { n: number }).n);
      await m.ack();
    });
    await consumer.consume();
    for (let n = 0; n < 5; n++) await publish({ n });
    let handled = 0;
    // while True: connection.drain_events(timeout=1)
    for (let round = 0; round < 10 && handled < 5; round++) {
      handled += await connection.drainEvents({ timeout: 1 }).catch((error: unknown) => {
        if (error instanceof TimeoutError) return 0;
        throw error;
      });
    }
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(handled).toBe(5);
    await connection.close();
  });

  it('counts a failing handler and a message handed to a for-await loop as handled', async () => {
    const { connection, consumer, publish } = await setup(async () => {
      throw new Error('boom');
    });
    await consumer.consume();
    const failing = connection.drainEvents({ timeout: 5 });
    await publish({ x: 1 });
    expect(await failing).toBeGreaterThanOrEqual(1);

    const queue = new Queue(`drain-iter-${randomUUID()}`);
    const iterated = connection.consumer({ queues: [queue] });
    const iterator = iterated[Symbol.asyncIterator]();
    const first = iterator.next();
    const drained = connection.drainEvents({ timeout: 5 });
    await connection.producer().publish({ y: 1 }, { routingKey: queue.name, declare: [queue] });
    expect(await drained).toBeGreaterThanOrEqual(1);
    const message = (await first).value as Message;
    expect(message.payload).toEqual({ y: 1 });
    await message.ack();
    await connection.close();
  });

  it('rejects with TimeoutError (ERR_TIMEOUT) when nothing is handled within timeout seconds', async () => {
    const { connection, consumer } = await setup(async (m) => m.ack());
    await consumer.consume();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let outcome: unknown = 'pending';
    const drained = connection.drainEvents({ timeout: 1.5 }).catch((error: unknown) => {
      outcome = error;
    });
    await vi.advanceTimersByTimeAsync(1_499);
    expect(outcome).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    await drained;
    expect(outcome).toBeInstanceOf(TimeoutError);
    expect(outcome).toMatchObject({ code: 'ERR_TIMEOUT', message: expect.stringContaining('1.5 s') });
    vi.useRealTimers();
    await connection.close();
  });

  it('reports at once the deliveries handled since the previous drain, as kombu finds them in the socket', async () => {
    const done = new Latch(2);
    const { connection, consumer, publish } = await setup(async (m) => {
      await m.ack();
      done.countDown();
    });
    await consumer.consume();
    await publish(1);
    await publish(2);
    await done.wait();
    await consumer.idle(); // the consumer counts a delivery once its handler has returned
    expect(await connection.drainEvents({ timeout: 0 })).toBe(2);
    // Reported once: the next drain waits for new deliveries.
    await expect(connection.drainEvents({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    await connection.close();
  });

  it('ignores deliveries handled on another connection, even one sharing the instrumentation', async () => {
    const url = memoryUrl();
    const mine = await Connection.open(url);
    const other = await Connection.open(url, { instrumentation: mine.events });
    const queue = new Queue(`drain-other-${randomUUID()}`);
    const done = new Latch(1);
    const consumer = await other
      .consumer({
        queues: [queue],
        handler: async (m) => {
          await m.ack();
          done.countDown();
        },
      })
      .consume();
    await other.producer().publish({ z: 1 }, { routingKey: queue.name, declare: [queue] });
    await done.wait();
    await consumer.idle();
    await expect(mine.drainEvents({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await other.drainEvents({ timeout: 0 })).toBe(1);
    await Promise.all([mine.close(), other.close()]);
  });

  it('ends a wait without timeout when the connection closes or the signal aborts', async () => {
    const connection = await Connection.open(memoryUrl());
    const controller = new AbortController();
    const aborted = connection.drainEvents({ signal: controller.signal }).catch((error: unknown) => error);
    controller.abort(new Error('enough'));
    expect(await aborted).toMatchObject({ message: 'enough' });
    const closing = connection.drainEvents().catch((error: unknown) => error);
    await connection.close();
    expect(await closing).toBeInstanceOf(ConnectionClosedError);
    await expect(connection.drainEvents({ timeout: 1 })).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('refuses a negative or NaN timeout', async () => {
    const connection = await Connection.open(memoryUrl());
    await expect(connection.drainEvents({ timeout: -1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(connection.drainEvents({ timeout: Number.NaN })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
    await connection.close();
  });
});
