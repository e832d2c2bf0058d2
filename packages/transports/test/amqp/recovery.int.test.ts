import { randomUUID } from 'node:crypto';
import { Connection, Exchange, type Message, Queue } from '@wakame/core';
import { AMQP_URL, brokerGate, connectionsNamed, killConnections, waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const gate = await brokerGate('amqp recovery', { name: 'rabbitmq', url: AMQP_URL });

const ours = `wakame ${process.pid}`;

/** Closes every AMQP connection this process opened, through the management API (a broker-side kill). */
const killOurConnections = () => killConnections(ours, 'wakame recovery test');

/** The management API lists a connection a moment after it opens: wait until it sees `n` of ours. */
async function waitForListed(n: number): Promise<void> {
  await waitFor(async () => (await connectionsNamed(ours)).length >= n, {
    timeoutMs: 15_000,
    intervalMs: 100,
    what: `${n} connection(s) listed by the management API`,
  });
}

describe.skipIf(gate === 'skip')('amqp recovery and broker behaviour', () => {
  const opened: Connection[] = [];
  const open = async (url = AMQP_URL) => {
    const c = await Connection.open(url, { recovery: { initialDelayMs: 50, maxDelayMs: 500 } });
    opened.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
  });

  it('fails over from a dead first URL to a live second one', async () => {
    const c = await open(`amqp://guest:guest@127.0.0.1:1//;${AMQP_URL}`);
    expect(c.url).toContain('5672');
    await expect(c.admin.declareExchange(new Exchange('amq.direct'), { passive: true })).resolves.toBeUndefined();
  });

  it('reports a conflicting redeclare as TopologyConflictError and keeps working on a new channel', async () => {
    const c = await open();
    const name = `t-${randomUUID()}`;
    await c.declare(new Queue(name, { durable: false, maxPriority: 5 }));
    await expect(c.declare(new Queue(name, { durable: false, maxPriority: 9 }))).rejects.toMatchObject({
      code: 'ERR_TOPOLOGY_CONFLICT',
      entity: { kind: 'queue', name },
      differences: [{ property: 'arguments.x-max-priority', expected: 9, actual: 5 }],
    });
    await c.producer().publish({ still: 'fine' }, { routingKey: name });
    await waitFor(async () => (await new Queue(name).attach(c).messageCount()) === 1, {
      what: 'the publish after the conflict',
    });
    await c.admin.deleteQueue(name);
  });

  it('keeps many confirms in flight and resolves every publish under load', async () => {
    const c = await open();
    const name = `t-${randomUUID()}`;
    const queue = new Queue(name, { durable: false });
    await c.declare(queue);
    const producer = c.producer({ routingKey: name });
    const count = 10_000;
    const results = await Promise.allSettled(Array.from({ length: count }, (_, i) => producer.publish({ i })));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    await waitFor(async () => (await queue.attach(c).messageCount()) === count, { what: `${count} messages queued` });
    await c.admin.deleteQueue(name);
  });

  it('loses nothing when the broker kills the connection mid-stream: every message arrives at least once', async () => {
    const producerConn = await open();
    const consumerConn = await open();
    const events: string[] = [];
    for (const c of [producerConn, consumerConn]) {
      c.events.on('connection.lost', () => events.push('lost'));
      c.events.on('connection.revived', () => events.push('revived'));
    }
    const name = `t-${randomUUID()}`;
    const queue = new Queue(name, { durable: true });
    await producerConn.declare(queue);

    const total = 3_000;
    const seen = new Map<number, number>();
    const consumer = consumerConn.consumer({
      queues: [queue],
      prefetch: 200,
      handler: async (m: Message) => {
        const { i } = m.payload as { i: number };
        seen.set(i, (seen.get(i) ?? 0) + 1);
        // A delivery from the killed channel cannot be acked; the broker redelivers it.
        await m.ack().catch(() => undefined);
      },
    });
    await consumer.consume();
    await waitForListed(2);

    const producer = producerConn.producer({ routingKey: name });
    const confirmed: Promise<void>[] = [];
    let killing: Promise<number> | undefined;
    for (let i = 0; i < total; i++) {
      confirmed.push(producer.publish({ i }));
      // Not awaited: publishing goes on while the broker closes the connection, so the close meets
      // publishes written and not yet confirmed (the path that must resend them, not spin on them).
      if (i === total / 2) killing = killOurConnections();
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const killed = await killing;
    expect(killed).toBeGreaterThanOrEqual(2);
    const outcomes = await Promise.allSettled(confirmed);
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    await waitFor(() => seen.size === total, { timeoutMs: 30_000, what: `all ${total} ids received` }).catch(
      async (e) => {
        const missing = [...Array(total).keys()].filter((i) => !seen.has(i));
        console.info(
          '[recovery] incomplete: seen',
          seen.size,
          'events',
          events,
          'queue',
          await queue.attach(producerConn).messageCount(),
          'consuming',
          consumer.isConsuming,
          'unsettled',
          consumer.unsettled,
          'missing',
          missing.slice(0, 10),
          missing.length,
        );
        throw e;
      },
    );
    const duplicates = [...seen.values()].reduce((sum, n) => sum + (n - 1), 0);
    console.info(
      `[recovery] ${total} published with confirms, broker killed ${killed} connections, ${duplicates} duplicate deliveries`,
    );
    expect(events).toContain('lost');
    expect(events).toContain('revived');
    await waitFor(async () => (await queue.attach(producerConn).messageCount()) === 0, { what: 'queue drained' });
    await consumer.close();
    await producerConn.admin.deleteQueue(name);
  }, 60_000);

  it('re-declares what was declared after a reconnect', async () => {
    const c = await open();
    const ex = new Exchange(`t-${randomUUID()}`, { type: 'fanout', durable: false, autoDelete: false });
    const q = new Queue(`t-${randomUUID()}`, { exchange: ex, durable: false, exclusive: true });
    await c.declare(ex, q);
    await waitForListed(1);
    const revived = new Promise<void>((resolve) => c.events.once('connection.revived', () => resolve()));
    await killOurConnections();
    await revived;
    // The exclusive queue died with the old connection; recovery declared it (and its binding) again.
    await c.producer().publish({ back: true }, { exchange: ex });
    await waitFor(async () => (await q.attach(c).messageCount()) === 1, {
      what: 'routing through the re-declared binding',
    });
    await c.admin.deleteExchange(ex.name);
  });
});
