/**
 * Issue 12 on every transport (memory, file, Redis, RabbitMQ), each on a fresh broker (random
 * memory name, temp dir, Redis key prefix, RabbitMQ vhost):
 * - `send(…, { priority: 'high', messagePriority: 9 })` reaches hipri with message priority 9, and a
 *   numeric priority on a task of class low picks the class whose range holds it;
 * - tasks, retries, dead letters and replies go through the Producer: `producer.publish` events
 *   for each, and the client's compression on the wire.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { Connection, defineTopology, type Message, TASK_HEADERS, TaskClient, Worker } from '@wakame/core';
import {
  amqpUrlForVhost,
  brokerGate,
  createVhost,
  deleteVhost,
  RABBITMQ_MANAGEMENT_URL,
  REDIS_URL,
  redisUrl,
  waitFor,
} from '@wakame/testkit';
import { describe, expect, it } from 'vitest';

const amqpGate = await brokerGate('task publish path on RabbitMQ', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});
const redisGate = await brokerGate('task publish path on Redis', { name: 'redis', url: REDIS_URL });

const classQueue = (name: string) => ({
  name,
  maxPriority: 10,
  bindings: [{ exchange: 'tasks', routingKey: name }],
});

const topology = defineTopology({
  version: 1,
  exchanges: [{ name: 'tasks', type: 'direct' }],
  queues: [
    classQueue('hipri'),
    classQueue('midpri'),
    classQueue('lopri'),
    { name: 'jobs', bindings: [{ exchange: 'tasks', routingKey: 'jobs' }] },
  ],
  priorityClasses: { high: 'hipri', mid: 'midpri', low: 'lopri' },
  tasks: [
    {
      name: 'report.generate',
      priority: 'low',
      payload: { type: 'object', required: ['reportId'], properties: { reportId: { type: 'string' } } },
    },
    {
      name: 'job.run',
      route: { exchange: 'tasks', routingKey: 'jobs' },
      retry: { maxAttempts: 2, initialDelay: 10, factor: 1, maxDelay: 10, jitter: 0 },
      payload: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
    },
  ],
  routes: [{ match: '**', exchange: 'tasks' }],
});

async function take(connection: Connection, queue: string): Promise<Message> {
  const message = await waitFor(() => connection.getMessage(queue), { what: `a message on '${queue}'` });
  await message.ack();
  return message;
}

/** The whole check on one broker; `url` names a fresh, empty one. */
async function publishPath(url: string): Promise<void> {
  const connection = await Connection.open(url);
  const client = new TaskClient(connection, topology, { compression: 'zlib' });
  const published: { routingKey: string; messageId?: string }[] = [];
  const off = connection.events.on('producer.publish', (e) => {
    published.push({
      routingKey: e.payload.routingKey,
      ...(e.payload.messageId ? { messageId: e.payload.messageId } : {}),
    });
  });
  let worker: Worker | undefined;
  try {
    for (const e of client.topology.exchanges) await connection.admin.declareExchange(e);
    for (const q of client.topology.queues) await connection.admin.declareQueue(q);
    for (const b of client.topology.bindings) await connection.admin.bind(b);

    // Priority within a class, and a number that picks its class.
    const payload = { reportId: 'r1' };
    await client.send('report.generate', payload, { priority: 'high', messagePriority: 9 });
    await client.send('report.generate', payload, { priority: 5 });
    await client.send('report.generate', payload);
    const high = await take(connection, 'hipri');
    expect(high.properties.priority).toBe(9);
    expect(high.headers.compression).toBe('application/x-gzip');
    expect(JSON.parse(inflateSync(high.rawBody).toString())).toEqual(payload);
    expect(high.payload).toEqual(payload);
    expect((await take(connection, 'midpri')).properties.priority).toBe(5);
    expect((await take(connection, 'lopri')).properties.priority ?? 0).toBe(0);
    expect(published.map((p) => p.routingKey)).toEqual(['hipri', 'midpri', 'lopri']);

    // Retry, dead letter and reply publish through the Producer too.
    published.length = 0;
    const attempts: number[] = [];
    worker = new Worker({
      connection,
      topology,
      queues: ['jobs'],
      handlers: {
        'job.run': ({ n }, ctx) => {
          attempts.push(ctx.attempt);
          if (n < 0) throw new Error('negative');
          return n * 2;
        },
      },
    });
    void worker.run();
    await waitFor(() => worker?.health().status === 'ready');
    await expect(client.call('job.run', { n: 21 }, { timeout: 10_000 })).resolves.toBe(42);
    const { id } = await client.send('job.run', { n: -1 });
    await waitFor(() => worker?.health().deadLettered === 1, { timeoutMs: 15_000 });
    const dead = await take(connection, 'wakame.dead-letter');
    expect(dead.payload).toEqual({ n: -1 });
    expect(dead.headers.compression).toBe('application/x-gzip');
    expect(dead.headers[TASK_HEADERS.deadLetterReason]).toMatchObject({ reason: 'failed', attempts: 2 });
    expect(attempts).toEqual([1, 1, 2]);
    const keys = published.map((p) => p.routingKey);
    // The call and its reply: the reply may be confirmed before the call's own publish is.
    expect(keys.slice(0, 2)).toEqual(
      expect.arrayContaining(['jobs', expect.stringMatching(/^(amq\.rabbitmq\.reply-to|wakame\.reply\.)/)]),
    );
    expect(keys.slice(2)).toEqual(['jobs', expect.stringMatching(/^wakame\.delay\.1000ms\./), 'wakame.dead-letter']);
    expect(published.slice(2).every((p) => p.messageId === id)).toBe(true);
  } finally {
    off();
    await worker?.stop({ deadline: 2_000 });
    await client.close();
    await connection.close();
  }
}

describe('task publish path and priorities: memory and file', () => {
  it('memory', () => publishPath(`memory://${randomUUID()}`), 30_000);

  it('file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-tasks-'));
    try {
      await publishPath(`file://${dir}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe.skipIf(redisGate === 'skip')('task publish path and priorities: Redis', () => {
  it('redis (fresh key prefix)', async () => {
    const prefix = `tpp-${randomBytes(4).toString('hex')}:`;
    const url = redisUrl(7, `keyprefix=${prefix}`);
    try {
      await publishPath(url);
    } finally {
      // Leave nothing behind in the shared database.
      const connection = await Connection.open(url);
      try {
        const { queues, exchanges } = await connection.admin.inspect();
        for (const q of queues) await connection.admin.deleteQueue(q.name).catch(() => undefined);
        for (const e of exchanges) await connection.admin.deleteExchange(e.name).catch(() => undefined);
      } finally {
        await connection.close();
      }
    }
  }, 30_000);
});

describe.skipIf(amqpGate === 'skip')('task publish path and priorities: RabbitMQ', () => {
  it('rabbitmq (fresh vhost)', async () => {
    const vhost = `wakame-tpp-${randomUUID()}`;
    await createVhost(vhost);
    try {
      await publishPath(amqpUrlForVhost(vhost));
    } finally {
      await deleteVhost(vhost);
    }
  }, 30_000);
});
