/**
 * The receive side of `maxBodyBytes`, the same on every transport: a body over the consumer's bound,
 * published by a connection with a larger bound, never reaches a handler, is reported as a typed
 * `PayloadTooLargeError` through the consumer's decode-error policy, is not redelivered in a loop,
 * and does not hold up the next message. Where a transport can see a body's size before reading it
 * (Redis, file), it must not read it at all.
 *
 * Each transport's file supplies a URL per test (a vhost, a key prefix or a directory of its own);
 * queue names are fixed, so they never meet another run's.
 */
import {
  Connection,
  defineTopology,
  type Message,
  PayloadTooLargeError,
  Queue,
  TASK_HEADERS,
  TaskClient,
  Worker,
} from '@wakame/core';
import { Latch, waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

export interface ReceiveBoundOptions {
  readonly name: string;
  /** A broker of the test's own (the same URL for all its connections). */
  readonly url: () => string | Promise<string>;
  /** Whether the transport leaves a body over the bound unread (then a `get` returns it empty). */
  readonly withholds: boolean;
}

/** The consumer's bound, and a body well over it. */
const LIMIT = 64 * 1024;
const BIG = 1024 * 1024;
/** The publisher's bound: room for the big body. */
const PUBLISHER_LIMIT = 4 * BIG;
const WAIT = { timeoutMs: 20_000 };

const bigPayload = (): { blob: string } => ({ blob: 'x'.repeat(BIG) });
/** The JSON body of {@link bigPayload}, as the producer writes it. */
const BIG_BODY_BYTES = Buffer.byteLength(JSON.stringify(bigPayload()));

function expectTooLarge(error: unknown): void {
  expect(error).toBeInstanceOf(PayloadTooLargeError);
  expect(error).toMatchObject({ code: 'ERR_PAYLOAD_TOO_LARGE', size: BIG_BODY_BYTES, limit: LIMIT });
}

/** Takes every message of `queue` (at most `max`), acking each. */
async function drain(queue: Queue, max = 10): Promise<Message[]> {
  const out: Message[] = [];
  for (let i = 0; i < max; i++) {
    const m = await queue.get();
    if (!m) break;
    out.push(m);
    await m.ack();
  }
  return out;
}

export function receiveBoundSuite(options: ReceiveBoundOptions): void {
  describe(`${options.name}: a received body over maxBodyBytes`, () => {
    const opened: Connection[] = [];
    const stops: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
      for (const c of opened.splice(0).reverse()) await c.close().catch(() => undefined);
    });

    /** A publisher with room for the big body and a receiver bound to {@link LIMIT}, on one broker. */
    async function pair(): Promise<{ publisher: Connection; receiver: Connection }> {
      const url = await options.url();
      const publisher = await Connection.open(url, { maxBodyBytes: PUBLISHER_LIMIT });
      opened.push(publisher);
      const receiver = await Connection.open(url, { maxBodyBytes: LIMIT });
      opened.push(receiver);
      return { publisher, receiver };
    }

    /** A work queue dead-lettering into a queue of its own; both declared. */
    async function queues(conn: Connection): Promise<{ work: Queue; dead: Queue }> {
      const dead = new Queue('rb.dead', { durable: false }).attach(conn);
      await dead.declare();
      const work = new Queue('rb.work', { durable: false, deadLetter: { exchange: '', routingKey: 'rb.dead' } }).attach(
        conn,
      );
      await work.declare();
      return { work, dead };
    }

    it('never reaches the handler: a typed error by the default policy, dead-lettered whole, once; the next message is delivered', async () => {
      const { publisher, receiver } = await pair();
      const { work, dead } = await queues(receiver);
      const handled: unknown[] = [];
      const errors: Error[] = [];
      let deliveries = 0;
      receiver.events.on('consumer.deliver', () => deliveries++);
      receiver.events.on('consumer.decode_error', (e) => errors.push(e.payload.error));
      const next = new Latch(1);
      const consumer = receiver.consumer({
        queues: [work.name],
        handler: async (m) => {
          handled.push(m.payload);
          await m.ack();
          next.countDown();
        },
      });
      stops.push(() => consumer.close());
      await consumer.consume();

      await publisher.producer().publish(bigPayload(), { routingKey: work.name });
      await publisher.producer().publish({ n: 1 }, { routingKey: work.name });
      await next.wait(WAIT.timeoutMs);
      await waitFor(() => errors.length === 1, { ...WAIT, what: 'the decode-error report' });

      expect(handled).toEqual([{ n: 1 }]);
      expectTooLarge(errors[0]);
      // The default policy rejects without requeue: the queue's dead-letter exchange has it, body and all.
      const deadCopy = await waitFor(() => new Queue(dead.name).attach(publisher).get(), {
        ...WAIT,
        what: 'the dead-lettered copy',
      });
      expect(deadCopy.rawBody.length).toBe(BIG_BODY_BYTES);
      expect(deadCopy.headers['x-first-death-reason']).toBe('rejected');
      await deadCopy.ack();
      await consumer.idle();
      expect(deliveries).toBe(2);
      expect(errors).toHaveLength(1);
      expect(await work.messageCount()).toBe(0);
    });

    it('a policy that requeues once sees it twice (redelivered the second time), empty, then dead-letters it whole', async () => {
      const { publisher, receiver } = await pair();
      const { work, dead } = await queues(receiver);
      const seen: { redelivered: boolean; rawBytes: number; bodySize: number; error: unknown }[] = [];
      const handled: unknown[] = [];
      const next = new Latch(1);
      const consumer = receiver.consumer({
        queues: [work.name],
        // No decoding before the handler: the bound holds all the same.
        decode: false,
        handler: async (m) => {
          handled.push(m.payload);
          await m.ack();
          next.countDown();
        },
        onDecodeError: async (m, error) => {
          seen.push({ redelivered: m.redelivered, rawBytes: m.rawBody.length, bodySize: m.bodySize, error });
          await (m.redelivered ? m.reject() : m.requeue());
        },
      });
      stops.push(() => consumer.close());
      await consumer.consume();

      await publisher.producer().publish(bigPayload(), { routingKey: work.name });
      await publisher.producer().publish({ n: 2 }, { routingKey: work.name });
      await next.wait(WAIT.timeoutMs);
      const deadCopy = await waitFor(() => new Queue(dead.name).attach(publisher).get(), {
        ...WAIT,
        what: 'the dead-lettered copy',
      });
      await consumer.idle();

      expect(handled).toEqual([{ n: 2 }]);
      expect(seen.map((s) => s.redelivered)).toEqual([false, true]);
      for (const s of seen) {
        expectTooLarge(s.error);
        expect(s.rawBytes).toBe(0);
        expect(s.bodySize).toBe(BIG_BODY_BYTES);
      }
      expect(deadCopy.payload).toEqual(bigPayload());
      await deadCopy.ack();
      expect(await work.messageCount()).toBe(0);
    });

    it(`basic.get ${options.withholds ? 'leaves the body unread' : 'hands the body over, unchecked by the transport'}; requeue and reject keep it whole`, async () => {
      const { publisher, receiver } = await pair();
      const { work, dead } = await queues(receiver);
      await publisher.producer().publish(bigPayload(), { routingKey: work.name });
      const transport = await receiver.ready();

      const first = await waitFor(() => transport.get(work.name, { noAck: false }), { ...WAIT, what: 'a get' });
      if (options.withholds) {
        expect(first.withheldBodyBytes).toBe(BIG_BODY_BYTES);
        expect(first.body.length).toBe(0);
      } else {
        expect(first.withheldBodyBytes).toBeUndefined();
        expect(first.body.length).toBe(BIG_BODY_BYTES);
      }
      expect(first.properties.contentType).toBe('application/json');
      await transport.settle(first, 'requeue');

      // Through the Message API: the payload is refused before anything decodes it.
      const again = await waitFor(() => work.get(), { ...WAIT, what: 'the requeued message' });
      expect(again.redelivered).toBe(true);
      expect(again.bodySize).toBe(BIG_BODY_BYTES);
      expect(again.rawBody.length).toBe(0);
      expectTooLarge(
        ((): unknown => {
          try {
            return again.payload;
          } catch (error) {
            return error;
          }
        })(),
      );
      await again.reject();

      const [deadCopy, ...more] = await waitFor(async () => {
        const got = await drain(new Queue(dead.name).attach(publisher));
        return got.length > 0 ? got : undefined;
      }, WAIT);
      expect(more).toHaveLength(0);
      expect(deadCopy?.rawBody.length).toBe(BIG_BODY_BYTES);
      expect(deadCopy?.payload).toEqual(bigPayload());
      expect(await work.messageCount()).toBe(0);
    });

    it('the task worker dead-letters it once with reason too-large and keeps working', async () => {
      const { publisher, receiver } = await pair();
      const topology = defineTopology({
        version: 1,
        exchanges: [{ name: 'rb.tasks', type: 'direct', durable: false }],
        queues: [{ name: 'rb.jobs', durable: false, bindings: [{ exchange: 'rb.tasks', routingKey: 'jobs' }] }],
        tasks: [
          {
            name: 'blob.store',
            payload: { type: 'object', required: ['blob'], properties: { blob: { type: 'string' } } },
          },
        ],
        routes: [{ match: '**', exchange: 'rb.tasks', routingKey: 'jobs' }],
      });
      const stored: number[] = [];
      const undecodable: Error[] = [];
      const worker = new Worker({
        connection: receiver,
        topology,
        concurrency: 2,
        handlers: { 'blob.store': ({ blob }) => void stored.push(blob.length) },
        onDecodeError: (_message, error) => void undecodable.push(error),
      });
      stops.push(() => worker.stop({ deadline: 2_000 }));
      void worker.run();
      await waitFor(() => worker.health().status === 'ready', { ...WAIT, what: 'the worker to be ready' });
      const client = new TaskClient(publisher, topology);
      stops.push(() => client.close());

      await client.send('blob.store', bigPayload());
      await client.send('blob.store', { blob: 'small' });
      await waitFor(() => stored.length === 1 && worker.health().deadLettered === 1, {
        ...WAIT,
        what: 'one task stored and one dead-lettered',
      });
      await client.send('blob.store', { blob: 'after' });
      await waitFor(() => stored.length === 2, { ...WAIT, what: 'the worker to go on' });

      expect(stored).toEqual([5, 5]);
      expect(undecodable).toHaveLength(1);
      expectTooLarge(undecodable[0]);
      expect(worker.health()).toMatchObject({ status: 'ready', deadLettered: 1 });
      const dead = await drain(new Queue('wakame.dead-letter').attach(publisher));
      expect(dead).toHaveLength(1);
      expect(dead[0]?.headers[TASK_HEADERS.deadLetterReason]).toMatchObject({
        reason: 'too-large',
        task: 'blob.store',
        queue: 'rb.jobs',
        size: BIG_BODY_BYTES,
        limit: LIMIT,
        error: { name: 'PayloadTooLargeError' },
      });
      // The worker does not send on what it refused to read: the copy says what arrived, without the body.
      expect(dead[0]?.rawBody.length).toBe(0);
      expect(await new Queue('rb.jobs').attach(publisher).messageCount()).toBe(0);
    });
  });
}
