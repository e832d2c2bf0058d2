/**
 * The worker for any messages (kombu's ConsumerMixin), on the memory transport: plain consumers with accept lists,
 * the subclass form and its hooks, restart with backoff, per-queue health, and a worker running tasks and a plain
 * consumer together.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import type { Consumer } from '../../src/messaging/consumer.js';
import type { Message } from '../../src/messaging/message.js';
import { Exchange } from '../../src/model/exchange.js';
import { broadcast, Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import { ConsumerMixin, type ConsumerSpec, Worker } from '../../src/tasks/worker.js';
import { defineTopology } from '../../src/topology/document.js';

const work = () => new Queue('work', { exchange: new Exchange('jobs', { type: 'direct' }), routingKey: 'work' });

describe('a worker for any messages', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function open(): Promise<Connection> {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    cleanup.push(() => connection.close());
    return connection;
  }

  it('runs text, JSON and raw messages from a direct and a fanout queue through handlers, per accept list', async () => {
    const connection = await open();
    const seen: { queue: string; payload: unknown; contentType: string | undefined }[] = [];
    const record = async (message: Message) => {
      seen.push({ queue: message.queue, payload: message.payload, contentType: message.contentType });
      await message.ack();
    };
    const events = broadcast('events', { queuePrefix: 'events' });
    const undecodable: Error[] = [];
    const worker = new Worker({
      connection,
      consumers: [
        { queues: [work()], accept: ['json', 'text', 'raw'], handler: record },
        {
          queues: [events],
          accept: ['json', 'text'],
          handler: record,
          onDecodeError: async (m, e) => {
            undecodable.push(e);
            await m.reject();
          },
        },
      ],
    });
    cleanup.push(() => worker.stop({ deadline: 1_000 }));
    void worker.run();
    await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
    const toWork = connection.producer({ exchange: 'jobs', routingKey: 'work' });
    const toAll = connection.producer({ exchange: 'events' });
    for (const producer of [toWork, toAll]) {
      await producer.publish({ id: 1 });
      await producer.publish('plain text');
      await producer.publish(Buffer.from([0, 1, 2]));
    }
    await vi.waitFor(() => expect(worker.health()).toMatchObject({ processed: 5, failed: 1 }));
    expect(seen.filter((s) => s.queue === 'work')).toEqual([
      { queue: 'work', payload: { id: 1 }, contentType: 'application/json' },
      { queue: 'work', payload: 'plain text', contentType: 'text/plain' },
      { queue: 'work', payload: Buffer.from([0, 1, 2]), contentType: 'application/data' },
    ]);
    // application/data is trusted (kombu's rule) only where accepted: the fanout consumer does not accept raw.
    expect(seen.filter((s) => s.queue === events.name).map((s) => s.payload)).toEqual([{ id: 1 }, 'plain text']);
    expect(undecodable.map((e) => e.name)).toEqual(['ContentNotAcceptedError']);
    expect(worker.health().deadLettered).toBe(0);
    // No task machinery: nothing was dead-lettered as an unknown task.
    await expect(connection.admin.declareQueue(new Queue('wakame.dead-letter'), { passive: true })).rejects.toThrow();
  });

  it('a handler that throws: the message is requeued once, then rejected; counted as failed', async () => {
    const connection = await open();
    const attempts: boolean[] = [];
    const worker = new Worker({
      connection,
      consumers: [
        {
          queues: [work()],
          handler: (message) => {
            attempts.push(message.redelivered);
            throw new RangeError('no good');
          },
        },
      ],
    });
    cleanup.push(() => worker.stop({ deadline: 1_000 }));
    void worker.run();
    await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
    await connection.producer({ exchange: 'jobs', routingKey: 'work' }).publish({ n: 1 });
    await vi.waitFor(() => expect(worker.health().failed).toBe(2));
    expect(attempts).toEqual([false, true]);
    expect(worker.health().queues[0]?.lastError).toMatchObject({ source: 'handler', name: 'RangeError' });
    expect(await new Queue('work').attach(connection).messageCount()).toBe(0);
  });

  it('autoAck acks what the handler left unsettled', async () => {
    const connection = await open();
    const worker = new Worker({ connection, consumers: [{ queues: [work()], autoAck: true, handler: () => {} }] });
    cleanup.push(() => worker.stop({ deadline: 1_000 }));
    void worker.run();
    await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
    await connection.producer({ exchange: 'jobs', routingKey: 'work' }).publish({ x: 1 });
    await vi.waitFor(() => expect(worker.health().processed).toBe(1));
    await worker.stop();
    expect(await new Queue('work').attach(connection).messageCount()).toBe(0);
  });

  it('says what it needs: handlers or consumers, and a topology with handlers', () => {
    expect(() => new Worker({ connection: 'memory://' })).toThrow(/nothing to run/);
    expect(() => new Worker({ connection: 'memory://', handlers: {} })).toThrow(/need the topology/);
  });
});

describe('ConsumerMixin, the subclass form', () => {
  /** Records its hooks; `getConsumers` fails `failures` times (a broker not ready) before answering. */
  class Recorder extends ConsumerMixin {
    readonly calls: string[] = [];
    readonly received: unknown[] = [];
    failures = 0;

    protected getConsumers(): ConsumerSpec[] {
      if (this.failures-- > 0) throw new ConnectionError('broker not ready');
      this.calls.push('getConsumers');
      return [
        {
          queues: [broadcast('events', { queuePrefix: 'rec' }), work()],
          accept: ['json', 'text'],
          handler: async (message) => {
            this.received.push(message.payload);
            await message.ack();
          },
        },
      ];
    }

    protected override onConnectionRevived(): void {
      this.calls.push('revived');
    }

    protected override onConsumeReady(consumers: readonly Consumer[]): void {
      this.calls.push(`ready ${consumers.length}`);
    }

    protected override onConnectionError(_error: unknown, delayMs: number): void {
      this.calls.push(`error ${delayMs}`);
    }

    protected override onConsumeEnd(): void {
      this.calls.push('end');
    }
  }

  it('calls the hooks in order, restarts with doubling backoff, and asks for the consumers at each start', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const worker = new Recorder({ connection, restartBackoff: { initialDelayMs: 5, maxDelayMs: 15 } });
    worker.failures = 3;
    try {
      void worker.run();
      await vi.waitFor(() => expect(worker.calls).toContain('ready 1'));
      expect(worker.calls).toEqual([
        'revived',
        'error 5',
        'revived',
        'error 10',
        'revived',
        'error 15',
        'revived',
        'getConsumers',
        'ready 1',
      ]);
      const first = worker.queues[0] as string;
      expect(first).toMatch(/^rec\./);
      await connection.producer({ exchange: 'events' }).publish('hello');
      await vi.waitFor(() => expect(worker.received).toEqual(['hello']));

      // The broker drops the broadcast queue: the worker starts again (backoff reset), on a new broadcast queue.
      worker.calls.length = 0;
      await connection.admin.deleteQueue(first);
      await vi.waitFor(() => expect(worker.calls).toContain('ready 1'));
      expect(worker.calls).toEqual(['error 5', 'revived', 'getConsumers', 'ready 1']);
      expect(worker.queues[0]).not.toBe(first);
      expect(worker.health().healthy).toBe(true);
      await connection.producer({ exchange: 'jobs', routingKey: 'work' }).publish({ n: 2 });
      await vi.waitFor(() => expect(worker.received).toEqual(['hello', { n: 2 }]));
    } finally {
      await worker.stop({ deadline: 1_000 });
      await connection.close();
    }
    expect(worker.calls.at(-1)).toBe('end');
  });

  it('run() rejects when getConsumers has a bug (not a broker error), and the worker is stopped', async () => {
    class Broken extends ConsumerMixin {
      protected getConsumers(): ConsumerSpec[] {
        throw new TypeError('oops');
      }
    }
    const worker = new Broken({ connection: `memory://${randomUUID()}` });
    await expect(worker.run()).rejects.toThrow(TypeError);
    expect(worker.health()).toMatchObject({ status: 'stopped', healthy: false });
  });
});

