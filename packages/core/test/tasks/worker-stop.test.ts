/**
 * Stopping a worker on the memory transport, with fake timers for the deadline: `run()` resolves only after the
 * running handlers finished and acked; the deadline, or a second stop, forces the stop and returns what is still
 * running to its queue. And `health()` per queue.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import { Exchange } from '../../src/model/exchange.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import type { TaskContext } from '../../src/tasks/types.js';
import { type TaskEvent, Worker } from '../../src/tasks/worker.js';
import { defineTopology } from '../../src/topology/document.js';

const topology = defineTopology({
  version: 1,
  exchanges: [{ name: 'tasks', type: 'direct' }],
  queues: [
    { name: 'hipri', bindings: [{ exchange: 'tasks', routingKey: 'hipri' }] },
    { name: 'lopri', bindings: [{ exchange: 'tasks', routingKey: 'lopri' }] },
  ],
  priorityClasses: { high: 'hipri', low: 'lopri' },
  tasks: [
    {
      name: 'job.run',
      priority: 'low',
      retry: { maxAttempts: 3, initialDelay: 5, factor: 2, maxDelay: 50, jitter: 0 },
      payload: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
    },
  ],
  routes: [{ match: '**', exchange: 'tasks', routingKey: 'lopri' }],
});

/** The topology's queues, declared before anything is sent. */
const declareQueues = (connection: Connection) =>
  connection.declare(
    ...['hipri', 'lopri'].map((q) => new Queue(q, { exchange: new Exchange('tasks'), routingKey: q })),
  );

const CONCURRENCY = 4;
const TOTAL = 6;

/** Resolves when `count()` has been called `n` times. */
function countdown(n: number): { count: () => void; reached: Promise<void> } {
  let left = n;
  let reached!: () => void;
  const promise = new Promise<void>((resolve) => {
    reached = resolve;
  });
  return {
    count: () => {
      if (--left === 0) reached();
    },
    reached: promise,
  };
}

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

describe('worker stop', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** A worker whose `job.run` handlers block until `release()`; resolves once CONCURRENCY of them run. */
  async function blocked(options: { honourSignal?: boolean } = {}) {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const client = new TaskClient(connection, topology);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started = countdown(CONCURRENCY);
    const contexts: TaskContext[] = [];
    const events: TaskEvent[] = [];
    const worker = new Worker({
      connection,
      topology,
      concurrency: CONCURRENCY,
      onTaskEvent: (e) => events.push(e),
      handlers: {
        'job.run': async (_payload, ctx) => {
          contexts.push(ctx);
          started.count();
          if (!options.honourSignal) return released;
          const aborted = new Promise<void>((_, reject) =>
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
          );
          await Promise.race([released, aborted]);
        },
      },
    });
    cleanup.push(async () => {
      release();
      await worker.stop({ deadline: 0 });
      await client.close();
      await connection.close();
    });
    await declareQueues(connection);
    for (let n = 0; n < TOTAL; n++) await client.send('job.run', { n });
    const run = worker.run();
    await started.reached;
    const lopri = new Queue('lopri').attach(connection);
    return { worker, run, release, contexts, events, ready: () => lopri.messageCount() };
  }

  it('run() resolves only after the running handlers finished and acked; the rest stays queued', async () => {
    const { worker, run, release, ready } = await blocked();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const stopping = worker.stop();
    await vi.advanceTimersByTimeAsync(29_000);
    expect(await settled(run)).toBe(false);
    expect(worker.health()).toMatchObject({ status: 'stopping', inFlight: CONCURRENCY });
    release();
    await run;
    await stopping;
    expect(worker.health()).toMatchObject({ status: 'stopped', processed: CONCURRENCY, returned: 0, inFlight: 0 });
    expect(await ready()).toBe(TOTAL - CONCURRENCY);
  });

  it('the deadline forces the stop: handlers see ctx.signal aborted, their messages go back unacked', async () => {
    const { worker, run, release, contexts, events, ready } = await blocked();
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
    await vi.waitFor(() => expect(events).toHaveLength(CONCURRENCY));
    expect(events.every((e) => e.type === 'returned')).toBe(true);
    expect(worker.health()).toMatchObject({ processed: 0, retried: 0, returned: CONCURRENCY });
    expect(await ready()).toBe(TOTAL);
  });

  it('a second stop() forces the stop at once', async () => {
    const { worker, run, ready } = await blocked();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    void worker.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await settled(run)).toBe(false);
    await worker.stop();
    expect(await settled(run)).toBe(true);
    expect(await ready()).toBe(TOTAL);
  });

  it('a handler that honours ctx.signal on a forced stop is returned, not retried (no attempt spent)', async () => {
    const { worker, run, events, ready, contexts } = await blocked({ honourSignal: true });
    await worker.stop({ deadline: 0 });
    await run;
    await vi.waitFor(() => expect(events).toHaveLength(CONCURRENCY));
    expect(events.map((e) => e.type)).toEqual(Array(CONCURRENCY).fill('returned'));
    expect(worker.health()).toMatchObject({ retried: 0, returned: CONCURRENCY });
    expect(contexts.every((c) => c.attempt === 1)).toBe(true);
    expect(await ready()).toBe(TOTAL);
  });

  it('handleSignals() listeners go once the worker has stopped', async () => {
    const { worker, run, release } = await blocked();
    const before = process.listenerCount('SIGTERM');
    worker.handleSignals();
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    release();
    await worker.stop();
    await run;
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('an owned connection is closed only after the handlers acked', async () => {
    const url = `memory://${randomUUID()}`;
    const connection = await Connection.open(url);
    const client = new TaskClient(connection, topology);
    cleanup.push(async () => {
      await client.close();
      await connection.close();
    });
    await declareQueues(connection);
    for (let n = 0; n < TOTAL; n++) await client.send('job.run', { n });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started = countdown(CONCURRENCY);
    const worker = new Worker({
      connection: url,
      topology,
      concurrency: CONCURRENCY,
      handlers: {
        'job.run': async () => {
          started.count();
          await released;
        },
      },
    });
    const run = worker.run();
    await started.reached;
    const stopping = worker.stop();
    release();
    await run;
    await stopping;
    expect(worker.health().processed).toBe(CONCURRENCY);
    expect(await new Queue('lopri').attach(connection).messageCount()).toBe(TOTAL - CONCURRENCY);
  });
});

