/**
 * Dead letters from code, start to end: orders fail while the warehouse is down and are dead-lettered; the
 * dead-letter queue is listed, a dry run shows what would move, the warehouse comes back, and the replay moves each
 * order back once, with its attempt counter at 1.
 *
 *   pnpm exec tsx --conditions=@wakame/source examples/dead-letter-replay/main.ts [url]
 *
 * `url` defaults to $WAKAME_URL, else `memory://` (everything in this process).
 */
import { pathToFileURL } from 'node:url';
import { Connection, listDeadLetters, replayDeadLetters, TaskClient, Worker } from '@wakame/core';
import { topology } from './topology.js';
import shop, { warehouse } from './worker.js';

/** What the run saw. */
export interface ReplayDemo {
  /** Dead letters listed while the warehouse was down: id, reason, attempts. */
  readonly listed: { id: string; reason: string; attempts?: number }[];
  /** Ids the dry run would have moved (nothing moved). */
  readonly wouldMove: string[];
  /** Ids the replay moved. */
  readonly replayed: string[];
  /** Orders shipped after the replay, with the attempt they shipped on. */
  readonly shipped: { orderId: string; attempt: number }[];
  /** Dead letters left at the end. */
  readonly left: number;
}

export async function runReplayDemo(url: string): Promise<ReplayDemo> {
  const connection = await Connection.open(url);
  const client = new TaskClient(connection, topology);
  const shipped: { orderId: string; attempt: number }[] = [];
  const worker = new Worker({
    connection,
    topology,
    handlers: shop.handlers,
    onTaskEvent: (event) => {
      // Orders are sent with their order id as the task id.
      if (event.type === 'done') shipped.push({ orderId: event.id, attempt: event.attempt });
    },
  });
  const finished = worker.run();
  try {
    // The worker declares the topology as it starts: send once it is consuming.
    await until(() => worker.health().status === 'ready');
    warehouse.up = false;
    const orders = ['o-1', 'o-2', 'o-3'];
    for (const orderId of orders) await client.send('order.ship', { orderId }, { id: orderId });
    await until(() => worker.health().deadLettered === orders.length);

    const listed = (await listDeadLetters(connection, { task: 'order.ship', reason: 'failed' })).messages.map((m) => ({
      id: m.id,
      reason: m.reason,
      ...(m.attempts !== undefined ? { attempts: m.attempts } : {}),
    }));
    const dry = await replayDeadLetters(connection, { task: 'order.ship', dryRun: true });

    warehouse.up = true;
    const replay = await replayDeadLetters(connection, { task: 'order.ship' });
    await until(() => shipped.length === replay.moved.length);
    const left = (await listDeadLetters(connection)).messages.length;
    return {
      listed,
      wouldMove: dry.moved.map((m) => m.message.id),
      replayed: replay.moved.map((m) => m.message.id),
      shipped,
      left,
    };
  } finally {
    await worker.stop();
    await finished;
    await client.close();
    await connection.close();
  }
}

/** Waits for the worker (events arrive as the broker delivers; there is nothing to sleep for). */
async function until(done: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error('the worker did not get there in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const url = process.argv[2] ?? process.env.WAKAME_URL ?? 'memory://';
  process.stdout.write(`${JSON.stringify(await runReplayDemo(url), null, 2)}\n`);
}
