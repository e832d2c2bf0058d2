/**
 * Stopping a worker of plain consumers (no tasks), on the memory transport with fake timers for the deadline: the same
 * guarantees as for tasks. With 8 handlers in flight, a stop lets them finish and ack, `run()` resolves only then,
 * and a second worker runs the rest: every message is handled exactly once. The deadline, or a second stop, forces
 * the stop: handlers see `context.signal` aborted and their messages go back to their queue.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import type { Message } from '../../src/messaging/message.js';
import { Exchange } from '../../src/model/exchange.js';
import { broadcast, Queue } from '../../src/model/queue.js';
import { type ConsumerContext, Worker } from '../../src/tasks/worker.js';

const IN_FLIGHT = 8;
const TOTAL = 20;

/** Whether `promise` has settled, after the microtasks queued so far have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 50; i++) await Promise.resolve();
  return done;
}

describe('stopping a worker of plain consumers', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /**
   * TOTAL messages on a direct queue, and one on a fanout-fed broadcast queue; a worker whose handlers block until
   * `release()`, with IN_FLIGHT of them running.
   */
  async function blocked(options: { honourSignal?: boolean } = {}) {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const work = new Queue('work', { exchange: new Exchange('jobs'), routingKey: 'work' });
    await connection.declare(work);
    const producer = connection.producer({ exchange: 'jobs', routingKey: 'work' });
    for (let n = 0; n < TOTAL; n++) await producer.publish(n % 2 === 0 ? { n } : `${n}`);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handled: string[] = [];
    const contexts: ConsumerContext[] = [];
    const handler = async (message: Message, context: ConsumerContext) => {
      contexts.push(context);
      if (options.honourSignal) {
        const aborted = new Promise<void>((_, reject) =>
          context.signal.addEventListener('abort', () => reject(context.signal.reason)),
        );
        await Promise.race([released, aborted]);
      } else {
        await released;
      }
      handled.push(JSON.stringify(message.payload));
      await message.ack();
    };
    const worker = new Worker({
      connection,
      concurrency: IN_FLIGHT,
      consumers: [
        { queues: [work], accept: ['json', 'text'], handler },
        { queues: [broadcast('news')], accept: ['json'], prefetch: 1, handler: (m) => m.ack() },
      ],
    });
    cleanup.push(async () => {
      release();
      await worker.stop({ deadline: 0 });
      await connection.close();
    });
    const run = worker.run();
    await vi.waitFor(() => expect(contexts).toHaveLength(IN_FLIGHT));
    const ready = () => new Queue('work').attach(connection).messageCount();
    return { connection, worker, run, release, handled, contexts, ready };
  }

  it('run() resolves only after the 8 running handlers acked; a second worker runs the rest; each message once', async () => {
    const { connection, worker, run, release, handled, ready } = await blocked();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const stopping = worker.stop();
    await vi.advanceTimersByTimeAsync(29_000);
    expect(await settled(run)).toBe(false);
    expect(worker.health()).toMatchObject({ status: 'stopping', inFlight: IN_FLIGHT, healthy: false });
    release();
    await run;
    await stopping;
    vi.useRealTimers();
    expect(worker.health()).toMatchObject({ status: 'stopped', processed: IN_FLIGHT, returned: 0, inFlight: 0 });
    expect(handled).toHaveLength(IN_FLIGHT);
    expect(await ready()).toBe(TOTAL - IN_FLIGHT);

    const next = new Worker({
      connection,
      consumers: [
        {
          queues: ['work'],
          accept: ['json', 'text'],
          handler: async (m) => {
            handled.push(JSON.stringify(m.payload));
            await m.ack();
          },
        },
      ],
    });
    void next.run();
    await vi.waitFor(() => expect(handled).toHaveLength(TOTAL));
    await next.stop();
    const every = Array.from({ length: TOTAL }, (_, n) => JSON.stringify(n % 2 === 0 ? { n } : `${n}`));
    expect(handled.sort()).toEqual(every.sort());
    expect(await ready()).toBe(0);
  });

  it('the deadline forces the stop: handlers see context.signal aborted, their messages go back', async () => {
    const { worker, run, release, contexts, ready } = await blocked();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    void worker.stop({ deadline: 5_000 });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(await settled(run)).toBe(false);
    expect(contexts.some((c) => c.signal.aborted)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await run;
    expect(contexts.every((c) => c.signal.aborted)).toBe(true);
    expect(await ready()).toBe(TOTAL);
    // Handlers that end after the forced stop change nothing: their messages were already returned.
    release();
    await vi.waitFor(() => expect(worker.health().returned).toBe(IN_FLIGHT));
    expect(worker.health()).toMatchObject({ processed: 0, failed: 0 });
    expect(await ready()).toBe(TOTAL);
  });

  it('a second stop() forces at once; handlers that honour the signal are returned, not failed', async () => {
    const { worker, run, ready } = await blocked({ honourSignal: true });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    void worker.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await settled(run)).toBe(false);
    await worker.stop();
    expect(await settled(run)).toBe(true);
    await vi.waitFor(() => expect(worker.health().returned).toBe(IN_FLIGHT));
    expect(worker.health().failed).toBe(0);
    expect(await ready()).toBe(TOTAL);
  });
});
