import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AMQP_URL, brokerGate, waitFor } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import { type RegisteredSdk, registerSdk } from '../messaging/otel-sdk.js';
import { deadLetterQueueOf, tracedTopology } from './fixtures/traced-topology.js';

/** A span the worker process printed. */
interface PrintedSpan {
  readonly name: string;
  readonly kind: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly links: readonly { traceId: string; spanId: string }[];
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly status: { code: number; message?: string };
  readonly events: readonly { name: string; attributes?: Readonly<Record<string, unknown>> }[];
}

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const workerScript = fileURLToPath(new URL('./fixtures/traced-worker.ts', import.meta.url));
const gate = await brokerGate('tracing across processes', { name: 'rabbitmq', url: AMQP_URL });

describe.skipIf(gate === 'skip')('tracing across two processes (RabbitMQ)', { timeout: 120_000 }, () => {
  // Names of this run's own (auto-deleted) exchange and queue, and its dead-letter queue, deleted after.
  const suffix = `tracing-${randomUUID()}`;
  const topology = tracedTopology(suffix);
  const exchange = `shop-${suffix}`;
  const queue = `orders-${suffix}`;
  const printed: PrintedSpan[] = [];
  let ready = false;
  let stderr = '';
  let child: ChildProcess | undefined;
  let exited: Promise<unknown> | undefined;
  let sdk: RegisteredSdk;
  let connection: Connection;
  let client: TaskClient<typeof topology>;

  beforeAll(async () => {
    const url = AMQP_URL;
    sdk = registerSdk();
    connection = await Connection.open(url);
    client = new TaskClient(connection, topology);
    child = spawn(process.execPath, ['--conditions=@wakame/source', '--import', 'tsx', workerScript, url, suffix], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const running = child;
    exited = new Promise((resolve) => running.once('exit', resolve));
    running.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    createInterface({ input: running.stdout as NonNullable<typeof running.stdout> }).on('line', (text) => {
      const event = JSON.parse(text) as { event: string };
      if (event.event === 'ready') ready = true;
      else if (event.event === 'span') printed.push(event as unknown as PrintedSpan);
    });
    await waitFor(() => ready || running.exitCode !== null, { what: 'the worker process ready', timeoutMs: 90_000 });
    if (!ready) throw new Error(`the worker process exited: ${stderr}`);
  }, 120_000);

  afterAll(async () => {
    if (child?.pid !== undefined && child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await new Queue(deadLetterQueueOf(suffix))
      .attach(connection)
      .delete()
      .catch(() => undefined);
    await client?.close();
    await connection?.close();
    await sdk?.unregister();
  }, 60_000);

  /** The process span of `orderId`, once the worker process printed it. */
  const processSpanOf = (orderId: string): Promise<PrintedSpan> =>
    waitFor(
      () =>
        printed.find(
          (s) => s.name === `process ${queue}` && s.attributes['messaging.message.id'] === orderIds.get(orderId),
        ),
      { what: `the process span of ${orderId}`, timeoutMs: 60_000 },
    );
  const orderIds = new Map<string, string>();

  it("makes the worker's CONSUMER span a child of the sender's PRODUCER span, in one trace", async () => {
    await trace.getTracer('test').startActiveSpan('checkout', async (checkout) => {
      const { id } = await client.send('order.ship', { orderId: 'o-1' });
      orderIds.set('o-1', id);
      checkout.end();
    });
    const send = sdk.exporter.getFinishedSpans().find((s) => s.name === `send ${exchange}`);
    const checkout = sdk.exporter.getFinishedSpans().find((s) => s.name === 'checkout');
    expect(send?.parentSpanContext?.spanId).toBe(checkout?.spanContext().spanId);
    const process = await processSpanOf('o-1');
    expect(process.kind).toBe(SpanKind[SpanKind.CONSUMER]);
    expect(process.traceId).toBe(send?.spanContext().traceId);
    expect(process.parentSpanId).toBe(send?.spanContext().spanId);
    expect(process.links).toEqual([{ traceId: send?.spanContext().traceId, spanId: send?.spanContext().spanId }]);
    expect(process.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': exchange,
      'messaging.destination.subscription.name': queue,
      'messaging.rabbitmq.destination.routing_key': 'orders',
      'wakame.task.name': 'order.ship',
      'wakame.outcome': 'done',
    });
    expect(typeof process.attributes['messaging.rabbitmq.message.delivery_tag']).toBe('number');
    expect(send?.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': exchange,
      'messaging.rabbitmq.destination.routing_key': 'orders',
    });
  });

  it("records the handler's failure on the CONSUMER span in the other process", async () => {
    const { id } = await client.send('order.ship', { orderId: 'bad-2' });
    orderIds.set('bad-2', id);
    const process = await processSpanOf('bad-2');
    const send = sdk.exporter
      .getFinishedSpans()
      .find((s) => s.name === `send ${exchange}` && s.attributes['messaging.message.id'] === id);
    // No active span when sending: the send span starts the trace, the worker's span continues it.
    expect(send?.parentSpanContext).toBeUndefined();
    expect(process.traceId).toBe(send?.spanContext().traceId);
    expect(process.parentSpanId).toBe(send?.spanContext().spanId);
    expect(process.status).toEqual({ code: SpanStatusCode.ERROR, message: 'cannot ship bad-2' });
    expect(process.attributes).toMatchObject({ 'error.type': 'RangeError', 'wakame.outcome': 'dead-letter' });
    expect(process.events).toContainEqual({
      name: 'exception',
      attributes: expect.objectContaining({ 'exception.type': 'RangeError', 'exception.message': 'cannot ship bad-2' }),
    });
  });
});
