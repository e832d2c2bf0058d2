import { Connection, compileTopology, type DesiredTopology, TaskClient, Worker } from '@wakame/core';
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import {
  type Benchmark,
  benchPayload,
  benchTaskTopology,
  countdown,
  type Figure,
  inWindows,
  now,
  Rounds,
  rate,
} from './harness.js';
import {
  clearBenchKeys,
  client,
  closeAll,
  KEY_PREFIX,
  PHASE_TIMEOUT_MS,
  QUEUE,
  quit,
  ROUNDS,
  WINDOW,
  wakameUrl,
  within,
} from './redis-support.js';

/** BullMQ's keys under the benchmarks' prefix too (BullMQ adds its own ':' after it). */
const BULL_PREFIX = `${KEY_PREFIX}bull`;

const TASK_COUNT = 10_000;
const TASK_COUNT_SERIAL = 2_000;

/** Wakame's Worker (its own connection, as its own process would have) and a TaskClient sending WINDOW in flight. */
async function wakameTasks(topology: DesiredTopology, count: number, concurrency: number): Promise<number> {
  const clientConnection = new Connection(wakameUrl());
  const workerConnection = new Connection(wakameUrl());
  const finished = countdown(count);
  const consuming = countdown(1);
  const worker = new Worker({
    connection: workerConnection,
    topology: { compiled: topology },
    concurrency,
    handlers: { 'media.process': () => {} },
    onConsumeReady: () => consuming.tick(),
    onTaskEvent: (event) => {
      if (event.type === 'done') finished.tick();
      else finished.fail(new Error(`task ${event.id}: ${event.type} ${event.reason ?? event.error?.message ?? ''}`));
    },
    onConnectionError: (error) => {
      consuming.fail(error);
      finished.fail(error);
    },
  });
  const running = worker.run();
  try {
    await within(consuming.done, PHASE_TIMEOUT_MS, 'Wakame Worker start');
    await within(clientConnection.connect(), PHASE_TIMEOUT_MS, 'Wakame client connect');
    const client = new TaskClient(clientConnection, { compiled: topology });
    const start = now();
    await inWindows(
      count,
      WINDOW,
      (i) => client.send('media.process', benchPayload(i)),
      (sent) => within(sent, PHASE_TIMEOUT_MS, 'TaskClient.send'),
    );
    await within(finished.done, PHASE_TIMEOUT_MS, `Wakame Worker, ${count} tasks at concurrency ${concurrency}`);
    return rate(count, now() - start);
  } finally {
    await closeAll(
      () => within(worker.stop({ deadline: 5_000 }), 10_000, 'Wakame Worker stop'),
      () => within(running, 10_000, 'Wakame Worker run'),
      () => workerConnection.close(),
      () => clientConnection.close(),
    );
  }
}

/** BullMQ's Queue (addBulk of WINDOW, or WINDOW `add`s in flight) and Worker with a no-op processor. */
async function bullmqTasks(count: number, concurrency: number, mode: 'add' | 'addBulk'): Promise<number> {
  const queueConnection = client({ maxRetriesPerRequest: null });
  const workerConnection = client({ maxRetriesPerRequest: null });
  const queue = new BullQueue(QUEUE, {
    connection: queueConnection,
    prefix: BULL_PREFIX,
    defaultJobOptions: { removeOnComplete: true },
  });
  const finished = countdown(count);
  const worker = new BullWorker(QUEUE, async () => {}, {
    connection: workerConnection,
    prefix: BULL_PREFIX,
    concurrency,
    autorun: false,
  });
  worker.on('completed', () => finished.tick());
  worker.on('failed', (job, error) =>
    finished.fail(new Error(`BullMQ job ${job?.id ?? '?'} failed: ${error.message}`)),
  );
  worker.on('error', (error) => finished.fail(error));
  const running = worker.run();
  running.catch((error: unknown) => finished.fail(error));
  try {
    await within(Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]), PHASE_TIMEOUT_MS, 'BullMQ start');
    const start = now();
    for (let i = 0; i < count; i += WINDOW) {
      if (now() - start > PHASE_TIMEOUT_MS)
        throw new Error(`BullMQ ${mode}: ${i}/${count} after ${PHASE_TIMEOUT_MS} ms`);
      const ids = Array.from({ length: Math.min(WINDOW, count - i) }, (_, k) => i + k);
      const added =
        mode === 'addBulk'
          ? queue.addBulk(ids.map((id) => ({ name: 'media.process', data: benchPayload(id) })))
          : Promise.all(ids.map((id) => queue.add('media.process', benchPayload(id))));
      await within(added, PHASE_TIMEOUT_MS, `BullMQ ${mode}`);
    }
    await within(finished.done, PHASE_TIMEOUT_MS, `BullMQ Worker, ${count} jobs at concurrency ${concurrency}`);
    return rate(count, now() - start);
  } finally {
    await closeAll(
      () => within(worker.close(), 10_000, 'BullMQ Worker close'),
      () => within(running, 10_000, 'BullMQ Worker run'),
      () => within(queue.close(), 10_000, 'BullMQ Queue close'),
      () => quit(workerConnection),
      () => quit(queueConnection),
    );
  }
}

