import { Connection, Queue, Worker } from '@wakame/core';
import {
  brokerGate,
  clusterManagement,
  RABBITMQ_CLUSTER_URL,
  RABBITMQ_CLUSTER_URLS,
  randomName,
  waitFor,
  waitForQueuePlacement,
} from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const gate = await brokerGate('quorum queue prefetch on the RabbitMQ cluster', {
  name: 'rabbitmq-cluster',
  url: RABBITMQ_CLUSTER_URLS[0] as string,
});

/**
 * Quorum queues refuse `basic.qos` with `global=true` (540 NOT_IMPLEMENTED): the prefetch window must be set per
 * consumer for a consumer of a quorum queue to start at all, and then it must still bound the unacked messages.
 */
describe.skipIf(gate === 'skip')('quorum queue with prefetch 50', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });

  async function quorumQueueWith(count: number): Promise<string> {
    const name = randomName('quorum-prefetch');
    const connection = await Connection.open(RABBITMQ_CLUSTER_URL);
    cleanup.push(async () => {
      await clusterManagement('DELETE', `queues/%2F/${encodeURIComponent(name)}`);
    });
    try {
      await connection.declare(new Queue(name, { durable: true, queueType: 'quorum' }));
      const producer = connection.producer({ routingKey: name });
      await Promise.all(Array.from({ length: count }, (_, n) => producer.publish({ n })));
    } finally {
      await connection.close();
    }
    expect((await waitForQueuePlacement(name)).type).toBe('quorum');
    return name;
  }

  it('a Worker processes all 500 tasks and never holds more than 50 unacked', async () => {
    const total = 500;
    const name = await quorumQueueWith(total);
    const done = new Set<number>();
    let unacked = 0;
    let mostUnacked = 0;
    // The queue and the cluster are healthy: any connection error is the failure under test, so stop waiting.
    const connectionErrors: string[] = [];
    const worker = new Worker({
      connection: RABBITMQ_CLUSTER_URL,
      onConnectionError: (error) => void connectionErrors.push((error as Error).message),
      consumers: [
        {
          queues: [name],
          prefetch: 50,
          handler: async (message) => {
            unacked += 1;
            mostUnacked = Math.max(mostUnacked, unacked);
            // Yield before settling, so deliveries pile up to whatever the broker's window allows.
            await new Promise((resolve) => setImmediate(resolve));
            done.add((message.payload as { n: number }).n);
            await message.ack();
            unacked -= 1;
          },
        },
      ],
    });
    cleanup.push(() => worker.stop({ deadline: 5_000 }));
    const running = worker.run();
    await waitFor(() => done.size === total || connectionErrors.length > 0, {
      timeoutMs: 60_000,
      intervalMs: 50,
      what: `${total} tasks processed`,
    });
    expect(connectionErrors).toEqual([]);
    expect(done.size).toBe(total);
    expect(mostUnacked).toBeGreaterThan(1);
    expect(mostUnacked).toBeLessThanOrEqual(50);
    await worker.stop({ deadline: 5_000 });
    await running;
  });

  it('a consumer gets all 500 messages with at most 50 unsettled at once', async () => {
    const total = 500;
    const name = await quorumQueueWith(total);
    const connection = await Connection.open(RABBITMQ_CLUSTER_URL);
    cleanup.push(() => connection.close());
    const done = new Set<number>();
    let mostUnsettled = 0;
    const consumer = connection.consumer({
      queues: [name],
      prefetch: 50,
      handler: async (message) => {
        mostUnsettled = Math.max(mostUnsettled, consumer.unsettled);
        await new Promise((resolve) => setImmediate(resolve));
        done.add((message.payload as { n: number }).n);
        await message.ack();
      },
    });
    await consumer.consume();
    await waitFor(() => done.size === total, { timeoutMs: 60_000, intervalMs: 50, what: `${total} messages` });
    expect(mostUnsettled).toBeLessThanOrEqual(50);
    await consumer.close();
  });
});
