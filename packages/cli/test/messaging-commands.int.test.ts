import { randomUUID } from 'node:crypto';
import { Connection, Queue } from '@wakame/core';
import {
  amqpUrlForVhost,
  brokerGate,
  createVhost,
  deleteVhost,
  MANAGEMENT_ENDPOINT,
  RABBITMQ_MANAGEMENT_URL,
  waitFor,
} from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { capture } from './capture.js';

const gate = await brokerGate('messaging CLI on RabbitMQ', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

/** A vhost of its own, so that inspect lists exactly what the test made. */
const vhost = `wakame-test-${randomUUID()}`;
const url = amqpUrlForVhost(vhost);
const managementUrl = MANAGEMENT_ENDPOINT;

async function declare(name: string): Promise<void> {
  const connection = await Connection.open(url);
  try {
    await connection.declare(new Queue(name));
  } finally {
    await connection.close();
  }
}

async function ready(name: string): Promise<number> {
  const connection = await Connection.open(url);
  try {
    const spec = { name, durable: true, exclusive: false, autoDelete: false, arguments: {} };
    return (await connection.admin.declareQueue(spec, { passive: true })).messageCount;
  } finally {
    await connection.close();
  }
}

describe.skipIf(gate === 'skip')('wakame publish/consume/inspect/purge against RabbitMQ', () => {
  const broker = ['--url', url, '--management-url', managementUrl];

  beforeAll(() => createVhost(vhost));
  afterAll(() => deleteVhost(vhost));

  it('publishes, shows without removing, then consumes with --ack', async () => {
    const queue = `cli-${randomUUID()}`;
    await declare(queue);
    const published = capture({ jsonMode: true });
    await runCli(published.ctx, [
      'publish',
      ...broker,
      '--routing-key',
      queue,
      '{"n":1}',
      '--header',
      'k=v',
      '--count',
      '3',
    ]);
    expect(published.json).toEqual([
      { exchange: '', routingKey: queue, bytes: 7, count: 3, contentType: 'application/json' },
    ]);

    const peek = capture();
    await runCli(peek.ctx, ['consume', queue, ...broker, '--count', '3']);
    expect(peek.out.filter((line) => line.startsWith('#'))).toHaveLength(3);
    await waitFor(async () => (await ready(queue)) === 3, { what: 'the messages shown to be back in the queue' });

    const drained = capture({ jsonMode: true });
    await runCli(drained.ctx, ['consume', queue, ...broker, '--ack', '--count', '3']);
    const lines = drained.out.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      body: { n: 1 },
      headers: { k: 'v' },
      properties: { contentType: 'application/json' },
      deliveryInfo: { queue, routingKey: queue, redelivered: true },
    });
    await waitFor(async () => (await ready(queue)) === 0, { what: 'the acked messages to be gone' });
  });

  it('stops on an empty queue after --timeout', async () => {
    const queue = `cli-${randomUUID()}`;
    await declare(queue);
    const c = capture();
    await runCli(c.ctx, ['consume', queue, ...broker, '--timeout', '0.5']);
    expect(c.err.at(-1)).toMatch(/^0 messages .*no message for 0.5 s/);
  });

  it('inspect lists the queue through the management API, with exact ready counts', async () => {
    const queue = `cli-${randomUUID()}`;
    await declare(queue);
    await runCli(capture().ctx, ['publish', ...broker, '--routing-key', queue, 'x', '--count', '2']);
    const json = capture({ jsonMode: true });
    await runCli(json.ctx, ['inspect', ...broker]);
    expect(json.json[0]).toMatchObject({
      complete: true,
      queues: expect.arrayContaining([expect.objectContaining({ name: queue, ready: 2, consumers: 0 })]),
    });
    const text = capture();
    await runCli(text.ctx, ['inspect', ...broker]);
    expect(text.out).toContainEqual(expect.stringMatching(new RegExp(`^${queue}\\s+2\\s+0$`)));
  });

  it('inspect fails, with a hint, when the management API is unreachable', async () => {
    const c = capture();
    await expect(
      runCli(c.ctx, ['inspect', '--url', url, '--management-url', 'http://127.0.0.1:1']),
    ).rejects.toMatchObject({
      code: 'ERR_LISTING_UNAVAILABLE',
      message: expect.stringMatching(/^cannot list the queues of /),
      hint: expect.stringContaining('--management-url'),
    });
    expect(c.out).toEqual([]);
  });

  it('purges with --yes, and reports a missing queue as NotFoundError', async () => {
    const queue = `cli-${randomUUID()}`;
    await declare(queue);
    await runCli(capture().ctx, ['publish', ...broker, '--routing-key', queue, 'x', '--count', '4']);
    const c = capture({ jsonMode: true });
    await runCli(c.ctx, ['purge', queue, ...broker, '--yes']);
    expect(c.json).toEqual([{ queue, purged: 4 }]);
    await expect(runCli(capture().ctx, ['purge', `missing-${randomUUID()}`, ...broker, '--yes'])).rejects.toMatchObject(
      { code: 'ERR_NOT_FOUND' },
    );
  });
});
