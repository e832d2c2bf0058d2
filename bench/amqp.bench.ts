/**
 * AMQP on the same RabbitMQ, the same ~200-byte JSON message, side by side with raw amqplib used
 * well (confirms awaited in batches, prefetch 1000, Nagle off), each pair doing the same work:
 * (a) publish with confirms, persistent and transient;
 * (b) consume at prefetch 1000 with each body JSON-decoded, acked per message (one basic.ack frame
 *     each on the raw side) and acked in batches (one basic.ack(multiple=true) per event-loop turn);
 * (c) end-to-end latency p50/p99 at a steady 2,000 msg/s.
 */
import { randomUUID } from 'node:crypto';
import { Connection, Queue } from '@wakame/core';
import amqplib, { type Channel, type ConsumeMessage } from 'amqplib';
import {
  type Benchmark,
  benchPayload,
  consumeRate,
  countdown,
  deadline,
  type Figure,
  inWindows,
  LOAD_TIMEOUT_MS,
  now,
  quantile,
  Rounds,
  rate,
  within,
} from './harness.js';

const URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';
const PUBLISH_COUNT = 20_000;
const BATCH = 1_000;
const PREFETCH = 1_000;
/**
 * Messages each consume phase counts. A consumer stops at its count, but what it already received
 * (up to PREFETCH more) is handled and acked while it closes; two phases take from one queue of
 * 2 × PUBLISH_COUNT, so each counts PREFETCH fewer than it could.
 */
const CONSUME_COUNT = PUBLISH_COUNT - PREFETCH;
const ROUNDS = 5;
const RATE = 2_000;
const LATENCY_SECONDS = 3;
const LATENCY_ROUNDS = 3;

type Durability = 'persistent' | 'transient';
const DURABILITIES: readonly Durability[] = ['persistent', 'transient'];

function props(durability: Durability) {
  return { contentType: 'application/json', contentEncoding: 'utf-8', persistent: durability === 'persistent' };
}

async function rawConnection() {
  return amqplib.connect(URL, { noDelay: true });
}

async function rawPublish(queue: string, durability: Durability): Promise<number> {
  const conn = await rawConnection();
  try {
    const ch = await conn.createConfirmChannel();
    const properties = props(durability);
    const bound = deadline(LOAD_TIMEOUT_MS, 'raw publish');
    const start = now();
    for (let i = 0; i < PUBLISH_COUNT; i++) {
      ch.sendToQueue(queue, Buffer.from(JSON.stringify(benchPayload(i))), properties);
      if ((i + 1) % BATCH === 0) {
        await within(ch.waitForConfirms(), LOAD_TIMEOUT_MS, 'raw confirms');
        bound.check(`${i + 1}/${PUBLISH_COUNT}`);
      }
    }
    await within(ch.waitForConfirms(), LOAD_TIMEOUT_MS, 'raw confirms');
    return rate(PUBLISH_COUNT, now() - start);
  } finally {
    await conn.close();
  }
}

async function wakamePublish(connection: Connection, queue: string, durability: Durability): Promise<number> {
  const producer = connection.producer({ routingKey: queue });
  const options = { persistent: durability === 'persistent' };
  const start = now();
  await inWindows(PUBLISH_COUNT, BATCH, (i) => producer.publish(benchPayload(i), options));
  return rate(PUBLISH_COUNT, now() - start);
}

type AckMode = 'each' | 'batched';

/**
 * amqplib consuming `count` messages: JSON.parse of each body, then either `ack(m)` per message or,
 * batched, one `ack(last, allUpTo=true)` at the end of each turn that received messages.
 *
 * Timed over the same life as {@link consumeRate} times a Consumer: from opening its channel (and
 * basic.qos) to that channel closed after basic.cancel, the deliveries already on their way handled
 * and acked meanwhile. (Timing only consume → count-th message charged the Consumer alone for
 * opening and closing its channel, four round trips, and for the up to PREFETCH messages still
 * arriving as it stops, which this side left to the broker to requeue.)
 */
