/**
 * AMQP on the same RabbitMQ, the same ~200-byte JSON message, side by side with raw amqplib used
 * well (confirms awaited in batches, prefetch 1000, Nagle off):
 * (a) publish with confirms, (b) consume with a manual ack per message at prefetch 1000,
 * (c) end-to-end latency p50/p99 at a steady 2,000 msg/s.
 */
import { randomUUID } from 'node:crypto';
import { Connection, Queue } from '@wakame/core';
import amqplib from 'amqplib';
import { type Benchmark, benchPayload, consumeRate, countdown, type Figure, inWindows, now } from './harness.js';

const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';
const PUBLISH_COUNT = 20_000;
const BATCH = 1_000;
const ROUNDS = 3;
const RATE = 2_000;
const LATENCY_SECONDS = 3;
const PROPS = { contentType: 'application/json', contentEncoding: 'utf-8', persistent: true } as const;

async function rawConnection() {
  return amqplib.connect(URL, { noDelay: true });
}

async function rawPublish(queue: string): Promise<number> {
  const conn = await rawConnection();
  const ch = await conn.createConfirmChannel();
  const start = now();
  for (let i = 0; i < PUBLISH_COUNT; i++) {
    ch.sendToQueue(queue, Buffer.from(JSON.stringify(benchPayload(i))), PROPS);
    if ((i + 1) % BATCH === 0) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  const ms = now() - start;
  await conn.close();
  return (PUBLISH_COUNT / ms) * 1000;
}

async function wakamePublish(connection: Connection, queue: string): Promise<number> {
  const producer = connection.producer({ routingKey: queue });
  const start = now();
  await inWindows(PUBLISH_COUNT, BATCH, (i) => producer.publish(benchPayload(i)));
  return (PUBLISH_COUNT / (now() - start)) * 1000;
}

async function rawConsume(queue: string, count: number): Promise<number> {
  const conn = await rawConnection();
  const ch = await conn.createChannel();
  await ch.prefetch(1000);
  const finished = countdown(count);
  const start = now();
  await ch.consume(queue, (m) => {
    if (!m) return;
    JSON.parse(m.content.toString('utf8'));
    ch.ack(m);
    finished.tick();
  });
  await finished.done;
  const ms = now() - start;
  await conn.close();
  return (count / ms) * 1000;
}

function wakameConsume(connection: Connection, queue: string, count: number): Promise<number> {
  return consumeRate(connection, queue, count, { prefetch: 1000 });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Publishes at a steady RATE for LATENCY_SECONDS; `send` publishes one message carrying its send time. */
async function steady(send: (sentAt: number) => void, latencies: number[], expected: number): Promise<void> {
  const perTick = RATE / 200;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      for (let k = 0; k < perTick && sent < expected; k++, sent++) send(now());
      if (sent >= expected) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  const deadline = Date.now() + 10_000;
  while (latencies.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

async function rawLatency(queue: string): Promise<number[]> {
  const conn = await rawConnection();
  const pub = await conn.createConfirmChannel();
  const sub = await conn.createChannel();
  await sub.prefetch(1000);
  const latencies: number[] = [];
  await sub.consume(queue, (m) => {
    if (!m) return;
    const { sentAt } = JSON.parse(m.content.toString('utf8')) as { sentAt: number };
    latencies.push(now() - sentAt);
    sub.ack(m);
  });
  await steady(
    (sentAt) => pub.sendToQueue(queue, Buffer.from(JSON.stringify({ ...benchPayload(0), sentAt })), PROPS, () => {}),
    latencies,
    RATE * LATENCY_SECONDS,
  );
  await conn.close();
  return latencies.sort((a, b) => a - b);
}

async function wakameLatency(connection: Connection, queue: string): Promise<number[]> {
  const latencies: number[] = [];
  const consumer = connection.consumer({
    queues: [queue],
    prefetch: 1000,
    handler: async (m) => {
      latencies.push(now() - (m.payload as { sentAt: number }).sentAt);
      await m.ack();
    },
  });
  await consumer.consume();
  const producer = connection.producer({ routingKey: queue });
  await steady(
    (sentAt) => {
      producer.publish({ ...benchPayload(0), sentAt }).catch(() => undefined);
    },
    latencies,
    RATE * LATENCY_SECONDS,
  );
  await consumer.close();
  return latencies.sort((a, b) => a - b);
}

export const amqpBenchmarks: readonly Benchmark[] = [
  {
    name: 'amqp',
    async run(): Promise<Figure[]> {
      const connection = await Connection.open(URL);
      const names = { raw: `bench-raw-${randomUUID()}`, wakame: `bench-wakame-${randomUUID()}` };
      try {
        for (const name of Object.values(names)) await connection.declare(new Queue(name, { durable: true }));
        // The broker shares the machine's two cores and its speed drifts (disk flushes, GC): alternate
        // raw and Wakame over several rounds into freshly purged queues, and keep each side's best.
        let rawPub = 0;
        let wakPub = 0;
        let rawCon = 0;
        let wakCon = 0;
        for (let round = 0; round < ROUNDS; round++) {
          for (const name of Object.values(names)) await connection.admin.purgeQueue(name);
          rawPub = Math.max(rawPub, await rawPublish(names.raw));
          wakPub = Math.max(wakPub, await wakamePublish(connection, names.wakame));
          rawCon = Math.max(rawCon, await rawConsume(names.raw, PUBLISH_COUNT));
          wakCon = Math.max(wakCon, await wakameConsume(connection, names.wakame, PUBLISH_COUNT));
        }
        const rawLat = await rawLatency(names.raw);
        const wakLat = await wakameLatency(connection, names.wakame);
        const latencyNote = `${RATE} msg/s for ${LATENCY_SECONDS} s`;
        return [
          {
            name: 'amqp.raw.publish-confirms',
            value: rawPub,
            unit: 'msg/s',
            note: `amqplib, confirms awaited every ${BATCH}`,
          },
          {
            name: 'amqp.wakame.publish-confirms',
            value: wakPub,
            unit: 'msg/s',
            ceiling: 'amqp.raw.publish-confirms',
            note: `Producer.publish, ${BATCH} in flight`,
          },
          {
            name: 'amqp.raw.consume-ack',
            value: rawCon,
            unit: 'msg/s',
            note: 'amqplib, prefetch 1000, JSON.parse + ack each',
          },
          {
            name: 'amqp.wakame.consume-ack',
            value: wakCon,
            unit: 'msg/s',
            ceiling: 'amqp.raw.consume-ack',
            note: 'Consumer handler, prefetch 1000, decode + ack each',
          },
          { name: 'amqp.raw.latency-p50', value: percentile(rawLat, 50), unit: 'ms', note: latencyNote },
          { name: 'amqp.raw.latency-p99', value: percentile(rawLat, 99), unit: 'ms', note: latencyNote },
          {
            name: 'amqp.wakame.latency-p50',
            value: percentile(wakLat, 50),
            unit: 'ms',
            ceiling: 'amqp.raw.latency-p50',
            note: `${latencyNote} (ratio: Wakame/raw, lower is better)`,
          },
          {
            name: 'amqp.wakame.latency-p99',
            value: percentile(wakLat, 99),
            unit: 'ms',
            ceiling: 'amqp.raw.latency-p99',
            note: `${latencyNote} (ratio: Wakame/raw, lower is better)`,
          },
        ];
      } finally {
        for (const name of Object.values(names)) await connection.admin.deleteQueue(name).catch(() => undefined);
        await connection.close();
      }
    },
  },
];
