/**
 * Memory transport: publish → consume → ack of ~200-byte JSON messages, at three depths:
 * the bare store (the ceiling), the virtual transport (routing, QoS, delivery), and the full
 * Producer/Consumer API (serialization, decoding, Message objects, settle bookkeeping).
 */
import { randomUUID } from 'node:crypto';
import { Connection, Queue } from '@wakame/core';
import { MemoryStore, type StoredMessage, VirtualTransport } from '@wakame/core/spi';
import {
  type Benchmark,
  benchPayload,
  countdown,
  type Figure,
  LOAD_TIMEOUT_MS,
  now,
  Rounds,
  rate,
  within,
} from './harness.js';

const COUNT = 200_000;
const ROUNDS = 5;
const BODY = Buffer.from(JSON.stringify(benchPayload(0)));

async function bareStore(): Promise<number> {
  const store = new MemoryStore();
  await store.createQueue('q');
  const start = now();
  for (let i = 0; i < COUNT; i++) {
    const message: StoredMessage = {
      id: String(i),
      body: BODY,
      properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2 },
      exchange: '',
      routingKey: 'q',
      priority: 0,
      expiresAt: undefined,
      redelivered: false,
    };
    await store.put('q', message);
    const claimed = await store.get('q');
    if (claimed) await store.settle(claimed.receipt, 'ack');
  }
  return rate(COUNT, now() - start);
}

async function virtualTransport(): Promise<number> {
  const transport = new VirtualTransport(new MemoryStore());
  await transport.connect();
  await transport.admin.declareQueue({ name: 'q', durable: true, exclusive: false, autoDelete: false, arguments: {} });
  const finished = countdown(COUNT);
  const start = now();
  await transport.consume(
    { queues: ['q'], prefetch: 1000, noAck: false, consumerTags: ['bench'] },
    {
      deliver: (m) => {
        transport.settle(m, 'ack').then(finished.tick, finished.fail);
      },
    },
  );
  const properties = { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2 as const };
  for (let i = 0; i < COUNT; i++)
    await transport.publish({ body: BODY, properties }, { exchange: '', routingKey: 'q' });
  await within(finished.done, LOAD_TIMEOUT_MS, `VirtualTransport, ${COUNT} messages`);
  const ms = now() - start;
  await transport.close();
  return rate(COUNT, ms);
}

/**
 * Producer.publish → Consumer handler (decode + ack). `json`: the bench payload, encoded and parsed per message;
 * `raw`: a Buffer body (raw serializer, nothing to encode or parse), so the figure is the layers' own cost.
 */
async function producerConsumer(body: 'json' | 'raw'): Promise<number> {
  const connection = await Connection.open(`memory://bench-${randomUUID()}`);
  const queue = new Queue('bench', { durable: false });
  await connection.declare(queue);
  const finished = countdown(COUNT);
  const start = now();
  const consumer = connection.consumer({
    queues: [queue],
    prefetch: 1000,
    ...(body === 'raw' ? { accept: ['raw'] } : {}),
    handler: async (m) => {
      m.decode();
      await m.ack();
      finished.tick();
    },
  });
  await consumer.consume();
  const producer = connection.producer({ routingKey: 'bench' });
  const payload = benchPayload(0);
  for (let i = 0; i < COUNT; i++) {
    if (body === 'raw') {
      await producer.publish(BODY);
      continue;
    }
    payload.id = i;
    await producer.publish(payload);
  }
  await within(finished.done, LOAD_TIMEOUT_MS, `Producer/Consumer (${body}), ${COUNT} messages`);
  const ms = now() - start;
  await connection.close();
  return rate(COUNT, ms);
}

/**
 * The serialization the e2e figure does, alone: JSON.stringify into a Buffer, then the UTF-8 check and
 * JSON.parse, per message. No e2e run can beat it, so it shows how much of the e2e time is JSON.
 */
async function jsonOnly(): Promise<number> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const payload = benchPayload(0);
  let sum = 0;
  const start = now();
  for (let i = 0; i < COUNT; i++) {
    payload.id = i;
    const body = Buffer.from(JSON.stringify(payload), 'utf8');
    sum += (JSON.parse(decoder.decode(body)) as { id: number }).id;
  }
  const ms = now() - start;
  // Used, so the loop cannot be optimised away.
  if (sum !== (COUNT * (COUNT - 1)) / 2) throw new Error(`json round trip lost messages (${sum})`);
  return rate(COUNT, ms);
}

export const memoryBenchmarks: readonly Benchmark[] = [
  {
    name: 'memory',
    async run(): Promise<Figure[]> {
      // Interleaved, so a slow spell of the machine lands on every layer alike.
      const rounds = new Rounds();
      for (let round = 0; round < ROUNDS; round++) {
        await rounds.take('store', bareStore);
        await rounds.take('transport', virtualTransport);
        await rounds.take('e2e', () => producerConsumer('json'));
        await rounds.take('e2e-raw', () => producerConsumer('raw'));
        await rounds.take('json', jsonOnly);
      }
      const store = rounds.figure('store', {
        name: 'memory.store.put-get-ack',
        unit: 'msg/s',
        note: `${BODY.length}-byte body, bare MemoryStore, ${COUNT} messages a round`,
      });
      const e2e = rounds.figure('e2e', {
        name: 'memory.e2e.producer-consumer',
        unit: 'msg/s',
        ceiling: 'memory.store.put-get-ack',
        note: 'Producer.publish(JSON) → Consumer handler decode + ack (target ≥ 1,000,000 msg/s)',
      });
      // Per message, from the medians: what the layers add over the bare store.
      const overheadUs = 1e6 / e2e.value - 1e6 / store.value;
      return [
        store,
        rounds.figure('transport', {
          name: 'memory.transport.publish-consume-ack',
          unit: 'msg/s',
          ceiling: 'memory.store.put-get-ack',
          note: 'VirtualTransport, prefetch 1000; its publisher never yields, and the drain yields every 256 deliveries',
        }),
        e2e,
        rounds.figure('e2e-raw', {
          name: 'memory.e2e.producer-consumer.raw',
          unit: 'msg/s',
          ceiling: 'memory.store.put-get-ack',
          note: 'the same loop with a Buffer body (raw serializer): Producer/Consumer/transport without JSON',
        }),
        rounds.figure('json', {
          name: 'memory.json.encode-decode',
          unit: 'msg/s',
          note: 'JSON.stringify → Buffer → UTF-8 check → JSON.parse of the same payload, alone: the bound on the e2e figure',
        }),
        {
          name: 'memory.e2e.overhead-per-message',
          value: overheadUs,
          unit: 'µs/msg',
          rounds: ROUNDS,
          note: 'Producer/Consumer/transport layers over the bare store (from the two medians)',
        },
      ];
    },
  },
];
