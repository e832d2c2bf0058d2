import { randomUUID } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import { Exchange } from '../../src/model/exchange.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import { Worker } from '../../src/tasks/worker.js';
import { defineTopology } from '../../src/topology/document.js';
import { registerSdk } from '../messaging/otel-sdk.js';

// No SDK in this file: `@opentelemetry/api` is installed, but no tracer provider, propagator or context manager.
const topology = defineTopology({
  version: 1,
  exchanges: [{ name: 'work', type: 'direct' }],
  queues: [{ name: 'jobs', bindings: [{ exchange: 'work', routingKey: 'jobs' }] }],
  tasks: [{ name: 'job.run', retry: { maxAttempts: 2, initialDelay: 1, factor: 1, maxDelay: 1, jitter: 0 } }],
  routes: [{ match: '**', exchange: 'work', routingKey: 'jobs' }],
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('tracing without an SDK registered', { timeout: 60_000 }, () => {
  it('runs tasks, retries included, and adds no header', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const seen: { attempt: number; headers: Readonly<Record<string, unknown>>; span: unknown }[] = [];
    const worker = new Worker({
      connection,
      topology,
      concurrency: 1,
      handlers: {
        'job.run': (_payload, ctx) => {
          seen.push({ attempt: ctx.attempt, headers: ctx.message.headers, span: trace.getActiveSpan() });
          if (ctx.attempt === 1) throw new Error('first attempt fails');
        },
      },
    });
    const running = worker.run();
    const client = new TaskClient(connection, topology);
    cleanup.push(async () => {
      await worker.stop({ deadline: 5_000 });
      await running;
      await client.close();
      await connection.close();
    });
    expect(connection.tracing.enabled).toBe(true);
    await waitFor(() => worker.health().status === 'ready', { what: 'the worker ready', timeoutMs: 30_000 });
    await client.send('job.run', {});
    await waitFor(() => worker.health().processed === 1, { what: 'the retried task done', timeoutMs: 30_000 });
    expect(seen.map((s) => s.attempt)).toEqual([1, 2]);
    for (const { headers, span } of seen) {
      expect(Object.keys(headers).filter((k) => k === 'traceparent' || k === 'tracestate')).toEqual([]);
      // The API's no-op context manager keeps no active span.
      expect(span).toBeUndefined();
    }
  });

  it('traces once an SDK is registered after the connection was made', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const client = new TaskClient(connection, topology);
    await connection.declare(new Queue('jobs', { exchange: new Exchange('work'), routingKey: 'jobs' }));
    await client.send('job.run', {});
    const sdk = registerSdk();
    cleanup.push(async () => {
      await sdk.unregister();
      await client.close();
      await connection.close();
    });
    const { id } = await client.send('job.run', {});
    // Only the send made after the registration has a span.
    expect(sdk.exporter.getFinishedSpans().map((s) => [s.name, s.attributes['messaging.message.id']])).toEqual([
      ['send work', id],
    ]);
  });
});
