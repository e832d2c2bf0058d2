import { randomUUID } from 'node:crypto';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { waitFor } from '@wakame/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Connection, type ConnectionOptions } from '../../src/messaging/connection.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import type { TaskHandlers } from '../../src/tasks/types.js';
import { Worker } from '../../src/tasks/worker.js';
import { defineTopology } from '../../src/topology/document.js';
import { memoryProvider, type RegisteredSdk, registerSdk } from '../messaging/otel-sdk.js';

const topology = defineTopology({
  version: 1,
  exchanges: [{ name: 'shop', type: 'direct' }],
  queues: [{ name: 'orders', bindings: [{ exchange: 'shop', routingKey: 'orders' }] }],
  tasks: [
    {
      name: 'order.ship',
      retry: { maxAttempts: 2, initialDelay: 1, factor: 1, maxDelay: 1, jitter: 0 },
      payload: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } },
    },
  ],
  routes: [{ match: 'order.*', exchange: 'shop', routingKey: 'orders' }],
});

let sdk: RegisteredSdk;
beforeAll(() => {
  sdk = registerSdk();
});
afterAll(() => sdk.unregister());
beforeEach(() => sdk.exporter.reset());

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function start(handlers: TaskHandlers<typeof topology>, options: ConnectionOptions = {}) {
  const connection = await Connection.open(`memory://${randomUUID()}`, options);
  const client = new TaskClient(connection, topology);
  const worker = new Worker({ connection, topology, handlers, concurrency: 1 });
  const running = worker.run();
  await waitFor(() => worker.health().status === 'ready', { what: 'the worker ready', timeoutMs: 30_000 });
  cleanup.push(async () => {
    await worker.stop({ deadline: 5_000 });
    await running;
    await client.close();
    await connection.close();
  });
  return { connection, client };
}

const finished = (): ReadableSpan[] => sdk.exporter.getFinishedSpans();
const named = (name: string): ReadableSpan[] => finished().filter((s) => s.name === name);