describe('worker health per queue', () => {
  it('says per queue: subscribed, consumers, last delivery and last error', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const client = new TaskClient(connection, topology);
    const failedOnce = countdown(1);
    let onReady: () => void = () => {};
    const nextReady = () =>
      new Promise<void>((resolve) => {
        onReady = resolve;
      });
    const worker = new Worker({
      connection,
      topology,
      onConsumeReady: () => onReady(),
      handlers: {
        'job.run': async ({ n }, ctx) => {
          if (n === 1 && ctx.attempt === 1) {
            failedOnce.count();
            throw new RangeError('not yet');
          }
        },
      },
    });
    try {
      const ready = nextReady();
      void worker.run();
      await ready;
      expect(worker.health()).toMatchObject({
        healthy: true,
        queues: [
          { queue: 'hipri', subscribed: true },
          { queue: 'lopri', subscribed: true },
        ],
      });
      expect(worker.health().queues[0]).not.toHaveProperty('consumers');
      const checked = await worker.checkHealth();
      expect(checked.queues.map((q) => q.consumers)).toEqual([1, 1]);

      const before = Date.now();
      await client.send('job.run', { n: 1 });
      await failedOnce.reached;
      await vi.waitFor(() => expect(worker.health().processed).toBe(1));
      const [hipri, lopri] = worker.health().queues;
      expect(hipri).not.toHaveProperty('lastDeliveryAt');
      expect(hipri).not.toHaveProperty('lastError');
      expect(lopri?.lastDeliveryAt).toBeGreaterThanOrEqual(before);
      expect(lopri?.lastError).toMatchObject({ source: 'task', name: 'RangeError', message: 'not yet' });

      // The broker ends the hipri subscription: that queue says why; the worker subscribes again.
      const resubscribed = nextReady();
      await connection.admin.deleteQueue('hipri');
      await resubscribed;
      expect(worker.health().healthy).toBe(true);
      const after = worker.health().queues;
      expect(after[0]?.lastError).toMatchObject({ source: 'broker', message: expect.stringContaining("'hipri'") });
      expect(after[1]?.lastError?.source).toBe('task');
    } finally {
      await worker.stop({ deadline: 1_000 });
      expect(worker.health()).toMatchObject({ status: 'stopped', healthy: false });
      expect(worker.health().queues.every((q) => !q.subscribed)).toBe(true);
      await client.close();
      await connection.close();
    }
  });
});
