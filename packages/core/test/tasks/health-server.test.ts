/**
 * The worker's health server on the memory transport, over real HTTP: /healthz follows the event loop, /readyz the
 * subscriptions (503 while a queue cannot be consumed, 200 again after), /metrics counts exactly what was processed.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HealthServerError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import type { HealthServer } from '../../src/tasks/health-server.js';
import { Worker } from '../../src/tasks/worker.js';
import { defineTopology } from '../../src/topology/document.js';
import { parsePrometheus, sampleValue } from './prometheus-text.js';

const topology = defineTopology({
  queues: [{ name: 'jobs', bindings: [{ exchange: 'amq.direct', routingKey: 'jobs' }] }],
  tasks: [
    { name: 'job.ok', route: { exchange: 'amq.direct', routingKey: 'jobs' } },
    {
      name: 'job.fail',
      route: { exchange: 'amq.direct', routingKey: 'jobs' },
      retry: { maxAttempts: 2, initialDelay: 1, factor: 1, maxDelay: 1, jitter: 0 },
    },
  ],
});

async function get(server: HealthServer, path: string): Promise<{ status: number; body: string; type: string }> {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') ?? '' };
}

/** Blocks the event loop (what a stuck handler does). */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

describe('worker.serveHealth() on memory://', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function taskWorker() {
    const name = `memory://${randomUUID()}`;
    const connection = await Connection.open(name);
    // The client publishes on a connection of its own: the worker's counts only what the worker published.
    const clientConnection = await Connection.open(name);
    const client = new TaskClient(clientConnection, topology);
    const worker = new Worker({
      connection,
      topology,
      concurrency: 4,
      handlers: {
        'job.ok': () => undefined,
        'job.fail': () => {
          throw new RangeError('no');
        },
      },
    });
    cleanup.push(async () => {
      await worker.stop({ deadline: 1_000 });
      await client.close();
      await clientConnection.close();
      await connection.close();
    });
    return { connection, client, worker };
  }

  it('binds 127.0.0.1 on a free port; /readyz is 503 before run() and 200 once every queue is subscribed', async () => {
    const { worker } = await taskWorker();
    const server = await worker.serveHealth({ port: 0 });
    cleanup.push(() => server.close());
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);

    const before = await get(server, '/readyz');
    expect(before.status).toBe(503);
    expect(JSON.parse(before.body)).toMatchObject({
      ready: false,
      status: 'idle',
      queues: [{ queue: 'jobs', subscribed: false }],
    });

    void worker.run();
    await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
    const after = await get(server, '/readyz');
    expect(after.status).toBe(200);
    expect(after.type).toContain('application/json');
    expect(JSON.parse(after.body)).toMatchObject({
      ready: true,
      status: 'ready',
      queues: [{ queue: 'jobs', subscribed: true, consumers: 1, inFlight: 0 }],
      inFlight: 0,
    });
    expect((await get(server, '/healthz')).status).toBe(200);
    expect((await get(server, '/nope')).status).toBe(404);
    expect((await fetch(`${server.url}/readyz`, { method: 'POST' })).status).toBe(405);
  });

  it('counts in /metrics exactly the messages processed, per queue, task and outcome', async () => {
    const { client, worker } = await taskWorker();
    const server = await worker.serveHealth();
    cleanup.push(() => server.close());
    void worker.run();
    await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
    for (let n = 0; n < 7; n++) await client.send('job.ok', {});
    for (let n = 0; n < 2; n++) await client.send('job.fail', {});
    // Each failing task runs twice (one retry), then is dead-lettered.
    await vi.waitFor(() => expect(worker.health()).toMatchObject({ processed: 7, deadLettered: 2 }));

    const scrape = await get(server, '/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.type).toContain('text/plain');
    const samples = parsePrometheus(scrape.body);
    const task = (name: string, outcome: string) =>
      sampleValue(samples, 'wakame_tasks_total', { queue: 'jobs', task: name, outcome });
    expect(task('job.ok', 'done')).toBe(7);
    expect(task('job.fail', 'retried')).toBe(2);
    expect(task('job.fail', 'dead_lettered')).toBe(2);
    expect(sampleValue(samples, 'wakame_messages_received_total', { queue: 'jobs' })).toBe(11);
    expect(sampleValue(samples, 'wakame_messages_settled_total', { queue: 'jobs', outcome: 'ack' })).toBe(11);
    expect(sampleValue(samples, 'wakame_task_duration_seconds_count', { task: 'job.ok' })).toBe(7);
    expect(sampleValue(samples, 'wakame_task_duration_seconds_count', { task: 'job.fail' })).toBe(4);
    expect(sampleValue(samples, 'wakame_task_duration_seconds_bucket', { task: 'job.ok', le: '+Inf' })).toBe(7);
    expect(sampleValue(samples, 'wakame_messages_in_flight', { queue: 'jobs' })).toBe(0);
    expect(sampleValue(samples, 'wakame_consumer_prefetch', { queue: 'jobs' })).toBe(4);
    expect(sampleValue(samples, 'wakame_queue_messages', { queue: 'jobs' })).toBe(0);
    expect(sampleValue(samples, 'wakame_queue_subscribed', { queue: 'jobs' })).toBe(1);
    expect(sampleValue(samples, 'wakame_worker_ready')).toBe(1);
    expect(sampleValue(samples, 'wakame_connection_reconnects_total')).toBe(0);
    // Retries and dead letters are publishes the broker confirmed.
    expect(sampleValue(samples, 'wakame_publish_confirm_duration_seconds_count')).toBe(4);
    // Bounded labels: nothing carries a message id.
    expect(
      samples.every((s) => Object.keys(s.labels).every((k) => ['queue', 'task', 'outcome', 'le'].includes(k))),
    ).toBe(true);
  });

  it('samples queue depth at scrape time', async () => {
    const { client, worker } = await taskWorker();
    const server = await worker.serveHealth({ queueDepth: { cacheMs: 0, timeoutMs: 1_000 } });
    cleanup.push(() => server.close());
    void worker.run();
    await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
    await worker.stop({ deadline: 1_000 });
    // Stopped, the worker closed the server; a second one on its connection reads the queue while nobody consumes.
    expect((await fetch(`${server.url}/metrics`).catch((error: unknown) => error)) instanceof Error).toBe(true);
    for (let n = 0; n < 3; n++) await client.send('job.ok', {});
    const again = await worker.serveHealth({ queueDepth: { cacheMs: 0, timeoutMs: 1_000 } });
    cleanup.push(() => again.close());
    const samples = parsePrometheus((await get(again, '/metrics')).body);
    expect(sampleValue(samples, 'wakame_queue_messages', { queue: 'jobs' })).toBe(3);
    expect(sampleValue(samples, 'wakame_worker_ready')).toBe(0);
  });

  it('gives two workers in one process registries of their own', async () => {
    const a = await taskWorker();
    const b = await taskWorker();
    const [serverA, serverB] = [await a.worker.serveHealth(), await b.worker.serveHealth()];
    cleanup.push(
      () => serverA.close(),
      () => serverB.close(),
    );
    expect(serverA.registry).not.toBe(serverB.registry);
    void a.worker.run();
    void b.worker.run();
    await vi.waitFor(() => expect(a.worker.health().healthy && b.worker.health().healthy).toBe(true));
    await a.client.send('job.ok', {});
    await vi.waitFor(() => expect(a.worker.health().processed).toBe(1));
    const countOf = async (server: HealthServer) =>
      sampleValue(parsePrometheus((await get(server, '/metrics')).body), 'wakame_tasks_total', {
        task: 'job.ok',
        outcome: 'done',
      }) ?? 0;
    expect(await countOf(serverA)).toBe(1);
    expect(await countOf(serverB)).toBe(0);
  });

  it('flips /readyz to 503 while a queue cannot be subscribed, and back to 200 once it can', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    await connection.declare(new Queue('audit'));
    let failed: () => void = () => undefined;
    const failing = new Promise<void>((resolve) => {
      failed = resolve;
    });
    const worker = new Worker({
      connection,
      restartBackoff: { initialDelayMs: 1, maxDelayMs: 20 },
      onConnectionError: () => failed(),
      // A queue given by name is not declared by the worker: deleted, it stays gone until declared again.
      consumers: [{ queues: ['audit'], accept: ['text'], handler: (m) => m.ack() }],
    });
    cleanup.push(async () => {
      await worker.stop({ deadline: 1_000 });
      await connection.close();
    });
    const server = await worker.serveHealth();
    cleanup.push(() => server.close());
    void worker.run();
    await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
    expect((await get(server, '/readyz')).status).toBe(200);

    await connection.admin.deleteQueue('audit');
    await failing;
    const down = await get(server, '/readyz');
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toMatchObject({
      ready: false,
      queues: [{ queue: 'audit', subscribed: false, lastError: { source: 'broker' } }],
    });
    expect(sampleValue(parsePrometheus((await get(server, '/metrics')).body), 'wakame_worker_ready')).toBe(0);

    await connection.declare(new Queue('audit'));
    await vi.waitFor(async () => expect((await get(server, '/readyz')).status).toBe(200));
  });

  it('answers /healthz 503 after the event loop stalled beyond the threshold, and 200 again after the window', async () => {
    const { worker } = await taskWorker();
    const strict = await worker.serveHealth({ stallThresholdMs: 100, stallWindowMs: 60_000, intervalMs: 10 });
    const forgiving = await worker.serveHealth({ stallThresholdMs: 100, stallWindowMs: 50, intervalMs: 10 });
    cleanup.push(
      () => strict.close(),
      () => forgiving.close(),
    );
    expect((await get(strict, '/healthz')).status).toBe(200);
    stall(250);
    const stalled = await get(strict, '/healthz');
    expect(stalled.status).toBe(503);
    expect(JSON.parse(stalled.body)).toMatchObject({
      status: 'stalled',
      eventLoop: { stalled: true, thresholdMs: 100, lastStall: { delayMs: expect.any(Number) } },
    });
    expect(JSON.parse(stalled.body).eventLoop.lastStall.delayMs).toBeGreaterThanOrEqual(100);
    await vi.waitFor(async () => expect((await get(forgiving, '/healthz')).status).toBe(200));
  });

  it('costs nothing unless served: no event listener before serveHealth() nor after close()', async () => {
    const { connection, worker } = await taskWorker();
    // (The worker itself listens to connection.lost; these are the metrics' own.)
    const watched = ['consumer.deliver', 'message.settle', 'producer.publish'] as const;
    const listening = () => watched.filter((type) => connection.events.listening(type));
    void worker.run();
    await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
    expect(listening()).toEqual([]);
    const server = await worker.serveHealth();
    expect(listening()).toEqual(watched);
    await server.close();
    expect(listening()).toEqual([]);
  });

  it('rejects a port already taken with a HealthServerError', async () => {
    const { worker } = await taskWorker();
    const first = await worker.serveHealth();
    cleanup.push(() => first.close());
    const second = await worker.serveHealth({ port: first.port }).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(HealthServerError);
    expect(second).toMatchObject({ code: 'ERR_HEALTH_SERVER', message: expect.stringContaining('EADDRINUSE') });
  });
});
