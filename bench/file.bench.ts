/**
 * The embedded file broker: publish → consume → ack of ~200-byte JSON messages, one producer and two
 * consumers (separate connections, as separate processes would be), without and with fsync.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Queue } from '@wakame/core';
import { type Benchmark, benchPayload, countdown, type Figure, now } from './harness.js';

const COUNT = 5_000;

async function run(fsync: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wakame-bench-file-'));
  const url = `file://${dir}${fsync ? '?fsync=1' : ''}`;
  const producer = await Connection.open(url);
  const consumers = [await Connection.open(url), await Connection.open(url)];
  try {
    const queue = new Queue('bench', { durable: true });
    await producer.declare(queue);
    const finished = countdown(COUNT);
    for (const c of consumers) {
      await c
        .consumer({
          queues: [queue],
          prefetch: 100,
          handler: async (m) => {
            await m.ack();
            finished.tick();
          },
        })
        .consume();
    }
    const start = now();
    const publish = producer.producer({ routingKey: 'bench' });
    // Publishes in windows of 100 in flight, as a busy producer would.
    for (let i = 0; i < COUNT; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => publish.publish(benchPayload(i + j))));
    }
    await finished.done;
    return (COUNT / (now() - start)) * 1000;
  } finally {
    for (const c of [producer, ...consumers]) await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const fileBenchmarks: readonly Benchmark[] = [
  {
    name: 'file',
    async run(): Promise<Figure[]> {
      const plain = await run(false);
      const synced = await run(true);
      return [
        {
          name: 'file.publish-consume-ack',
          value: plain,
          unit: 'msg/s',
          note: '1 producer, 2 consumers, no fsync (target ≥ 5,000)',
        },
        {
          name: 'file.publish-consume-ack.fsync',
          value: synced,
          unit: 'msg/s',
          ceiling: 'file.publish-consume-ack',
          note: 'every message and its directory fsynced before the publish resolves',
        },
      ];
    },
  },
];
