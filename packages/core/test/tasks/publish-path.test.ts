/**
 * Tasks publish through the Producer (issue 12): sends, delayed sends, retries, dead letters and
 * replies are compressed, bounded and instrumented like any `Producer.publish`.
 */
import { randomUUID } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type ConnectionOptions } from '../../src/messaging/connection.js';
import type { WakameEvents } from '../../src/messaging/events.js';
import { publishOptionsOf } from '../../src/messaging/producer.js';
import { Exchange } from '../../src/model/exchange.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient, type TaskClientOptions } from '../../src/tasks/client.js';
import { TASK_HEADERS } from '../../src/tasks/protocol.js';
import type { TaskHandlers } from '../../src/tasks/types.js';
import { Worker } from '../../src/tasks/worker.js';
import { defineTopology } from '../../src/topology/document.js';

const topology = defineTopology({
  version: 1,
  exchanges: [{ name: 'tasks', type: 'direct' }],
  queues: [{ name: 'jobs', bindings: [{ exchange: 'tasks', routingKey: 'jobs' }] }],
  tasks: [
    {
      name: 'job.run',
      retry: { maxAttempts: 2, initialDelay: 5, factor: 1, maxDelay: 5, jitter: 0 },
      payload: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
    },
  ],
  routes: [{ match: '**', exchange: 'tasks', routingKey: 'jobs' }],
});