describe('tracing with the SDK registered (memory transport)', { timeout: 60_000 }, () => {
  it('makes a PRODUCER span per send and a CONSUMER span, its child, per handled message', async () => {
    const seen: (string | undefined)[] = [];
    const { client } = await start({
      'order.ship': (_payload, ctx) => {
        seen.push(trace.getActiveSpan()?.spanContext().spanId);
        return ctx.traceparent;
      },
    });
    const { id } = await client.send('order.ship', { orderId: 'o-1' });
    const process = await waitFor(() => named('process orders')[0], { what: 'the process span', timeoutMs: 30_000 });
    const [send] = named('send shop');
    expect(send).toBeDefined();
    if (!send) return;
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': 'shop',
      'wakame.routing_key': 'orders',
      'messaging.message.id': id,
      'wakame.task.name': 'order.ship',
    });
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.spanContext().traceId).toBe(send.spanContext().traceId);
    expect(process.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    expect(process.links.map((l) => l.context.spanId)).toEqual([send.spanContext().spanId]);
    expect(process.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'shop',
      'messaging.destination.subscription.name': 'orders',
      'messaging.message.id': id,
      'wakame.task.name': 'order.ship',
      'wakame.outcome': 'done',
    });
    expect(process.status.code).toBe(SpanStatusCode.UNSET);
    // The handler ran inside the consumer span.
    expect(seen).toEqual([process.spanContext().spanId]);
  });

  it('marks a failed handler: error status, the exception recorded, and the retry continues the trace', async () => {
    const { client } = await start({
      'order.ship': () => {
        throw new TypeError('no such warehouse');
      },
    });
    await client.send('order.ship', { orderId: 'o-2' });
    // Two attempts: two process spans, the second after the retry's publish.
    const processes = await waitFor(
      () => (named('process orders').length === 2 ? named('process orders') : undefined),
      {
        what: 'two process spans',
        timeoutMs: 30_000,
      },
    );
    const [first, second] = processes as [ReadableSpan, ReadableSpan];
    expect(first.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no such warehouse' });
    expect(first.attributes).toMatchObject({ 'error.type': 'TypeError', 'wakame.outcome': 'retry' });
    expect(first.events.find((e) => e.name === 'exception')?.attributes).toMatchObject({
      'exception.type': 'TypeError',
      'exception.message': 'no such warehouse',
    });
    expect(second.attributes).toMatchObject({ 'wakame.outcome': 'dead-letter' });
    // One trace: the retry was published from inside the first attempt's span.
    const traceIds = new Set(finished().map((s) => s.spanContext().traceId));
    expect(traceIds.size).toBe(1);
    const retrySend = finished().find(
      (s) => s.kind === SpanKind.PRODUCER && s.parentSpanContext?.spanId === first.spanContext().spanId,
    );
    expect(retrySend).toBeDefined();
  });

  it('makes a publish inside an active span its child', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    cleanup.push(() => connection.close());
    const queue = new Queue(`q-${randomUUID()}`);
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('checkout', async (parent) => {
      await connection.producer().publish({ n: 1 }, { routingKey: queue.name, declare: [queue] });
      parent.end();
    });
    const [send] = named(`send ${queue.name}`);
    const [checkout] = named('checkout');
    expect(send?.parentSpanContext?.spanId).toBe(checkout?.spanContext().spanId);
    // The default exchange: the destination is the queue the key names.
    expect(send?.attributes['messaging.destination.name']).toBe(queue.name);
    const message = await waitFor(() => queue.attach(connection).get(), { what: 'the message', timeoutMs: 30_000 });
    expect(String(message.headers.traceparent)).toMatch(
      new RegExp(`^00-${checkout?.spanContext().traceId}-${send?.spanContext().spanId}-01$`),
    );
  });

  it("replaces the propagator's headers a message already had, never merging them", async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    cleanup.push(() => connection.close());
    const queue = new Queue(`q-${randomUUID()}`);
    const stale = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'old=1' };
    await connection.producer().publish({ n: 1 }, { routingKey: queue.name, declare: [queue], headers: stale });
    const message = await waitFor(() => queue.attach(connection).get(), { what: 'the message', timeoutMs: 30_000 });
    const [send] = named(`send ${queue.name}`);
    expect(message.headers.traceparent).toBe(`00-${send?.spanContext().traceId}-${send?.spanContext().spanId}-01`);
    expect(message.headers).not.toHaveProperty('tracestate');
  });

  it('traces the handler of a bare Consumer too, failures included', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const queue = new Queue(`q-${randomUUID()}`);
    await connection.declare(queue);
    const handled = new Map<string | undefined, string | undefined>();
    const consumer = connection.consumer({
      queues: [queue],
      handler: async (message) => {
        handled.set(message.properties.messageId, trace.getActiveSpan()?.spanContext().spanId);
        await message.ack();
        if ((message.payload as { n: number }).n === 2) throw new RangeError('two');
      },
    });
    cleanup.push(async () => {
      await consumer.close();
      await connection.close();
    });
    await consumer.consume();
    const producer = connection.producer();
    await producer.publish({ n: 1 }, { routingKey: queue.name, messageId: 'm1' });
    await producer.publish({ n: 2 }, { routingKey: queue.name, messageId: 'm2' });
    await waitFor(() => named(`process ${queue.name}`).length === 2, { what: 'two process spans', timeoutMs: 30_000 });
    const of = (name: string, id: string) => named(name).find((s) => s.attributes['messaging.message.id'] === id);
    for (const id of ['m1', 'm2']) {
      const process = of(`process ${queue.name}`, id);
      expect(process?.parentSpanContext?.spanId).toBe(of(`send ${queue.name}`, id)?.spanContext().spanId);
      expect(handled.get(id)).toBe(process?.spanContext().spanId);
    }
    expect(of(`process ${queue.name}`, 'm1')?.status.code).toBe(SpanStatusCode.UNSET);
    expect(of(`process ${queue.name}`, 'm2')?.status.code).toBe(SpanStatusCode.ERROR);
    expect(of(`process ${queue.name}`, 'm2')?.attributes['error.type']).toBe('RangeError');
  });

  it('ends the send span with an error when the publish fails', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    cleanup.push(() => connection.close());
    await expect(connection.producer().publish({ n: 1 }, { exchange: 'nowhere', routingKey: 'x' })).rejects.toThrow(
      /nowhere/,
    );
    const [send] = named('send nowhere');
    expect(send?.kind).toBe(SpanKind.PRODUCER);
    expect(send?.status.code).toBe(SpanStatusCode.ERROR);
    expect(send?.attributes['error.type']).toBe('NotFoundError');
  });

  it('starts a new trace for a message sent without trace context', async () => {
    const { client } = await start({ 'order.ship': () => undefined }, {});
    // The sender's connection has tracing off: nothing travels.
    const sender = await Connection.open(client.connection.urls[0]?.redacted ?? '', { tracing: false });
    cleanup.push(() => sender.close());
    await new TaskClient(sender, topology).send('order.ship', { orderId: 'o-3' });
    const process = await waitFor(() => named('process orders')[0], { what: 'the process span', timeoutMs: 30_000 });
    expect(process.parentSpanContext).toBeUndefined();
    expect(process.links).toEqual([]);
    expect(named('send shop')).toEqual([]);
  });

  it('sends nothing and records nothing with tracing: false', async () => {
    const received: Readonly<Record<string, unknown>>[] = [];
    const { client } = await start(
      {
        'order.ship': (_payload, ctx) => {
          received.push(ctx.message.headers);
        },
      },
      { tracing: false },
    );
    await client.send('order.ship', { orderId: 'o-4' });
    await waitFor(() => received.length === 1, { what: 'the task', timeoutMs: 30_000 });
    expect(finished()).toEqual([]);
    expect(received[0]).not.toHaveProperty('traceparent');
    expect(client.connection.tracing.enabled).toBe(false);
  });

  it('sends spans to the tracer provider given, not the global one', async () => {
    const own = memoryProvider();
    cleanup.push(() => own.provider.shutdown());
    const { client } = await start({ 'order.ship': () => undefined }, { tracing: { tracerProvider: own.provider } });
    await client.send('order.ship', { orderId: 'o-5' });
    await waitFor(() => own.exporter.getFinishedSpans().some((s) => s.name === 'process orders'), {
      what: 'the process span in the given provider',
      timeoutMs: 30_000,
    });
    expect(own.exporter.getFinishedSpans().map((s) => s.name)).toEqual(
      expect.arrayContaining(['send shop', 'process orders']),
    );
    expect(own.exporter.getFinishedSpans().every((s) => s.instrumentationScope.name === '@wakame/core')).toBe(true);
    expect(finished()).toEqual([]);
  });
});
