/**
 * Observers (what metrics and the health server are built on) hear each task's outcome and the stop, and one
 * that throws never breaks the worker: the tasks still run and ack, and the worker logs what it threw.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import { Worker } from '../../src/tasks/worker.js';
import type { ObservedTask } from '../../src/tasks/worker-observer.js';
import { defineTopology } from '../../src/topology/document.js';

const topology = defineTopology({
  queues: [{ name: 'jobs', bindings: [{ exchange: 'amq.direct', routingKey: 'jobs' }] }],
  tasks: [{ name: 'job.run', route: { exchange: 'amq.direct', routingKey: 'jobs' } }],
});

describe('worker observers', () => {
  it('are told of each task and of the stop; one that throws is logged and the worker goes on', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const errors: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (msg: string) => void errors.push(msg) };
    const ran: number[] = [];
    const worker = new Worker({
      connection,
      topology,
      logger,
      handlers: { 'job.run': (payload: unknown) => void ran.push((payload as { n: number }).n) },
    });
    const heard: ObservedTask[] = [];
    let stopped = 0;
    worker.observe({
      taskFinished: () => {
        throw new Error('a broken observer');
      },
    });
    worker.observe({ taskFinished: (task) => void heard.push(task), stopped: () => void stopped++ });
    try {
      const running = worker.run();
      await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
      const client = new TaskClient(connection, topology);
      for (let n = 0; n < 3; n++) await client.send('job.run', { n });
      await vi.waitFor(() => expect(heard).toHaveLength(3));
      expect(ran).toEqual([0, 1, 2]);
      expect(heard.map((t) => [t.task, t.type])).toEqual([
        ['job.run', 'done'],
        ['job.run', 'done'],
        ['job.run', 'done'],
      ]);
      expect(errors).toEqual(['a worker observer threw', 'a worker observer threw', 'a worker observer threw']);
      expect(await connection.admin.declareQueue(new Queue('jobs'), { passive: true })).toMatchObject({
        messageCount: 0,
      });
      await worker.stop({ deadline: 1_000 });
      await running;
      expect(stopped).toBe(1);
    } finally {
      await worker.stop({ deadline: 1_000 });
      await connection.close();
    }
  });
});
