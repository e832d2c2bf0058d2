/**
 * The worker for any messages (kombu's ConsumerMixin) on RabbitMQ, in a vhost of its own: plain consumers of a direct
 * and a fanout-fed queue run text, JSON and raw messages; after a broker-side connection kill the hooks come in order
 * (lost → revived → ready) and messages flow again; when the transport gives up, the worker itself restarts with
 * doubling backoff until the broker lets it in again.
 */
import { randomBytes } from 'node:crypto';
import { broadcast, Connection, type Consumer, Exchange, type Message, Queue, Worker } from '@wakame/core';
import {
  AMQP_URL,
  brokerGate,
  connectionsNamed,
  createVhost,
  deleteVhost,
  killConnections,
  management,
  RABBITMQ_MANAGEMENT_URL,
  waitFor,
} from '@wakame/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const amqpGate = await brokerGate('plain worker on RabbitMQ', { name: 'rabbitmq', url: AMQP_URL });
const gate =
  amqpGate === 'skip'
    ? 'skip'
    : await brokerGate('plain worker on RabbitMQ', { name: 'rabbitmq-management', url: RABBITMQ_MANAGEMENT_URL });

/** Every AMQP connection of this process carries this name. */
const ours = `wakame ${process.pid}`;
const user = decodeURIComponent(new URL(AMQP_URL).username || 'guest');

describe.skipIf(gate === 'skip')('a worker of plain consumers on RabbitMQ', () => {
  const vhost = `wakame-plain-worker-${randomBytes(4).toString('hex')}`;
  let url = '';
  const cleanup: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    url = await createVhost(vhost);
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });
  afterAll(() => deleteVhost(vhost));

  /** A worker consuming `work` (direct, shared) and a broadcast queue of its own on `events` (fanout). */
  function plainWorker(connection: Connection | string, extra: { restartBackoff?: { initialDelayMs: number } } = {}) {
    const calls: string[] = [];
    const seen: { queue: string; payload: unknown }[] = [];
    const handler = async (message: Message) => {
      seen.push({ queue: message.queue.startsWith('ev.') ? 'events' : message.queue, payload: message.payload });
      await message.ack();
    };
    const worker = new Worker({
      connection,
      ...extra,
      consumers: [
        {
          queues: [new Queue('work', { exchange: new Exchange('jobs'), routingKey: 'work' })],
          accept: ['json', 'text', 'raw'],
          handler,
        },
        { queues: [broadcast('events', { queuePrefix: 'ev' })], accept: ['json', 'text'], handler },
      ],
      onConnectionRevived: () => calls.push('revived'),
      onConnectionLost: () => calls.push('lost'),
      onConnectionError: (_error, delayMs) => calls.push(`error ${delayMs}`),
      onConsumeReady: (_first, consumers: readonly Consumer[]) => calls.push(`ready ${consumers.length}`),
      onConsumeEnd: () => calls.push('end'),
    });
    cleanup.push(() => worker.stop({ deadline: 2_000 }));
    return { worker, calls, seen };
  }

  async function publisher() {
    const connection = await Connection.open(url);
    cleanup.push(() => connection.close());
    return {
      work: connection.producer({ exchange: 'jobs', routingKey: 'work' }),
      events: connection.producer({ exchange: 'events' }),
    };
  }

  it('runs text, JSON and raw messages; after a broker-side kill: lost → revived → ready, and on it goes', async () => {
    const { worker, calls, seen } = plainWorker(url);
    void worker.run();
    await waitFor(() => worker.health().healthy, { timeoutMs: 15_000, what: 'the worker subscribed' });
    const to = await publisher();
    await to.work.publish({ id: 1 });
    await to.work.publish('text');
    await to.work.publish(Buffer.from([1, 2, 3]));
    await to.events.publish({ flush: true });
    await to.events.publish('all of you');
    await waitFor(() => seen.length === 5, { timeoutMs: 10_000, what: '5 messages handled' });
    expect(seen).toEqual(
      expect.arrayContaining([
        { queue: 'work', payload: { id: 1 } },
        { queue: 'work', payload: 'text' },
        { queue: 'work', payload: Buffer.from([1, 2, 3]) },
        { queue: 'events', payload: { flush: true } },
        { queue: 'events', payload: 'all of you' },
      ]),
    );
    expect(calls).toEqual(['revived', 'ready 2']);

    await waitFor(async () => (await connectionsNamed(ours)).length >= 2, { timeoutMs: 15_000, intervalMs: 100 });
    expect(await killConnections(ours, 'plain worker test')).toBeGreaterThanOrEqual(2);
    await waitFor(() => calls.length >= 5, { timeoutMs: 20_000, what: 'the worker back' });
    expect(calls).toEqual(['revived', 'ready 2', 'lost', 'revived', 'ready 2']);
    await waitFor(() => worker.health().healthy, { timeoutMs: 10_000, what: 'every queue subscribed again' });
    await to.work.publish('after');
    await to.events.publish('after, to all');
    await waitFor(() => seen.length === 7, { timeoutMs: 15_000, what: 'messages after the kill' });
    expect(worker.health().queues.map((q) => q.lastError?.source)).toEqual(['broker', 'broker']);
    await worker.stop();
    expect(calls.at(-1)).toBe('end');
  }, 60_000);

  it('when the transport gives up, the worker restarts with doubling backoff until the broker lets it in', async () => {
    // A connection that does not recover by itself: the worker's own restart loop takes over.
    const connection = new Connection(url, { recovery: { maxAttempts: 0 } });
    cleanup.push(() => connection.close());
    const { worker, calls, seen } = plainWorker(connection, { restartBackoff: { initialDelayMs: 50 } });
    void worker.run();
    await waitFor(() => worker.health().healthy, { timeoutMs: 15_000, what: 'the worker subscribed' });
    await waitFor(async () => (await connectionsNamed(ours)).length >= 1, { timeoutMs: 15_000, intervalMs: 100 });

    // Locked out: the kill ends the connection, and every reconnection is refused until access comes back.
    await management('DELETE', `permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`);
    try {
      await killConnections(ours, 'plain worker test');
      await waitFor(() => calls.filter((c) => c.startsWith('error')).length >= 4, {
        timeoutMs: 20_000,
        what: 'four failed restarts',
      });
      expect(worker.health()).toMatchObject({ status: 'degraded', healthy: false });
    } finally {
      await createVhost(vhost); // gives the permissions back
    }
    await waitFor(() => worker.health().healthy, { timeoutMs: 20_000, what: 'the worker back' });
    const errors = calls.filter((c) => c.startsWith('error')).map((c) => Number(c.split(' ')[1]));
    expect(errors.slice(0, 4)).toEqual([50, 100, 200, 400]);
    expect(calls.slice(0, 3)).toEqual(['revived', 'ready 2', 'lost']);
    expect(calls.slice(-2)).toEqual(['revived', 'ready 2']);

    const to = await publisher();
    await to.work.publish({ back: true });
    await waitFor(() => seen.some((s) => (s.payload as { back?: boolean }).back === true), {
      timeoutMs: 10_000,
      what: 'a message after the restart',
    });
  }, 60_000);
});
