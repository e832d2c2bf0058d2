/**
 * Dead letters the worker made (reason header, attempt counter) on memory://: replay resets the attempt and the
 * task runs again; a crash between the confirmed copy and the ack loses nothing; the typed errors.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import { REPLAY_HEADER } from '../../src/tasks/dead-letter-record.js';
import {
  DeadLetterNotFoundError,
  listDeadLetters,
  replayDeadLetters,
  showDeadLetter,
} from '../../src/tasks/dead-letters.js';
import { TASK_HEADERS } from '../../src/tasks/protocol.js';
import { DEFAULT_DEAD_LETTER_QUEUE, Worker } from '../../src/tasks/worker.js';
import { defineTopology } from '../../src/topology/document.js';

const topology = defineTopology({
  version: 1,
  exchanges: [{ name: 'tasks', type: 'direct' }],
  queues: [{ name: 'jobs', bindings: [{ exchange: 'tasks', routingKey: 'jobs' }] }],
  tasks: [
    { name: 'job.run', retry: { maxAttempts: 2, initialDelay: 1, factor: 1, maxDelay: 1, jitter: 0 } },
    { name: 'job.other' },
  ],
  routes: [{ match: '**', exchange: 'tasks', routingKey: 'jobs' }],
});

async function until<T>(value: () => T | Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await value();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const depth = async (c: Connection, q: string) =>
  (await c.admin.declareQueue(new Queue(q), { passive: true })).messageCount;

describe('dead letters of the worker', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(failUntilReplayed: boolean) {
    const url = `memory://${randomUUID()}`;
    const connection = await Connection.open(url);
    const client = new TaskClient(connection, topology);
    const seen: { id: string; attempt: number; replayed: unknown }[] = [];
    const worker = new Worker({
      connection,
      topology,
      handlers: {
        'job.run': async (_payload: unknown, ctx) => {
          const replayed = ctx.message.headers[REPLAY_HEADER];
          seen.push({ id: ctx.id, attempt: ctx.attempt, replayed });
          if (failUntilReplayed && replayed === undefined) throw new Error('disk full');
        },
        'job.other': async () => {
          throw new Error('always');
        },
      },
    });
    cleanup.push(async () => {
      await worker.stop({ deadline: 1_000 });
      await client.close();
      await connection.close();
    });
    return { url, connection, client, worker, seen };
  }

  it('reads the reason, attempts and error; replay resets the attempt and the task runs again', {
    timeout: 60_000,
  }, async () => {
    const { connection, client, worker, seen } = await setup(true);
    void worker.run();
    await until(() => worker.health().status === 'ready');
    const a = await client.send('job.run', { n: 1 });
    const b = await client.send('job.other', {});
    await until(() => worker.health().deadLettered === 2);

    const listed = await listDeadLetters(connection);
    expect(listed.queue).toBe(DEFAULT_DEAD_LETTER_QUEUE);
    const byId = Object.fromEntries(listed.messages.map((m) => [m.id, m]));
    expect(byId[a.id]).toMatchObject({
      task: 'job.run',
      reason: 'failed',
      by: 'worker',
      queue: 'jobs',
      origin: { exchange: '', routingKey: 'jobs' },
      attempts: 2,
      error: { name: 'Error', message: 'disk full' },
      replays: 0,
    });
    expect(seen.map((s) => s.attempt)).toEqual([1, 2]);

    const only = await listDeadLetters(connection, { task: 'job.run', reason: 'failed' });
    expect(only.messages.map((m) => m.id)).toEqual([a.id]);
    const shown = await showDeadLetter(connection, a.id);
    expect(shown.body).toEqual({ n: 1 });
    expect(shown.headers[TASK_HEADERS.attempt]).toBe(2);

    const result = await replayDeadLetters(connection, { task: 'job.run' });
    expect(result.moved.map((m) => m.message.id)).toEqual([a.id]);
    await until(() => worker.health().processed === 1);
    expect(seen[2]).toMatchObject({
      id: a.id,
      attempt: 1,
      replayed: { count: 1, reason: 'failed', attempts: 2, queue: 'jobs' },
    });
    // The other task's dead letter stayed.
    expect((await listDeadLetters(connection)).messages.map((m) => m.id)).toEqual([b.id]);
  });

  it('a run that dies between the confirmed copy and the ack leaves the dead letter: a duplicate, never a loss', {
    timeout: 60_000,
  }, async () => {
    const { url, connection, client, worker } = await setup(false);
    void worker.run();
    await until(() => worker.health().status === 'ready');
    const sent = [await client.send('job.other', { i: 0 }), await client.send('job.other', { i: 1 })];
    await until(() => worker.health().deadLettered === 2);
    await worker.stop({ deadline: 1_000 });

    const crashing = await Connection.open(url);
    const crash = new Error('crashed after the copy was confirmed');
    await expect(
      replayDeadLetters(crashing, {
        onProgress: (p) => {
          if (p.published !== undefined) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    await crashing.close();
    expect(await depth(connection, 'jobs')).toBe(1);
    expect((await listDeadLetters(connection)).messages.map((m) => m.id)).toEqual(sent.map((s) => s.id));
  });

  it('a run ended by its signal returns what it held, in order', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    cleanup.push(() => connection.close());
    await connection.declare(new Queue('dlq'));
    const producer = connection.producer({ routingKey: 'dlq' });
    for (let i = 0; i < 5; i++) await producer.publish({ i }, { messageId: `m-${i}` });
    const stop = new AbortController();
    const replayed = await replayDeadLetters(connection, {
      queue: 'dlq',
      dryRun: true,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.scanned === 2) stop.abort();
      },
    });
    expect(replayed.moved.map((m) => m.message.id)).toEqual(['m-0', 'm-1']);
    expect((await listDeadLetters(connection, { queue: 'dlq' })).messages.map((m) => m.id)).toEqual([
      'm-0',
      'm-1',
      'm-2',
      'm-3',
      'm-4',
    ]);
  });

  it('says what is wrong: a missing queue, an unknown id, a bad limit or target', async () => {
    const { connection } = await setup(false);
    await expect(listDeadLetters(connection, { queue: 'no.such.queue' })).rejects.toBeInstanceOf(NotFoundError);
    await connection.declare(new Queue(DEFAULT_DEAD_LETTER_QUEUE));
    const missing = await showDeadLetter(connection, 'nope').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(DeadLetterNotFoundError);
    expect(missing).toMatchObject({ code: 'ERR_DEAD_LETTER_NOT_FOUND', id: 'nope', queue: DEFAULT_DEAD_LETTER_QUEUE });
    await expect(listDeadLetters(connection, { limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(replayDeadLetters(connection, { to: 'elsewhere' as 'queue' })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});