type Published = WakameEvents['producer.publish'];

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('tasks publish through the Producer', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(
    options: {
      client?: TaskClientOptions;
      connection?: ConnectionOptions;
      handlers?: TaskHandlers<typeof topology>;
    } = {},
  ) {
    const connection = await Connection.open(`memory://${randomUUID()}`, options.connection);
    await connection.declare(new Queue('jobs', { exchange: new Exchange('tasks'), routingKey: 'jobs' }));
    const client = new TaskClient(connection, topology, options.client);
    const published: Published[] = [];
    const off = connection.events.on('producer.publish', (e) => {
      published.push(e.payload);
    });
    const worker = options.handlers ? new Worker({ connection, topology, handlers: options.handlers }) : undefined;
    cleanup.push(async () => {
      off();
      await worker?.stop({ deadline: 1_000 });
      await client.close();
      await connection.close();
    });
    return { connection, client, published, worker };
  }

  it('send emits producer.publish with the task id', async () => {
    const { client, published } = await setup();
    const { id } = await client.send('job.run', { text: 'hi' });
    // confirmMs: the publish's confirm latency, present whenever someone listens (0d4e5c1).
    expect(published).toEqual([
      { exchange: 'tasks', routingKey: 'jobs', bytes: 13, messageId: id, confirmMs: expect.any(Number) },
    ]);
  });

  it("compression: 'zlib' on the client compresses the body on the wire (delayed sends too)", async () => {
    const { client, connection, published } = await setup({ client: { compression: 'zlib' } });
    const payload = { text: 'x'.repeat(1_000) };
    await client.send('job.run', payload);
    await client.send('job.run', payload, { delay: 20 });
    expect(published.map((p) => p.bytes)).toEqual([expect.any(Number), expect.any(Number)]);
    expect(published[0]?.bytes).toBeLessThan(100);
    expect(published[1]?.routingKey).toMatch(/^wakame\.delay\.1000ms\./);
    const queue = new Queue('jobs').attach(connection);
    for (let i = 0; i < 2; i++) {
      let message = await queue.get();
      while (!message) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        message = await queue.get();
      }
      expect(message.headers.compression).toBe('application/x-gzip');
      expect(message.contentType).toBe('application/json');
      expect(JSON.parse(inflateSync(message.rawBody).toString())).toEqual(payload);
      expect(message.payload).toEqual(payload);
      await message.ack();
    }
  });

  it('refuses an oversized task with ERR_PAYLOAD_TOO_LARGE and sends nothing', async () => {
    const { client, connection, published } = await setup({ connection: { maxBodyBytes: 1_024 } });
    await expect(client.send('job.run', { text: 'x'.repeat(2_000) })).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_TOO_LARGE',
    });
    await expect(client.send('job.run', { text: 'x'.repeat(2_000) }, { delay: 10 })).rejects.toMatchObject({
      code: 'ERR_PAYLOAD_TOO_LARGE',
    });
    expect(published).toEqual([]);
    expect(await new Queue('jobs').attach(connection).messageCount()).toBe(0);
  });

  it('retries and dead letters emit producer.publish; a compressed task stays compressed once', async () => {
    const seen: { attempt: number; raw: Buffer; text: string }[] = [];
    const { client, connection, published, worker } = await setup({
      client: { compression: 'zlib' },
      handlers: {
        'job.run': ({ text }, ctx) => {
          seen.push({ attempt: ctx.attempt, raw: ctx.message.rawBody, text });
          throw new Error(`fail ${ctx.attempt}`);
        },
      },
    });
    void worker?.run();
    await until(() => worker?.health().status === 'ready');
    const { id } = await client.send('job.run', { text: 'again' });
    await until(() => worker?.health().deadLettered === 1);
    expect(seen.map((s) => [s.attempt, s.text])).toEqual([
      [1, 'again'],
      [2, 'again'],
    ]);
    // The retry re-published the body as it travelled: inflating once gives the JSON.
    expect(JSON.parse(inflateSync(seen[1]?.raw as Buffer).toString())).toEqual({ text: 'again' });
    expect(published.map((p) => p.routingKey)).toEqual([
      'jobs',
      expect.stringMatching(/^wakame\.delay\.1000ms\./),
      'wakame.dead-letter',
    ]);
    expect(published.every((p) => p.messageId === id)).toBe(true);
    const dead = await new Queue('wakame.dead-letter').attach(connection).get();
    expect(dead?.headers.compression).toBe('application/x-gzip');
    expect(dead?.payload).toEqual({ text: 'again' });
    expect(dead?.headers[TASK_HEADERS.deadLetterReason]).toMatchObject({ reason: 'failed', attempts: 2 });
    await dead?.ack();
  });

  it('replies emit producer.publish, compressed like the request', async () => {
    const { client, published, worker } = await setup({
      client: { compression: 'zlib' },
      handlers: { 'job.run': ({ text }) => text.toUpperCase() },
    });
    void worker?.run();
    await until(() => worker?.health().status === 'ready');
    await expect(client.call('job.run', { text: 'shout' }, { timeout: 5_000 })).resolves.toBe('SHOUT');
    expect(published).toHaveLength(2);
    expect(published[1]).toMatchObject({ exchange: '', routingKey: expect.stringMatching(/^wakame\.reply\./) });
  });

  it('a result over the body bound fails the call at once with PayloadTooLargeError', async () => {
    const { client, connection, worker } = await setup({
      connection: { maxBodyBytes: 512 },
      handlers: { 'job.run': ({ text }) => text.repeat(1_000) },
    });
    void worker?.run();
    await until(() => worker?.health().status === 'ready');
    await expect(client.call('job.run', { text: 'big' }, { timeout: 5_000 })).rejects.toMatchObject({
      code: 'ERR_TASK_FAILED',
      remote: { name: 'PayloadTooLargeError' },
    });
    await until(() => worker?.health().processed === 1);
    expect(await new Queue('jobs').attach(connection).messageCount()).toBe(0);
  });

  it('publishOptionsOf re-publishes a consumed message with the same properties (but its expiration)', async () => {
    const { connection } = await setup();
    const producer = connection.producer();
    await producer.publish('body', {
      routingKey: 'jobs',
      contentType: 'text/csv',
      contentEncoding: 'latin1',
      headers: { a: 1 },
      persistent: false,
      priority: 3,
      expiration: 60_000,
      replyTo: 'r',
      correlationId: 'c',
      messageId: 'm',
      timestamp: 1_700_000_000_000,
      type: 't',
      appId: 'app',
      userId: 'guest',
      compression: 'gzip',
    });
    const queue = new Queue('jobs').attach(connection);
    const first = await queue.get();
    if (!first) throw new Error('no message');
    await producer.publish(first.rawBody, { ...publishOptionsOf(first.properties), routingKey: 'jobs' });
    await first.ack();
    const second = await queue.get();
    const { expiration, ...kept } = first.properties;
    expect(expiration).toBe('60000');
    expect(second?.properties).toEqual(kept);
    expect(second?.rawBody).toEqual(first.rawBody);
    expect(second?.body.toString('latin1')).toBe('body');
    await second?.ack();
  });
});
