/**
 * `maxBodyBytes` on receipt, the parts every transport shares (the consumer and `Message`): the
 * boundary, compressed bodies (as they travelled and inflated), `for await` and SimpleQueue. The
 * per-transport behaviour (bodies left unread, dead-lettering, the worker) is in
 * packages/transports/test/receive-bound.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { PayloadTooLargeError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import type { Message } from '../../src/messaging/message.js';
import { SimpleQueue } from '../../src/messaging/simple-queue.js';
import { Queue } from '../../src/model/queue.js';

const LIMIT = 1024;

describe('a received body over maxBodyBytes', () => {
  const opened: Connection[] = [];
  afterEach(async () => {
    for (const c of opened.splice(0).reverse()) await c.close();
  });

  async function pair(): Promise<{ publisher: Connection; receiver: Connection; queue: Queue }> {
    const url = `memory://${randomUUID()}`;
    const publisher = await Connection.open(url, { maxBodyBytes: 1024 * 1024 });
    const receiver = await Connection.open(url, { maxBodyBytes: LIMIT });
    opened.push(publisher, receiver);
    const queue = new Queue('bound', { durable: false }).attach(receiver);
    await queue.declare();
    return { publisher, receiver, queue };
  }

  /** Consumes until `count` messages were handled or refused; returns both. */
  async function consume(receiver: Connection, queue: Queue, count: number, decode = true) {
    const handled: Buffer[] = [];
    const refused: { error: Error; message: Message }[] = [];
    let done!: () => void;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    const tick = () => {
      if (handled.length + refused.length === count) done();
    };
    const consumer = receiver.consumer({
      queues: [queue.name],
      accept: ['json', 'raw'],
      decode,
      handler: async (m) => {
        handled.push(m.rawBody);
        await m.ack();
        tick();
      },
      onDecodeError: async (message, error) => {
        refused.push({ message, error });
        await message.reject();
        tick();
      },
    });
    await consumer.consume();
    await all;
    await consumer.close();
    return { handled, refused };
  }

  it('the bound is inclusive: a body of exactly maxBodyBytes is delivered, one byte more is refused', async () => {
    const { publisher, receiver, queue } = await pair();
    await publisher.producer().publish(Buffer.alloc(LIMIT, 1), { routingKey: queue.name });
    await publisher.producer().publish(Buffer.alloc(LIMIT + 1, 2), { routingKey: queue.name });
    const { handled, refused } = await consume(receiver, queue, 2);
    expect(handled.map((b) => b.length)).toEqual([LIMIT]);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.error).toBeInstanceOf(PayloadTooLargeError);
    expect(refused[0]?.error).toMatchObject({ code: 'ERR_PAYLOAD_TOO_LARGE', size: LIMIT + 1, limit: LIMIT });
    expect(refused[0]?.message.bodySize).toBe(LIMIT + 1);
    expect(refused[0]?.message.rawBody.length).toBe(0);
  });

  it('with decode off too', async () => {
    const { publisher, receiver, queue } = await pair();
    await publisher.producer().publish(Buffer.alloc(LIMIT + 1), { routingKey: queue.name });
    await publisher.producer().publish(Buffer.alloc(1), { routingKey: queue.name });
    const { handled, refused } = await consume(receiver, queue, 2, false);
    expect(handled.map((b) => b.length)).toEqual([1]);
    expect(refused.map((r) => r.error.name)).toEqual(['PayloadTooLargeError']);
  });

  it('a compressed body is bounded as it travelled, and again once inflated (never inflated past the bound)', async () => {
    const { publisher, receiver, queue } = await pair();
    // Random bytes do not compress: over the bound as they travel.
    const noise = Buffer.from(Array.from({ length: 4 * LIMIT }, () => Math.floor(Math.random() * 256)));
    await publisher.producer().publish(noise, { routingKey: queue.name, compression: 'zlib' });
    // A few bytes on the wire that inflate to 64 times the bound.
    await publisher
      .producer()
      .publish({ blob: 'x'.repeat(64 * LIMIT) }, { routingKey: queue.name, compression: 'gzip' });
    await publisher.producer().publish({ ok: true }, { routingKey: queue.name, compression: 'gzip' });
    const { handled, refused } = await consume(receiver, queue, 3);
    expect(handled).toHaveLength(1);
    expect(refused.map((r) => r.error)).toEqual([expect.any(PayloadTooLargeError), expect.any(PayloadTooLargeError)]);
    expect(refused[0]?.error.message).toMatch(/^received message body of \d+ bytes exceeds the limit of 1024 bytes$/);
    expect(refused[1]?.message.bodySize).toBeLessThan(LIMIT);
    expect(refused[1]?.error.message).toBe(
      `decompressed body of ${LIMIT + 1} bytes exceeds the limit of ${LIMIT} bytes`,
    );
  });

  it('for await never yields it', async () => {
    const { publisher, receiver, queue } = await pair();
    const errors: Error[] = [];
    receiver.events.on('consumer.decode_error', (e) => errors.push(e.payload.error));
    await publisher.producer().publish({ blob: 'x'.repeat(2 * LIMIT) }, { routingKey: queue.name });
    await publisher.producer().publish({ n: 1 }, { routingKey: queue.name });
    const seen: unknown[] = [];
    for await (const m of receiver.consumer({ queues: [queue.name] })) {
      seen.push(m.payload);
      await m.ack();
      break;
    }
    expect(seen).toEqual([{ n: 1 }]);
    expect(errors.map((e) => e.name)).toEqual(['PayloadTooLargeError']);
    expect(await queue.messageCount()).toBe(0);
  });

  it('SimpleQueue hands it over as basic.get does: empty, its payload refusing to decode', async () => {
    const { publisher, receiver, queue } = await pair();
    await publisher.producer().publish({ blob: 'x'.repeat(2 * LIMIT) }, { routingKey: queue.name });
    const simple = new SimpleQueue(receiver, new Queue(queue.name, { durable: false }));
    try {
      const m = await simple.get({ timeout: 5_000 });
      expect(m.rawBody.length).toBe(0);
      expect(() => m.payload).toThrow(PayloadTooLargeError);
      expect(() => m.body).toThrow(PayloadTooLargeError);
      await m.reject();
    } finally {
      await simple.close();
    }
  });
});