/**
 * ROUNDS rounds, BullMQ and Wakame alternating. A side that fails (BullMQ has thrown
 * `Missing key for job … moveToFinished` under load) is reported as failed; the others go on.
 */
async function tasks(): Promise<Figure[]> {
  const admin = client();
  const topology = compileTopology(benchTaskTopology(QUEUE, true));
  const rounds = new Rounds();
  const take = (key: string, run: () => Promise<number>) =>
    rounds.take(key, async () => {
      await clearBenchKeys(admin);
      return run();
    });
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await take('bullmq', () => bullmqTasks(TASK_COUNT, 50, 'add'));
      await take('bullmqBulk', () => bullmqTasks(TASK_COUNT, 50, 'addBulk'));
      await take('wakame', () => wakameTasks(topology, TASK_COUNT, 50));
      await take('bullmqSerial', () => bullmqTasks(TASK_COUNT_SERIAL, 1, 'add'));
      await take('wakameSerial', () => wakameTasks(topology, TASK_COUNT_SERIAL, 1));
    }
  } finally {
    await closeAll(
      () => clearBenchKeys(admin),
      () => quit(admin),
    );
  }
  const span = 'no-op handler, first send → last completion';
  return [
    rounds.figure('bullmq', {
      name: 'redis.bullmq.tasks.c50',
      unit: 'msg/s',
      note: `Queue.add, ${WINDOW} in flight; Worker concurrency 50, removeOnComplete; ${TASK_COUNT} jobs, ${span}`,
    }),
    rounds.figure('bullmqBulk', {
      name: 'redis.bullmq.tasks.c50.addBulk',
      unit: 'msg/s',
      ceiling: 'redis.bullmq.tasks.c50',
      note: `as above with Queue.addBulk of ${WINDOW}`,
    }),
    rounds.figure('wakame', {
      name: 'redis.wakame.tasks.c50',
      unit: 'msg/s',
      ceiling: 'redis.bullmq.tasks.c50',
      note: `TaskClient.send, ${WINDOW} in flight; Worker concurrency 50; ${TASK_COUNT} tasks, ${span} (Wakame/BullMQ)`,
    }),
    rounds.figure('bullmqSerial', {
      name: 'redis.bullmq.tasks.c1',
      unit: 'msg/s',
      note: `Queue.add, ${WINDOW} in flight; Worker concurrency 1; ${TASK_COUNT_SERIAL} jobs, ${span}`,
    }),
    rounds.figure('wakameSerial', {
      name: 'redis.wakame.tasks.c1',
      unit: 'msg/s',
      ceiling: 'redis.bullmq.tasks.c1',
      note: `TaskClient.send, ${WINDOW} in flight; Worker concurrency 1; ${TASK_COUNT_SERIAL} tasks, ${span} (Wakame/BullMQ)`,
    }),
  ];
}

export const redisTaskBenchmarks: readonly Benchmark[] = [{ name: 'redis.tasks', run: tasks }];