async function rawConsume(queue: string, count: number, mode: AckMode): Promise<number> {
  const conn = await rawConnection();
  try {
    const start = now();
    const ch = await conn.createChannel();
    await ch.prefetch(PREFETCH);
    const finished = countdown(count);
    let last: ConsumeMessage | undefined;
    const flush = () => {
      if (last) ch.ack(last, true);
      last = undefined;
    };
    const { consumerTag } = await ch.consume(queue, (m) => {
      if (!m) return;
      JSON.parse(m.content.toString('utf8'));
      if (mode === 'each') ch.ack(m);
      else {
        if (!last) queueMicrotask(flush);
        last = m;
      }
      finished.tick();
    });
    await within(finished.done, LOAD_TIMEOUT_MS, `raw consume of ${count}`);
    await ch.cancel(consumerTag);
    flush();
    await ch.close();
    return rate(count, now() - start);
  } finally {
    await conn.close();
  }
}

/** basic.ack frames amqplib sent while `fn` ran (every channel of the process: patched on the prototype). */
async function countingAcks<T>(probe: Channel, fn: () => Promise<T>): Promise<{ result: T; frames: number }> {
  const proto = Object.getPrototypeOf(probe) as { ack: Channel['ack'] };
  const original = proto.ack;
  let frames = 0;
  proto.ack = function (this: Channel, ...args: Parameters<Channel['ack']>) {
    frames++;
    return original.apply(this, args);
  };
  try {
    return { result: await fn(), frames };
  } finally {
    proto.ack = original;
  }
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
  const end = Date.now() + 10_000;
  while (latencies.length < expected && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  if (latencies.length < expected) throw new Error(`latency: ${latencies.length}/${expected} arrived within 10 s`);
}

async function rawLatency(queue: string): Promise<number[]> {
  const conn = await rawConnection();
  try {
    const pub = await conn.createConfirmChannel();
    const sub = await conn.createChannel();
    await sub.prefetch(PREFETCH);
    const latencies: number[] = [];
    await sub.consume(queue, (m) => {
      if (!m) return;
      const { sentAt } = JSON.parse(m.content.toString('utf8')) as { sentAt: number };
      latencies.push(now() - sentAt);
      sub.ack(m);
    });
    const properties = props('persistent');
    await steady(
      (sentAt) =>
        pub.sendToQueue(queue, Buffer.from(JSON.stringify({ ...benchPayload(0), sentAt })), properties, () => {}),
      latencies,
      RATE * LATENCY_SECONDS,
    );
    return latencies.sort((a, b) => a - b);
  } finally {
    await conn.close();
  }
}

async function wakameLatency(connection: Connection, queue: string): Promise<number[]> {
  const latencies: number[] = [];
  const consumer = connection.consumer({
    queues: [queue],
    prefetch: PREFETCH,
    handler: async (m) => {
      latencies.push(now() - (m.payload as { sentAt: number }).sentAt);
      await m.ack();
    },
  });
  await consumer.consume();
  try {
    const producer = connection.producer({ routingKey: queue });
    await steady(
      (sentAt) => {
        producer.publish({ ...benchPayload(0), sentAt }).catch(() => undefined);
      },
      latencies,
      RATE * LATENCY_SECONDS,
    );
  } finally {
    await consumer.close();
  }
  return latencies.sort((a, b) => a - b);
}

async function run(): Promise<Figure[]> {
  const connection = await Connection.open(URL);
  const probe = await rawConnection();
  const names = { raw: `bench-raw-${randomUUID()}`, wakame: `bench-wakame-${randomUUID()}` };
  const rounds = new Rounds();
  const ackFrames: number[] = [];
  try {
    const probeChannel = await probe.createChannel();
    for (const name of Object.values(names)) await connection.declare(new Queue(name, { durable: true }));
    // The broker shares the machine's cores and its speed drifts (disk flushes, GC): raw and Wakame
    // alternate over several rounds into freshly purged queues. Each round publishes 20,000
    // persistent then 20,000 transient messages per side, then consumes CONSUME_COUNT per ack mode.
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of Object.values(names)) await connection.admin.purgeQueue(name);
      for (const durability of DURABILITIES) {
        await rounds.take(`raw.publish.${durability}`, () => rawPublish(names.raw, durability));
        await rounds.take(`wakame.publish.${durability}`, () => wakamePublish(connection, names.wakame, durability));
      }
      for (const mode of ['each', 'batched'] as const) {
        await rounds.take(`raw.consume.${mode}`, () => rawConsume(names.raw, CONSUME_COUNT, mode));
        await rounds.take(`wakame.consume.${mode}`, async () => {
          const { result, frames } = await countingAcks(probeChannel, () =>
            consumeRate(connection, names.wakame, CONSUME_COUNT, { prefetch: PREFETCH, decode: true }),
          );
          ackFrames.push(frames);
          return result;
        });
      }
    }
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      // Only the latency messages in the queues: a leftover (a failed phase's) would have no send time.
      for (const name of Object.values(names)) await connection.admin.purgeQueue(name);
      for (const [side, measure] of [
        ['raw', () => rawLatency(names.raw)],
        ['wakame', () => wakameLatency(connection, names.wakame)],
      ] as const) {
        let sorted: number[] = [];
        await rounds.take(`${side}.latency.p50`, async () => {
          sorted = await measure();
          return quantile(sorted, 0.5);
        });
        if (!rounds.failed(`${side}.latency.p50`)) rounds.add(`${side}.latency.p99`, quantile(sorted, 0.99));
      }
    }
  } finally {
    for (const name of Object.values(names)) await connection.admin.deleteQueue(name).catch(() => undefined);
    await connection.close();
    await probe.close().catch(() => undefined);
  }
  const framesPerRun = ackFrames.length > 0 ? [...ackFrames].sort((a, b) => a - b) : [Number.NaN];
  const wireNote = `Wakame coalesces the acks of one turn into basic.ack(multiple=true) (acks.ts): ${Math.round(quantile(framesPerRun, 0.5))} ack frames per consume of ${CONSUME_COUNT} (median)`;
  const latencyNote = `${RATE} msg/s for ${LATENCY_SECONDS} s a round`;
  const rawLife = 'timed from channel open to channel closed after basic.cancel, as the Consumer is';
  const figures: Figure[] = [];
  for (const durability of DURABILITIES) {
    figures.push(
      rounds.figure(`raw.publish.${durability}`, {
        name: `amqp.raw.publish-confirms.${durability}`,
        unit: 'msg/s',
        note: `amqplib, ${durability}, confirms awaited every ${BATCH}`,
      }),
      rounds.figure(`wakame.publish.${durability}`, {
        name: `amqp.wakame.publish-confirms.${durability}`,
        unit: 'msg/s',
        ceiling: `amqp.raw.publish-confirms.${durability}`,
        note: `Producer.publish, ${durability}, ${BATCH} in flight`,
      }),
    );
  }
  figures.push(
    rounds.figure('raw.consume.each', {
      name: 'amqp.raw.consume-decode-ack.each',
      unit: 'msg/s',
      note: `amqplib, prefetch ${PREFETCH}: JSON.parse + ack(m) per message (one basic.ack frame each); ${rawLife}`,
    }),
    rounds.figure('wakame.consume.each', {
      name: 'amqp.wakame.consume-decode-ack.each',
      unit: 'msg/s',
      ceiling: 'amqp.raw.consume-decode-ack.each',
      note: `Consumer handler, prefetch ${PREFETCH}: decode() + ack() per message. ${wireNote}`,
    }),
    rounds.figure('raw.consume.batched', {
      name: 'amqp.raw.consume-decode-ack.batched',
      unit: 'msg/s',
      note: `amqplib, prefetch ${PREFETCH}: JSON.parse per message, one ack(last, allUpTo=true) per event-loop turn; ${rawLife}`,
    }),
    rounds.figure('wakame.consume.batched', {
      name: 'amqp.wakame.consume-decode-ack.batched',
      unit: 'msg/s',
      ceiling: 'amqp.raw.consume-decode-ack.batched',
      note: 'the same Wakame code as .each, measured again: its wire work is already the batched one',
    }),
  );
  for (const p of ['p50', 'p99'] as const) {
    figures.push(
      rounds.figure(`raw.latency.${p}`, { name: `amqp.raw.latency-${p}`, unit: 'ms', note: latencyNote }),
      rounds.figure(`wakame.latency.${p}`, {
        name: `amqp.wakame.latency-${p}`,
        unit: 'ms',
        ceiling: `amqp.raw.latency-${p}`,
        note: `${latencyNote} (ratio: Wakame/raw, lower is better)`,
      }),
    );
  }
  return figures;
}

export const amqpBenchmarks: readonly Benchmark[] = [{ name: 'amqp', run }];
