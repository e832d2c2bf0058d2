/**
 * The worker's own cost: tasks through a Worker with a no-op handler, and the same messages through a
 * Worker of one plain consumer (handler: ack), beside the bare Consumer (decode + ack) on the same
 * transport and message, memory and AMQP. The ratio is the worker's share of throughput (target ≥ 0.85):
 * for tasks, task lookup, payload schema validation, headers, events; for the plain consumer, the
 * worker's own loop (stop control, per-queue health, counters).
 */
import { randomUUID } from 'node:crypto';
import { Connection, type DesiredTopology, Queue, TaskClient, Worker } from '@wakame/core';
import {
  type Benchmark,
  benchPayload,
  benchTaskTopology,
  consumeRate,
  countdown,
  type Figure,
  inWindows,
  LOAD_TIMEOUT_MS,
  now,
  Rounds,
  rate,
  within,
} from './harness.js';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';
const ROUNDS = 5;

/** Empties the queue, then fills it with `count` tasks (as the client sends them), confirmed in windows of 1000. */
async function fill(connection: Connection, topology: DesiredTopology, count: number): Promise<void> {
  // Nothing left over from a round that failed: each round starts from exactly `count` messages.
  await connection.admin.purgeQueue(topology.queues[0]?.name ?? '');
  const client = new TaskClient(connection, { compiled: topology });
  await inWindows(count, 1000, (i) => client.send('media.process', benchPayload(i)));
}

function bareConsumer(connection: Connection, queue: string, count: number): Promise<number> {
  return consumeRate(connection, queue, count, { prefetch: 100, decode: true });
}

async function worker(connection: Connection, topology: DesiredTopology, count: number): Promise<number> {
  const finished = countdown(count);
  const running = new Worker({
    connection,
    topology: { compiled: topology },
    concurrency: 100,
    declare: false,
    handlers: {
      'media.process': () => {
        finished.tick();
      },
    },
  });
  const start = now();
  const loop = running.run();
  try {
    await within(finished.done, LOAD_TIMEOUT_MS, `Worker, ${count} messages`);
    return rate(count, now() - start);
  } finally {
    await running.stop({ deadline: 5_000 });
    await within(loop, 10_000, 'Worker run').catch(() => undefined);
  }
}

/** The same messages through a Worker of one plain consumer whose handler acks. */
async function plainWorker(connection: Connection, queue: string, count: number): Promise<number> {
  const finished = countdown(count);
  const running = new Worker({
    connection,
    consumers: [
      {
        queues: [queue],
        prefetch: 100,
        handler: (message) => {
          finished.tick();
          return message.ack();
        },
      },
    ],
  });
  const start = now();
  const loop = running.run();
  try {
    await within(finished.done, LOAD_TIMEOUT_MS, `Worker, ${count} messages`);
    return rate(count, now() - start);
  } finally {
    await running.stop({ deadline: 5_000 });
    await within(loop, 10_000, 'Worker run').catch(() => undefined);
  }
}

async function measure(url: string, label: string, count: number): Promise<Figure[]> {
  const connection = await Connection.open(url);
  const queue = `bench-worker-${randomUUID()}`;
  try {
    await connection.declare(new Queue(queue, { durable: false, exchange: 'amq.direct', routingKey: queue }));
    const topology = new TaskClient(connection, benchTaskTopology(queue, false)).topology;
    const rounds = new Rounds();
    for (let round = 0; round < ROUNDS; round++) {
      await fill(connection, topology, count);
      await rounds.take('bare', () => bareConsumer(connection, queue, count));
      await fill(connection, topology, count);
      await rounds.take('worker', () => worker(connection, topology, count));
      await fill(connection, topology, count);
      await rounds.take('plain', () => plainWorker(connection, queue, count));
    }
    return [
      rounds.figure('bare', {
        name: `worker.${label}.consumer`,
        unit: 'msg/s',
        note: 'bare Consumer: decode + ack, prefetch 100',
      }),
      rounds.figure('worker', {
        name: `worker.${label}.worker`,
        unit: 'msg/s',
        ceiling: `worker.${label}.consumer`,
        note: 'Worker, no-op handler, concurrency 100: lookup + schema validation + ack',
      }),
      rounds.figure('plain', {
        name: `worker.${label}.plain`,
        unit: 'msg/s',
        ceiling: `worker.${label}.consumer`,
        note: 'Worker, one plain consumer (handler: ack), prefetch 100',
      }),
    ];
  } finally {
    await connection.admin.deleteQueue(queue).catch(() => undefined);
    await connection.close();
  }
}

export const workerBenchmarks: readonly Benchmark[] = [
  { name: 'worker.memory', run: () => measure(`memory://bench-${randomUUID()}`, 'memory', 50_000) },
  { name: 'worker.amqp', run: () => measure(AMQP_URL, 'amqp', 20_000) },
];
