import { randomUUID } from 'node:crypto';
import { Connection, defineTopology, type Message, Queue, TaskClient, Worker } from '@wakame/core';
import { AMQP_URL, brokerGate, waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

// A single RabbitMQ node runs quorum queues too (a cluster of one): enough for what does not need failover.
const gate = await brokerGate('amqp quorum queues', { name: 'rabbitmq', url: AMQP_URL });

describe.skipIf(gate === 'skip')('quorum queues on RabbitMQ', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });

  async function quorumQueue(): Promise<{ connection: Connection; queue: Queue }> {
    const connection = await Connection.open(AMQP_URL);
    const queue = new Queue(`t-quorum-${randomUUID()}`, { durable: true, queueType: 'quorum' });
    await connection.declare(queue);
    cleanup.push(async () => {
      await connection.admin.deleteQueue(queue.name);
      await connection.close();
    });
    return { connection, queue };
  }

  it('consumes with a bounded prefetch: exactly that many unacked, then one more per ack', async () => {
    const { connection, queue } = await quorumQueue();
    for (let n = 0; n < 20; n++) await connection.producer().publish({ n }, { routingKey: queue.name });
    const held: Message[] = [];
    const consumer = connection.consumer({
      queues: [queue],
      prefetch: 5,
      handler: async (m) => void held.push(m),
    });
    await consumer.consume();
    await waitFor(() => held.length === 5, { what: 'the prefetch window of 5 filled' });
    // One ack frees one slot; the window never grows past 5 unacked.
    await held[0]?.ack();
    await waitFor(() => held.length === 6, { what: 'one more delivery after one ack' });
    expect(consumer.unsettled).toBe(5);
    for (const m of held.slice(1)) await m.ack();
    await waitFor(() => held.length === 11, { what: 'five more after five acks' });
    expect(consumer.unsettled).toBe(5);
    await consumer.cancel();
  });

  it('runs a worker on a quorum queue at prefetch 50 through every task', async () => {
    const id = randomUUID();
    const topology = defineTopology({
      queues: [
        {
          name: `t-${id}.work`,
          durable: true,
          queueType: 'quorum',
          bindings: [{ exchange: `t-${id}.tasks`, routingKey: 'work' }],
        },
      ],
      tasks: [{ name: 'count', payload: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } }],
      exchanges: [{ name: `t-${id}.tasks`, type: 'direct', durable: false }],
      routes: [{ match: '**', exchange: `t-${id}.tasks`, routingKey: 'work' }],
    });
    const connection = await Connection.open(AMQP_URL);
    const client = new TaskClient(connection, topology);
    cleanup.push(async () => {
      await client.close();
      await connection.admin.deleteQueue(`t-${id}.work`);
      await connection.admin.deleteExchange(`t-${id}.tasks`);
      await connection.close();
    });
    for (const e of client.topology.exchanges) await connection.admin.declareExchange(e);
    for (const q of client.topology.queues) await connection.admin.declareQueue(q);
    for (const b of client.topology.bindings) await connection.admin.bind(b);
    for (let n = 0; n < 300; n++) await client.send('count', { n });
    const seen = new Set<number>();
    let running = 0;
    let most = 0;
    const worker = new Worker({
      connection: AMQP_URL,
      topology,
      concurrency: 50,
      handlers: {
        count: async ({ n }) => {
          running++;
          most = Math.max(most, running);
          await new Promise((resolve) => setImmediate(resolve));
          seen.add(n);
          running--;
        },
      },
    });
    cleanup.push(() => worker.stop({ deadline: 5_000 }));
    void worker.run();
    await waitFor(() => seen.size === 300, { timeoutMs: 30_000, what: '300 tasks processed' });
    expect(most).toBeLessThanOrEqual(50);
    expect(worker.health()).toMatchObject({ healthy: true, status: 'ready' });
  }, 60_000);
});
