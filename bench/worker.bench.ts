/**
 * The worker's own cost: tasks through a Worker with a no-op handler, and the same messages through a
 * Worker of one plain consumer (handler: ack), beside the bare Consumer (decode + ack) on the same
 * transport and message, memory and AMQP. The ratio is the worker's share of throughput (target ≥ 0.9):
 * for tasks, task lookup, payload schema validation, headers, events; for the plain consumer, the
 * worker's own loop (stop control, per-queue health, counters).
 *
 * `worker.observability`: the same task worker on the memory transport with OpenTelemetry tracing on (the API
 * installed, no SDK registered) and off, and with metrics (its health server) on and off, and with the SDK registered;
 * the ceiling is the worker with both off. Target for tracing without an SDK: within 5% of the ceiling.
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
import { registerBenchSdk } from './otel-sdk.js';

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

async function worker(
  connection: Connection,
  topology: DesiredTopology,
  count: number,
  metrics = false,
  cpu?: (perCpuSecond: number) => void,
): Promise<number> {
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
  // Metrics are on while the health server serves (the server closes with the worker).
  if (metrics) await running.serveHealth({ port: 0 });
  const start = now();
  const cpuStart = process.cpuUsage();
  const loop = running.run();
  try {
    await within(finished.done, LOAD_TIMEOUT_MS, `Worker, ${count} messages`);
    const elapsed = now() - start;
    const used = process.cpuUsage(cpuStart);
    cpu?.(rate(count, (used.user + used.system) / 1000));
    return rate(count, elapsed);
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

/** The observability settings measured, the ceiling first. */
const OBSERVABILITY = [
  { key: 'off', tracing: false, metrics: false, sdk: false, note: 'tracing off, metrics off (the ceiling)' },
  {
    key: 'off-again',
    tracing: false,
    metrics: false,
    sdk: false,
    note: 'the ceiling’s settings again: how far apart two identical settings land in this run (the noise)',
  },
  {
    key: 'tracing',
    tracing: true,
    metrics: false,
    sdk: false,
    note: 'tracing on, no OpenTelemetry SDK registered (target ≥ 95%)',
  },
  {
    key: 'metrics',
    tracing: false,
    metrics: true,
    sdk: false,
    note: 'metrics on (health server serving), tracing off',
  },
  { key: 'both', tracing: true, metrics: true, sdk: false, note: 'tracing on (no SDK) and metrics on' },
  {
    key: 'sdk',
    tracing: true,
    metrics: false,
    sdk: true,
    note: 'tracing on with the SDK registered: every span sampled, batched to an exporter that discards it',
  },
] as const;

/** The same task worker with tracing and metrics on and off, rounds interleaved in a rotating order. */
async function observability(count: number): Promise<Figure[]> {
  const url = `memory://bench-${randomUUID()}`;
  const traced = await Connection.open(url);
  const untraced = await Connection.open(url, { tracing: false });
  const queue = `bench-worker-${randomUUID()}`;
  try {
    // Without the API the 'tracing on' figures would measure the off path: refuse to report them.
    if (!traced.tracing.enabled) throw new Error('@opentelemetry/api is not installed: tracing cannot be on');
    await untraced.declare(new Queue(queue, { durable: false, exchange: 'amq.direct', routingKey: queue }));
    const topology = new TaskClient(untraced, benchTaskTopology(queue, false)).topology;
    const rounds = new Rounds();
    for (let round = 0; round < ROUNDS * 2; round++) {
      for (let i = 0; i < OBSERVABILITY.length; i++) {
        const setting = OBSERVABILITY[(round + i) % OBSERVABILITY.length] as (typeof OBSERVABILITY)[number];
        await fill(untraced, topology, count);
        const connection = setting.tracing ? traced : untraced;
        // Registered for its own rounds only: the other settings and groups run without it.
        const unregister = setting.sdk ? registerBenchSdk() : undefined;
        try {
          await rounds.take(setting.key, () =>
            worker(connection, topology, count, setting.metrics, (perCpu) => rounds.add(`cpu.${setting.key}`, perCpu)),
          );
        } finally {
          await unregister?.();
        }
      }
    }
    const wall = OBSERVABILITY.map((setting) =>
      rounds.figure(setting.key, {
        name: `worker.observability.${setting.key}`,
        unit: 'msg/s',
        ...(setting.key === 'off' ? {} : { ceiling: 'worker.observability.off' }),
        note: `Worker, memory, no-op handler, concurrency 100, ${count} tasks a round: ${setting.note}`,
      }),
    );
    // The same rounds per second of this process's CPU time: other work on a shared machine moves it far less.
    const cpu = OBSERVABILITY.map((setting) =>
      rounds.figure(`cpu.${setting.key}`, {
        name: `worker.observability.cpu.${setting.key}`,
        unit: 'msg/cpu-s',
        ...(setting.key === 'off' ? {} : { ceiling: 'worker.observability.cpu.off' }),
        note: `the rounds above, per second of the process's CPU time (user + system): ${setting.note}`,
      }),
    );
    return [...wall, ...cpu];
  } finally {
    await untraced.admin.deleteQueue(queue).catch(() => undefined);
    await traced.close();
    await untraced.close();
  }
}

export const workerBenchmarks: readonly Benchmark[] = [
  { name: 'worker.memory', run: () => measure(`memory://bench-${randomUUID()}`, 'memory', 50_000) },
  { name: 'worker.amqp', run: () => measure(AMQP_URL, 'amqp', 20_000) },
  { name: 'worker.observability', run: () => observability(100_000) },
];
