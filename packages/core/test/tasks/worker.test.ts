import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import { Exchange } from '../../src/model/exchange.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import type { defineWorker } from '../../src/tasks/index.js';
import { TASK_HEADERS } from '../../src/tasks/protocol.js';
import { Worker } from '../../src/tasks/worker.js';
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
    {
      name: 'math.add',
      payload: { type: 'object', required: ['a', 'b'], properties: { a: { type: 'number' }, b: { type: 'number' } } },
    },
  ],
  routes: [{ match: '**', exchange: 'tasks', routingKey: 'lopri' }],
});

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('worker', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(handlers: Parameters<typeof defineWorker<typeof topology>>[1], concurrency = 1) {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const client = new TaskClient(connection, topology);
    const worker = new Worker({ connection, topology, handlers, concurrency });
    cleanup.push(async () => {
      await worker.stop({ deadline: 1_000 });
      await client.close();
      await connection.close();
    });
    return { connection, client, worker };
  }

  it('serves hipri before lopri: 500 of each queued first, concurrency 1', async () => {
    const order: string[] = [];
    const { client, worker, connection } = await setup({
      'job.run': async (_payload, ctx) => {
        order.push(ctx.message.queue);
      },
    });
    const tasks = new Exchange('tasks');
    await connection.declare(...['hipri', 'lopri'].map((q) => new Queue(q, { exchange: tasks, routingKey: q })));
    for (let n = 0; n < 500; n++) await client.send('job.run', { n }, { priority: 'low' });
    for (let n = 0; n < 500; n++) await client.send('job.run', { n }, { priority: 'high' });
    void worker.run();
    await until(() => order.length === 1000, 20_000);
    // The prefetch window (concurrency 1) may hold one lopri message when the worker starts.
    const firstLow = order.indexOf('lopri');
    expect(order.slice(0, 500).filter((q) => q === 'hipri').length).toBeGreaterThanOrEqual(499);
    expect(order.slice(firstLow + 1).filter((q) => q === 'hipri').length).toBeLessThanOrEqual(1);
  });

  it('retries with attempts in headers, then dead-letters with the reason', async () => {
    const attempts: number[] = [];
    const { client, worker, connection } = await setup({
      'job.run': async (_payload, ctx) => {
        attempts.push(ctx.attempt);
        throw new RangeError(`boom ${ctx.attempt}`);
      },
    });
    void worker.run();
    await until(() => worker.health().status === 'ready');
    await client.send('job.run', { n: 1 });
    await until(() => worker.health().deadLettered === 1);
    expect(attempts).toEqual([1, 2, 3]);
    const dead = await new Queue('wakame.dead-letter').attach(connection).get();
    expect(dead?.payload).toEqual({ n: 1 });
    expect(dead?.headers[TASK_HEADERS.deadLetterReason]).toMatchObject({
      reason: 'failed',
      task: 'job.run',
      attempts: 3,
      error: { name: 'RangeError', message: 'boom 3' },
    });
    expect(dead?.headers[TASK_HEADERS.lastError]).toEqual({ name: 'RangeError', message: 'boom 2' });
    await dead?.ack();
  });

  it('dead-letters an unknown task and an invalid payload once, and keeps going', async () => {
    const seen: number[] = [];
    const { client, worker, connection } = await setup({
      'job.run': async ({ n }) => {
        seen.push(n);
      },
    });
    void worker.run();
    await until(() => worker.health().status === 'ready');
    const producer = connection.producer({ exchange: 'tasks', routingKey: 'lopri' });
    await producer.publish({ n: 1 }, { headers: { [TASK_HEADERS.task]: 'no.such.task' } });
    await producer.publish({ n: 'not a number' }, { headers: { [TASK_HEADERS.task]: 'job.run' } });
    await client.send('job.run', { n: 7 });
    await until(() => seen.length === 1 && worker.health().deadLettered === 2);
    const dlq = new Queue('wakame.dead-letter').attach(connection);
    const reasons = [];
    for (let m = await dlq.get(); m; m = await dlq.get()) {
      reasons.push((m.headers[TASK_HEADERS.deadLetterReason] as { reason: string }).reason);
      await m.ack();
    }
    expect(reasons.sort()).toEqual(['invalid-payload', 'unknown-task']);
    expect(seen).toEqual([7]);
  });

  it('refuses an invalid payload on send with a typed error, before sending anything', async () => {
    const { client } = await setup({});
    await expect(client.send('job.run', { n: 1.5 })).rejects.toMatchObject({ code: 'ERR_INVALID_PAYLOAD' });
    // @ts-expect-error: not a task of the topology
    await expect(client.send('job.nope', {})).rejects.toMatchObject({ code: 'ERR_UNKNOWN_TASK' });
  });

  it('answers call() and reports a failure as TaskFailedError; times out with TimeoutError', async () => {
    const { client, worker } = await setup({
      'math.add': async ({ a, b }) => {
        if (a < 0) throw new Error('negative');
        return a + b;
      },
    });
    void worker.run();
    await until(() => worker.health().status === 'ready');
    await expect(client.call('math.add', { a: 2, b: 3 }, { timeout: 5_000 })).resolves.toBe(5);
    await expect(client.call('math.add', { a: -1, b: 3 }, { timeout: 5_000 })).rejects.toMatchObject({
      code: 'ERR_TASK_FAILED',
      remote: { message: 'negative' },
    });
    await worker.stop({ deadline: 1_000 });
    await expect(client.call('math.add', { a: 1, b: 1 }, { timeout: 50 })).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
    });
  });

  it('delays a send through a delay queue, not a sleeping worker', async () => {
    const received: number[] = [];
    const { client, worker } = await setup({
      'job.run': async () => {
        received.push(Date.now());
      },
    });
    void worker.run();
    await until(() => worker.health().status === 'ready');
    const sent = Date.now();
    await client.send('job.run', { n: 1 }, { delay: 150 });
    await until(() => received.length === 1);
    expect((received[0] as number) - sent).toBeGreaterThanOrEqual(140);
  });

  it('stops gracefully: running handlers finish, nothing is lost', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const done: number[] = [];
    const { client, worker, connection } = await setup(
      {
        'job.run': async ({ n }) => {
          await gate;
          done.push(n);
        },
      },
      2,
    );
    void worker.run();
    await until(() => worker.health().status === 'ready');
    for (let n = 0; n < 5; n++) await client.send('job.run', { n });
    await until(() => worker.health().inFlight === 2);
    const stopping = worker.stop({ deadline: 2_000 });
    release();
    await stopping;
    expect(done).toHaveLength(2);
    expect(await new Queue('lopri').attach(connection).messageCount()).toBe(3);
    expect(worker.health().status).toBe('stopped');
  });

  it('carries a W3C traceparent from send to the handler', async () => {
    const seen: (string | undefined)[] = [];
    const { client, worker } = await setup({
      'job.run': async (_payload, ctx) => {
        seen.push(ctx.traceparent);
      },
    });
    void worker.run();
    await until(() => worker.health().status === 'ready');
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await client.send('job.run', { n: 1 }, { headers: { traceparent } });
    await client.send('job.run', { n: 2 });
    await until(() => seen.length === 2);
    expect(seen).toEqual([traceparent, undefined]);
  });

  it('dead-letters an undecodable message once, with the reason', async () => {
    const { worker, connection } = await setup({ 'job.run': async () => {} });
    void worker.run();
    await until(() => worker.health().status === 'ready');
    await connection
      .producer({ exchange: 'tasks', routingKey: 'lopri' })
      .publish('not json at all', { headers: { [TASK_HEADERS.task]: 'job.run' } });
    await until(() => worker.health().deadLettered === 1);
    const dead = await new Queue('wakame.dead-letter').attach(connection).get({ accept: ['text'] });
    expect(dead?.headers[TASK_HEADERS.deadLetterReason]).toMatchObject({ reason: 'undecodable', task: 'job.run' });
    await dead?.ack();
    expect(await new Queue('lopri').attach(connection).messageCount()).toBe(0);
  });
});
