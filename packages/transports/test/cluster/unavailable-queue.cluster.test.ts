import {
  Connection,
  compileTopology,
  defineTopology,
  type Message,
  observe,
  Queue,
  TaskClient,
  Worker,
} from '@wakame/core';
import {
  brokerGate,
  clusterManagement,
  RABBITMQ_CLUSTER_URLS,
  rabbitClusterUrlFrom,
  rabbitCtl,
  rabbitNodeIndexOf,
  randomName,
  stopRabbitNode,
  waitFor,
  waitForQueuePlacement,
  waitForRabbitClusterWhole,
} from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const gate = await brokerGate('a classic queue whose node is down', {
  name: 'rabbitmq-cluster',
  url: RABBITMQ_CLUSTER_URLS[0] as string,
});

/**
 * A classic queue lives on one node. When that node stops, the queue still exists but RabbitMQ refuses to
 * declare it ("home node … is down or inaccessible") and confirms-and-drops what is routed to it. The connection
 * must fail over without it, serve every other queue, hold what is published to it, and send that once it is back.
 */
describe.skipIf(gate === 'skip')('a queue whose node is down does not stall the rest', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
    await waitForRabbitClusterWhole();
  });

  it('keeps a worker ready on its healthy queue, holds publishes to the queue on the stopped node, and sends them once it is back', async () => {
    const id = randomName('unavailable');
    const work = `${id}.work`;
    const parked = `${id}.parked`;
    // The work queue lives on node 1 (declared there), the parked queue on node 2, where the worker connects.
    const onOne = await Connection.open(RABBITMQ_CLUSTER_URLS[0] as string);
    cleanup.push(async () => {
      for (const q of [work, parked]) await clusterManagement('DELETE', `queues/%2F/${encodeURIComponent(q)}`);
      await onOne.close();
    });
    await onOne.declare(new Queue(work, { durable: true }));
    const topology = defineTopology({
      exchanges: [{ name: `${id}.tasks`, type: 'direct', durable: true }],
      queues: [{ name: work, durable: true, bindings: [{ exchange: `${id}.tasks`, routingKey: 'work' }] }],
      tasks: [{ name: 'note', payload: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } }],
      routes: [{ match: '**', exchange: `${id}.tasks`, routingKey: 'work' }],
    });
    const worker2 = await Connection.open(rabbitClusterUrlFrom(2), {
      recovery: { initialDelayMs: 50, maxDelayMs: 1_000 },
    });
    cleanup.push(() => worker2.close());
    await worker2.declare(new Queue(parked, { durable: true }));
    expect((await waitForQueuePlacement(parked)).index).toBe(2);
    expect((await waitForQueuePlacement(work)).index).toBe(1);

    const done = new Set<number>();
    const worker = new Worker({ connection: worker2, topology, handlers: { note: async ({ n }) => void done.add(n) } });
    cleanup.push(() => worker.stop({ deadline: 5_000 }));
    const client = new TaskClient(onOne, topology);
    cleanup.push(() => client.close());
    void worker.run();
    await waitFor(() => worker.health().status === 'ready', { what: 'worker ready' });
    await client.send('note', { n: 1 });
    await waitFor(() => done.has(1), { what: 'task 1 before the stop' });

    const unavailable: string[] = [];
    const restored: string[] = [];
    worker2.events.on('queue.unavailable', (e) => void unavailable.push(e.payload.queue));
    worker2.events.on('queue.restored', (e) => void restored.push(e.payload.queue));
    await stopRabbitNode(2);
    cleanup.push(() => rabbitCtl(2, '-q', 'start_app').then(() => undefined));

    // Failed over to another node: the URL says which, the worker serves its queue, the parked queue is named.
    await waitFor(() => unavailable.includes(parked), {
      timeoutMs: 60_000,
      what: 'queue.unavailable for the parked queue',
    });
    expect(rabbitNodeIndexOf(worker2.url)).not.toBe(2);
    await waitFor(() => worker.health().status === 'ready', { timeoutMs: 30_000, what: 'worker ready again' });
    // The worker's default dead-letter queue was declared on node 2 too: listed, but it does not stall the worker.
    expect(worker.health().unavailableQueues).toContainEqual({
      queue: parked,
      reason: expect.stringMatching(/down or inaccessible|stopped by supervisor/),
    });
    await client.send('note', { n: 2 });
    await waitFor(() => done.has(2), { what: 'task 2 on the healthy queue while node 2 is down' });

    // A publish routed to the parked queue is held (RabbitMQ would confirm and drop it), then sent once it is back.
    let confirmed = false;
    const held = worker2
      .producer()
      .publish({ kept: true }, { routingKey: parked })
      .then(() => {
        confirmed = true;
      });
    expect(confirmed).toBe(false);
    await rabbitCtl(2, '-q', 'start_app');
    await waitFor(() => restored.includes(parked), { timeoutMs: 60_000, what: 'queue.restored for the parked queue' });
    await held;
    expect(worker.health().unavailableQueues).toBeUndefined();
    const got: Message | undefined = await new Queue(parked).attach(onOne).get();
    expect(got?.payload).toEqual({ kept: true });
    await got?.ack();
  }, 240_000);

  it('refuses a management API that answers for another broker than the one connected to', async () => {
    const connection = await Connection.open(RABBITMQ_CLUSTER_URLS[0] as string, {
      // The machine's own RabbitMQ answers here: another cluster than the private one the AMQP URL reaches.
      transportOptions: { managementUrl: process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672' },
    });
    cleanup.push(() => connection.close());
    await expect(connection.admin.inspect()).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: expect.stringMatching(/answers for cluster '.+', but the AMQP connection reached cluster '.+'/),
    });
  });
});

describe.skipIf(gate === 'skip')('plan against a queue whose node is down', () => {
  it('refuses instead of offering to create a classic queue that exists on a stopped node', async () => {
    const name = randomName('plan-down');
    const onOne = await Connection.open(RABBITMQ_CLUSTER_URLS[0] as string);
    await onOne.declare(new Queue(name, { durable: true }));
    await onOne.close();
    expect((await waitForQueuePlacement(name)).index).toBe(1);
    // No management API reachable: plan probes over AMQP, where the queue's node answers for nothing.
    const onTwo = await Connection.open(RABBITMQ_CLUSTER_URLS[1] as string, {
      transportOptions: { managementUrl: 'http://127.0.0.1:1' },
    });
    try {
      await stopRabbitNode(1);
      const desired = compileTopology(defineTopology({ queues: [{ name, durable: true }] }));
      await expect(observe(onTwo.admin, desired)).rejects.toMatchObject({
        code: 'ERR_QUEUE_UNAVAILABLE',
        queue: name,
      });
    } finally {
      await rabbitCtl(1, '-q', 'start_app');
      await onTwo.admin.deleteQueue(name).catch(() => undefined);
      await onTwo.close();
      await waitForRabbitClusterWhole();
    }
  }, 120_000);
});