describe('per-queue health of plain consumers', () => {
  it('lists every consumer queue: subscribed, consumers, last delivery, last error; a lost queue says why', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    await connection.declare(new Queue('audit'));
    let onReady: () => void = () => {};
    const nextReady = () =>
      new Promise<void>((resolve) => {
        onReady = resolve;
      });
    const worker = new Worker({
      connection,
      onConsumeReady: () => onReady(),
      consumers: [
        { queues: [work()], handler: (m) => m.ack() },
        {
          queues: ['audit'],
          accept: ['text'],
          handler: (m) => {
            if (m.payload === 'bad') throw new Error('bad entry');
            return m.ack();
          },
        },
      ],
    });
    try {
      expect(worker.health()).toMatchObject({
        status: 'idle',
        healthy: false,
        queues: [
          { queue: 'work', subscribed: false },
          { queue: 'audit', subscribed: false },
        ],
      });
      const ready = nextReady();
      void worker.run();
      await ready;
      expect(worker.health().queues.map((q) => q.subscribed)).toEqual([true, true]);
      expect((await worker.checkHealth()).queues.map((q) => q.consumers)).toEqual([1, 1]);

      const before = Date.now();
      await connection.producer({ routingKey: 'audit' }).publish('bad');
      await vi.waitFor(() => expect(worker.health().failed).toBe(2));
      const [workHealth, audit] = worker.health().queues;
      expect(workHealth).not.toHaveProperty('lastDeliveryAt');
      expect(audit?.lastDeliveryAt).toBeGreaterThanOrEqual(before);
      expect(audit?.lastError).toMatchObject({ source: 'handler', name: 'Error', message: 'bad entry' });

      const resubscribed = nextReady();
      await connection.admin.deleteQueue('work');
      await resubscribed;
      const after = worker.health();
      expect(after.healthy).toBe(true);
      expect(after.queues[0]?.lastError).toMatchObject({
        source: 'broker',
        message: expect.stringContaining("'work'"),
      });
    } finally {
      await worker.stop({ deadline: 1_000 });
      await connection.close();
    }
    expect(worker.health().queues.every((q) => !q.subscribed)).toBe(true);
  });
});

