import { randomUUID } from 'node:crypto';
import {
  Connection,
  defineTopology,
  delayBucket,
  delayQueue,
  Queue,
  TASK_HEADERS,
  TaskClient,
  Worker,
} from '@wakame/core';
import { AMQP_URL, brokerGate, waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const gate = await brokerGate('worker on RabbitMQ', { name: 'rabbitmq', url: AMQP_URL });

/** A topology with random names, so runs never see each other's messages. */
function topologyFor(id: string) {
  const ex = `t-${id}.tasks`;
  const hi = `t-${id}.hipri`;
  const lo = `t-${id}.lopri`;
  return defineTopology({
    exchanges: [{ name: ex, type: 'direct', durable: false }],
    queues: [
      { name: hi, durable: false, bindings: [{ exchange: ex, routingKey: 'hipri' }] },
      { name: lo, durable: false, bindings: [{ exchange: ex, routingKey: 'lopri' }] },
    ],
    priorityClasses: { high: hi, low: lo },
    tasks: [
      {
        name: 'job.run',
        priority: 'low',
        retry: { maxAttempts: 2, initialDelay: 10, factor: 2, maxDelay: 100, jitter: 0 },
        payload: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
      },
      { name: 'math.square', payload: { type: 'object', required: ['x'], properties: { x: { type: 'number' } } } },
    ],
    routes: [{ match: '**', exchange: ex, routingKey: 'lopri' }],
  });
}

describe.skipIf(gate === 'skip')('worker on RabbitMQ', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });

  async function setup(id: string) {
    const topology = topologyFor(id);
    const connection = await Connection.open(AMQP_URL);
    const client = new TaskClient(connection, topology);
    cleanup.push(async () => {
      await client.close();
      for (const q of topology.queues) await connection.admin.deleteQueue(q.name);
      await connection.admin.deleteExchange(topology.exchanges[0].name);
      await connection.close();
    });
    for (const e of client.topology.exchanges) await connection.admin.declareExchange(e);
    for (const q of client.topology.queues) await connection.admin.declareQueue(q);
    for (const b of client.topology.bindings) await connection.admin.bind(b);
    return { topology, connection, client };
  }

  it('serves hipri before lopri across queues: 500 of each queued first, concurrency 1', async () => {
    const { topology, client } = await setup(randomUUID());
    for (let n = 0; n < 500; n++) await client.send('job.run', { n }, { priority: 'low' });
    for (let n = 0; n < 500; n++) await client.send('job.run', { n }, { priority: 'high' });
    const order: string[] = [];
    const worker = new Worker({
      connection: AMQP_URL,
      topology,
      concurrency: 1,
      handlers: { 'job.run': async (_p, ctx) => void order.push(ctx.message.queue.endsWith('hipri') ? 'hi' : 'lo') },
    });
    cleanup.push(() => worker.stop({ deadline: 2_000 }));
    void worker.run();
    await waitFor(() => order.length === 1000, { timeoutMs: 30_000, what: '1000 tasks processed' });
    const lastHigh = order.lastIndexOf('hi');
    const lowBeforeLastHigh = order.slice(0, lastHigh).filter((q) => q === 'lo').length;
    // Only what the lopri prefetch window held when the worker started may run before hipri is done.
    expect(lowBeforeLastHigh).toBeLessThanOrEqual(1);
  }, 60_000);

  it('retries through a delay queue, dead-letters with the reason, and answers call()', async () => {
    const { topology, connection, client } = await setup(randomUUID());
    const dead = `t-${randomUUID()}.dead`;
    const worker = new Worker({
      connection: AMQP_URL,
      topology,
      deadLetterQueue: dead,
      handlers: {
        'job.run': async () => {
          throw new Error('always fails');
        },
        'math.square': async ({ x }) => x * x,
      },
    });
    cleanup.push(async () => {
      await worker.stop({ deadline: 2_000 });
      await connection.admin.deleteQueue(dead);
      // The retry went through the delay queue of the lopri queue's 1 s bucket.
      await connection.admin.deleteQueue(delayQueue('', topology.queues[1].name, delayBucket(10)).name);
    });
    void worker.run();
    await waitFor(() => worker.health().status === 'ready', { timeoutMs: 10_000, what: 'worker ready' });
    await expect(client.call('math.square', { x: 7 }, { timeout: 5_000 })).resolves.toBe(49);
    await client.send('job.run', { n: 1 });
    await waitFor(() => worker.health().deadLettered === 1, {
      timeoutMs: 10_000,
      what: 'dead-lettered after 2 attempts',
    });
    const letter = await new Queue(dead).attach(connection).get();
    expect(letter?.headers[TASK_HEADERS.deadLetterReason]).toMatchObject({
      reason: 'failed',
      attempts: 2,
      error: { message: 'always fails' },
    });
    await letter?.ack();
    expect(worker.health().retried).toBe(1);
  }, 60_000);

  it('reports unsubscribed queues in its health once stopped', async () => {
    const { topology } = await setup(randomUUID());
    const worker = new Worker({ connection: AMQP_URL, topology, handlers: { 'job.run': async () => {} } });
    void worker.run();
    await waitFor(() => worker.health().healthy, { timeoutMs: 10_000, what: 'healthy' });
    await worker.stop({ deadline: 1_000 });
    expect(worker.health()).toMatchObject({ status: 'stopped', healthy: false });
  }, 30_000);
});
