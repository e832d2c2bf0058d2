/**
 * Leases and reconnects against the real Redis: a handler that outlives the lease is not delivered
 * twice while its process renews, and killing every connection mid-stream (CLIENT KILL) loses nothing.
 * (A consumer process killed with SIGKILL is covered by packages/cli/test/multiprocess.int.test.ts.)
 */
import { type Message, Queue } from '@wakame/core';
import { brokerGate, REDIS_URL, waitFor } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';
import { useRedisScratch } from './scratch.js';

const gate = await brokerGate('redis recovery', { name: 'redis', url: REDIS_URL });
const DB = 6;

describe.skipIf(gate === 'skip')('redis recovery', () => {
  const scratch = useRedisScratch(DB);

  it('does not redeliver a message whose handler outlives the lease while its process renews it', async () => {
    const prefix = scratch.fresh('slow-');
    const slow = await scratch.connect(prefix, '&lease=1000');
    const idle = await scratch.connect(prefix, '&lease=1000');
    const queue = new Queue('slow-q');
    await slow.declare(queue);
    const handled: boolean[] = [];
    const stolen: Message[] = [];
    let started = false;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    await slow
      .consumer({
        queues: [queue],
        prefetch: 1,
        handler: async (m) => {
          started = true;
          // Runs until the test has seen three leases go by (below).
          await finished;
          handled.push(m.redelivered);
          await m.ack();
        },
      })
      .consume();
    await slow.producer({ routingKey: 'slow-q' }).publish({ long: true });
    await waitFor(() => started, { timeoutMs: 2_000, what: 'the slow handler to start' });
    // A second process-alike consumer that would receive the message if its lease were restored.
    await idle.consumer({ queues: [queue], handler: async (m) => void stolen.push(m) }).consume();
    // Three leases, measured on the broker: the holder renews the message's unacked_index score (seconds) while it
    // runs, so the score moving 3 s past the claim is both the time passing and the renewals that must cover it.
    // Without renewal another process would restore the message twice over.
    const raw = scratch.raw;
    const tag = await waitFor(async () => (await raw.hkeys(`${prefix}unacked`))[0], { what: 'the claimed message' });
    const claimed = Number(await raw.zscore(`${prefix}unacked_index`, tag));
    await waitFor(async () => Number(await raw.zscore(`${prefix}unacked_index`, tag)) - claimed >= 3, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'the holder to renew its lease for three leases',
    });
    finish();
    await waitFor(() => handled.length === 1, { timeoutMs: 8_000, what: 'the slow handler' });
    // No copy anywhere once the ack landed, in one atomic look: not queued, not claimed by the other consumer (a
    // restored copy would be in one of them until acked, and the idle consumer never acks), so none can arrive later.
    await waitFor(
      async () => {
        const [[, held], [, queued]] = (await raw.multi().hlen(`${prefix}unacked`).llen(`${prefix}slow-q`).exec()) as [
          [null, number],
          [null, number],
        ];
        return held === 0 && queued === 0;
      },
      { timeoutMs: 5_000, what: 'the ack, with no copy left' },
    );
    expect(handled).toEqual([false]);
    expect(stolen).toHaveLength(0);
  }, 20_000);

  it('loses nothing when Redis kills every connection mid-stream (CLIENT KILL)', async () => {
    const total = 3_000;
    const prefix = scratch.fresh('kill-');
    const producer = await scratch.connect(prefix);
    const consumer = await scratch.connect(prefix);
    const queue = new Queue('kill-q');
    await producer.declare(queue);
    const health: string[] = [];
    consumer.events.on('connection.lost', () => void health.push(`lost (connected: ${consumer.isConnected})`));
    consumer.events.on('connection.revived', () => void health.push(`revived (connected: ${consumer.isConnected})`));
    const seen = new Map<number, number>();
    await consumer
      .consumer({
        queues: [queue],
        prefetch: 200,
        handler: async (m) => {
          const n = (m.payload as { n: number }).n;
          seen.set(n, (seen.get(n) ?? 0) + 1);
          await m.ack();
        },
      })
      .consume();
    let killed = 0;
    const publish = producer.producer({ routingKey: 'kill-q' });
    for (let i = 0; i < total; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => publish.publish({ n: i + j })));
      if (i === 1_500) killed = await killWakameConnections();
    }
    await waitFor(() => seen.size === total, {
      timeoutMs: 30_000,
      what: () => `all ${total} messages (${seen.size} so far)`,
    });
    const duplicates = [...seen.values()].reduce((sum, count) => sum + count - 1, 0);
    console.info(
      `[client kill] ${killed} connections killed mid-stream, ${seen.size} received, ${duplicates} duplicates`,
    );
    expect(killed).toBeGreaterThanOrEqual(4);
    expect(seen.size).toBe(total);
    // The connection reported the loss and the recovery: a health check sees consumers live again.
    expect(health[0]).toBe('lost (connected: false)');
    await waitFor(() => health.at(-1) === 'revived (connected: true)', {
      timeoutMs: 5_000,
      what: 'connection.revived after the last loss',
    });
    await waitFor(async () => (await scratch.raw.hlen(`${prefix}unacked`)) === 0, {
      timeoutMs: 5_000,
      what: 'no message left in flight',
    });
  }, 60_000);

  async function killWakameConnections(): Promise<number> {
    const list = (await scratch.raw.client('LIST')) as string;
    const ids = list
      .split('\n')
      .filter((line) => / name=wakame-(command|events)-/.test(line) && line.includes(` db=${DB} `))
      .map((line) => /^id=(\d+)/.exec(line)?.[1] as string);
    for (const id of ids) await scratch.raw.client('KILL', 'ID', id);
    return ids.length;
  }
});