describe('tasks and plain consumers in one worker', () => {
  const topology = defineTopology({
    queues: [{ name: 'tasks', bindings: [{ exchange: 'amq.direct', routingKey: 'tasks' }] }],
    tasks: [
      {
        name: 'mail.send',
        route: { exchange: 'amq.direct', routingKey: 'tasks' },
        payload: { type: 'object', required: ['to'], properties: { to: { type: 'string' } } },
      },
    ],
  });

  it('runs both on one connection; tasks first in queues and consumers; one health for all', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const client = new TaskClient(connection, topology);
    const mails: string[] = [];
    const audit: unknown[] = [];
    let ready: readonly Consumer[] = [];
    const worker = new Worker({
      connection,
      topology,
      handlers: { 'mail.send': ({ to }) => void mails.push(to) },
      consumers: [
        {
          queues: [work()],
          accept: ['text'],
          handler: async (m) => {
            audit.push(m.payload);
            await m.ack();
          },
        },
      ],
      onConsumeReady: (_first, consumers) => {
        ready = consumers;
      },
    });
    try {
      expect(worker.queues).toEqual(['tasks', 'work']);
      void worker.run();
      await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
      expect(ready).toHaveLength(2);
      await client.send('mail.send', { to: 'ann@example.com' });
      await connection.producer({ exchange: 'jobs', routingKey: 'work' }).publish('a line');
      await vi.waitFor(() => expect(worker.health().processed).toBe(2));
      expect(mails).toEqual(['ann@example.com']);
      expect(audit).toEqual(['a line']);
      expect(worker.health().queues.map((q) => [q.queue, q.subscribed])).toEqual([
        ['tasks', true],
        ['work', true],
      ]);
    } finally {
      await worker.stop({ deadline: 1_000 });
      await client.close();
      await connection.close();
    }
  });
});
