/**
 * Redis messaging on the same server, the same ~200-byte JSON message, side by side with raw ioredis
 * used well, each pair doing the same work:
 * (a) publish, 500 in flight: Wakame sends one multi-value LPUSH per event-loop turn, and so does the
 *     ceiling (one LPUSH of 500 per round trip); a pipeline of 500 single-value LPUSHes is shown
 *     beside it, labelled;
 * (b) consume with an ack per message and each body decoded, one consumer: the reliable pattern done
 *     by hand (a Lua script pops 100 and records each in `unacked` (kombu's `[message, exchange,
 *     routing_key]` record), `unacked_index` and an owner lease atomically, another acks the batch:
 *     the ceiling), and kombu's per-message pattern rewritten in ioredis
 *     (BRPOP, then MULTI HSET+ZADD, ack MULTI HDEL+ZREM: for scale). Real kombu is in
 *     redis-kombu.bench.ts.
 * The raw ceilings move kombu's envelope, the bytes Wakame must write to stay kombu-compatible (byte for
 * byte the same length: Python's `json.dumps` spacing, a delivery tag shaped like Wakame's), and write the
 * same keys per message as Wakame (three per claim: the record, the index, the lease naming the owner;
 * three deleted per ack), so the ratio is the cost of Wakame itself; the plain-JSON figures beside them
 * show what the format costs. Tasks against BullMQ are in
 * redis-tasks.bench.ts.
 *
 * Everything runs in the database `DB` of `REDIS_URL` under this run's KEY_PREFIX (redis-support.ts),
 * cleared before each round and at the end.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Connection, Queue } from '@wakame/core';
import type { Redis } from 'ioredis';
import { type Benchmark, benchPayload, consumeRate, type Figure, inWindows, now, Rounds, rate } from './harness.js';
import {
  checkExec,
  clearBenchKeys,
  client,
  closeAll,
  expect,
  KEY_PREFIX,
  PHASE_TIMEOUT_MS,
  QUEUE,
  quit,
  ROUNDS,
  WINDOW,
  wakameUrl,
} from './redis-support.js';

const PUBLISH_COUNT = 20_000;
const FETCH_BATCH = 100;
const PREFETCH = 200;
const KOMBU_COUNT = 3_000;
const KOMBU_MS = 5_000;
const RAW = {
  list: `${KEY_PREFIX}raw.bench`,
  kombu: `${KEY_PREFIX}raw.kombu`,
  unacked: `${KEY_PREFIX}raw.unacked`,
  index: `${KEY_PREFIX}raw.unacked_index`,
  leases: `${KEY_PREFIX}raw.leases`,
} as const;
/** Shaped like Wakame's message ids (12 hex digits, a dot, a counter), so both write tags of one length. */
const TAG_PREFIX = randomBytes(6).toString('hex');
/** Separates owner and list in a lease, as Wakame's does. */
const SEP = '\x06\x16';

/**
 * Pops up to ARGV[1] messages and records each under a tag (ARGV[3] .. i) in the unacked hash (kombu's
 * record: `[message, exchange, routing_key]`, exchange and routing key given as ARGV[5], ARGV[6]), the
 * unacked index (score ARGV[2]) and the lease hash (ARGV[4], the owner and list), atomically — what
 * Wakame's claim writes, minus reading the tag and routing from each envelope; returns tag, message, …
 */
const FETCH_SCRIPT = `
local messages = redis.call('RPOP', KEYS[1], ARGV[1])
if not messages then return {} end
local fields, scores, leases, out = {}, {}, {}, {}
local routing = ', "' .. ARGV[5] .. '", "' .. ARGV[6] .. '"]'
for i, message in ipairs(messages) do
  local tag = ARGV[3] .. i
  fields[#fields + 1] = tag
  fields[#fields + 1] = '[' .. message .. routing
  scores[#scores + 1] = ARGV[2]
  scores[#scores + 1] = tag
  leases[#leases + 1] = tag
  leases[#leases + 1] = ARGV[4]
  out[#out + 1] = tag
  out[#out + 1] = message
end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('ZADD', KEYS[3], unpack(scores))
redis.call('HSET', KEYS[4], unpack(leases))
return out
`;
/** Acks a batch: forgets every tag in ARGV from the unacked hash, the index and the leases. */
const ACK_SCRIPT = `
redis.call('HDEL', KEYS[1], unpack(ARGV))
redis.call('ZREM', KEYS[2], unpack(ARGV))
redis.call('HDEL', KEYS[3], unpack(ARGV))
return #ARGV
`;

function body(id: number): string {
  return JSON.stringify(benchPayload(id));
}

/**
 * The same message as kombu's Redis transport writes it (what Wakame writes too): the JSON body in
 * base64 inside kombu's JSON envelope, with Python's `json.dumps` separators (`", "`, `": "`) as kombu
 * and Wakame write them, and a tag shaped like Wakame's: both sides move the same bytes (an earlier
 * version wrote compact JSON and a short tag, ~45 bytes less per message). The plain-JSON figures show
 * what the format itself costs.
 */
function envelope(id: number): string {
  // Strings a producer does not control are escaped (JSON.stringify), as any correct writer must.
  const b64 = Buffer.from(body(id)).toString('base64');
  return (
    `{"body": "${b64}", "content-encoding": "utf-8", "content-type": "application/json", "headers": {}, ` +
    `"properties": {"delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": ${JSON.stringify(QUEUE)}}, ` +
    `"priority": 0, "body_encoding": "base64", "delivery_tag": ${JSON.stringify(`${TAG_PREFIX}.${id}`)}}}`
  );
}

/** How the raw side encodes and decodes one message. */
interface RawFormat {
  readonly name: string;
  encode(id: number): string;
  decode(element: string): unknown;
}

const PLAIN: RawFormat = { name: 'plain JSON', encode: body, decode: (e) => JSON.parse(e) };
const KOMBU: RawFormat = {
  name: "kombu's envelope",
  encode: envelope,
  decode: (e) => JSON.parse(Buffer.from((JSON.parse(e) as { body: string }).body, 'base64').toString('utf8')),
};

/** How the raw side pushes a window: one multi-value LPUSH (as Wakame), or a pipeline of single-value ones. */
type PushMode = 'multi' | 'single';

/** LPUSHes `count` messages, WINDOW per round trip. */
async function rawPush(redis: Redis, list: string, count: number, format: RawFormat, mode: PushMode): Promise<number> {
  const start = now();
  for (let i = 0; i < count; i += WINDOW) {
    expect(now() - start < PHASE_TIMEOUT_MS, `raw push: ${i}/${count} after ${PHASE_TIMEOUT_MS} ms`);
    const ids = Array.from({ length: Math.min(WINDOW, count - i) }, (_, k) => i + k);
    if (mode === 'multi') await redis.lpush(list, ...ids.map((id) => format.encode(id)));
    else {
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.lpush(list, format.encode(id));
      checkExec(await pipeline.exec(), 'LPUSH pipeline');
    }
  }
  const ms = now() - start;
  const depth = await redis.llen(list);
  expect(depth === count, `${list} holds ${depth} messages, not ${count}`);
  return rate(count, ms);
}

async function wakamePublish(connection: Connection, count: number): Promise<number> {
  const producer = connection.producer({ routingKey: QUEUE });
  const start = now();
  await inWindows(count, WINDOW, (i) => producer.publish(benchPayload(i)));
  const ms = now() - start;
  const depth = await queueDepth(connection);
  expect(depth === count, `queue '${QUEUE}' holds ${depth} messages after ${count} publishes`);
  return rate(count, ms);
}

async function queueDepth(connection: Connection): Promise<number> {
  const spec = { name: QUEUE, durable: true, exclusive: false, autoDelete: false, arguments: {} };
  return (await connection.admin.declareQueue(spec, { passive: true })).messageCount;
}

/** The reliable pattern in batches: a fetch script in flight while the previous batch is parsed and acked. */
async function rawReliableConsume(redis: Redis, count: number, format: RawFormat): Promise<number> {
  const fetchSha = String(await redis.script('LOAD', FETCH_SCRIPT));
  const ackSha = String(await redis.script('LOAD', ACK_SCRIPT));
  const prefix = `${randomUUID()}.`;
  const lease = `${KEY_PREFIX}raw-owner-${process.pid}${SEP}${RAW.list}`;
  let batches = 0;
  const fetch = () =>
    redis.evalsha(
      fetchSha,
      4,
      RAW.list,
      RAW.unacked,
      RAW.index,
      RAW.leases,
      FETCH_BATCH,
      (Date.now() / 1000).toFixed(6),
      `${prefix}${batches++}.`,
      lease,
      '',
      QUEUE,
    );
  const acks: Promise<unknown>[] = [];
  let got = 0;
  const start = now();
  let next = fetch();
  while (got < count) {
    expect(now() - start < PHASE_TIMEOUT_MS, `raw reliable consume: ${got}/${count} after ${PHASE_TIMEOUT_MS} ms`);
    const reply = (await next) as string[];
    expect(reply.length > 0, `raw reliable consume: the list ran dry after ${got}/${count}`);
    got += reply.length / 2;
    if (got < count) next = fetch();
    const tags: string[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      format.decode(reply[i + 1] as string);
      tags.push(reply[i] as string);
    }
    const ack = redis.evalsha(ackSha, 3, RAW.unacked, RAW.index, RAW.leases, ...tags);
    ack.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    acks.push(ack);
  }
  await Promise.all(acks);
  const ms = now() - start;
  expect(got === count, `raw reliable consume took ${got} messages, not ${count}`);
  await expectSettled(redis, RAW.list);
  return rate(count, ms);
}

/** kombu's pattern, one message at a time, each step awaited as kombu's synchronous client does. */
async function rawKombuConsume(redis: Redis, blocking: Redis): Promise<{ count: number; ms: number }> {
  await rawPush(redis, RAW.kombu, KOMBU_COUNT, KOMBU, 'multi');
  let got = 0;
  const start = now();
  while (got < KOMBU_COUNT && now() - start < KOMBU_MS) {
    const popped = await blocking.brpop(RAW.kombu, 1);
    expect(popped !== null, `kombu consume: the list ran dry after ${got}/${KOMBU_COUNT}`);
    const [, message] = popped as [string, string];
    const tag = `kombu.${got}`;
    checkExec(await redis.multi().hset(RAW.unacked, tag, message).zadd(RAW.index, Date.now(), tag).exec(), 'MULTI');
    KOMBU.decode(message);
    checkExec(await redis.multi().hdel(RAW.unacked, tag).zrem(RAW.index, tag).exec(), 'ack MULTI');
    got++;
  }
  const ms = now() - start;
  expect((await redis.hlen(RAW.unacked)) === 0, 'kombu consume left messages unacked');
  return { count: got, ms };
}

async function expectSettled(redis: Redis, list: string): Promise<void> {
  const [left, unacked, indexed, leased] = await Promise.all([
    redis.llen(list),
    redis.hlen(RAW.unacked),
    redis.zcard(RAW.index),
    redis.hlen(RAW.leases),
  ]);
  const settled = left === 0 && unacked === 0 && indexed === 0 && leased === 0;
  expect(settled, `${list}: ${left} left, ${unacked}/${indexed}/${leased} unacked/indexed/leased`);
}

async function wakameConsume(connection: Connection, count: number): Promise<number> {
  const queue = new Queue(QUEUE, { durable: true });
  const perSecond = await consumeRate(connection, queue, count, {
    prefetch: PREFETCH,
    decode: true,
    timeoutMs: PHASE_TIMEOUT_MS,
  });
  const depth = await queueDepth(connection);
  expect(depth === 0, `queue '${QUEUE}' holds ${depth} messages after the consumer acked ${count} and closed`);
  return perSecond;
}

/** ROUNDS rounds, raw and Wakame alternating, each round in a freshly cleared key space. */
async function messaging(): Promise<Figure[]> {
  const admin = client();
  const blocking = client();
  const rounds = new Rounds();
  let kombuCounts: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await clearBenchKeys(admin);
      await rounds.take('plain.publish', () => rawPush(admin, RAW.list, PUBLISH_COUNT, PLAIN, 'multi'));
      await rounds.take('plain.consume', () => rawReliableConsume(admin, PUBLISH_COUNT, PLAIN));
      await rounds.take('raw.publish.single', () => rawPush(admin, RAW.list, PUBLISH_COUNT, KOMBU, 'single'));
      await admin.del(RAW.list);
      await rounds.take('raw.publish', () => rawPush(admin, RAW.list, PUBLISH_COUNT, KOMBU, 'multi'));
      // A fresh connection each round: a connection declares a queue once, and the clearing forgot it.
      const connection = await Connection.open(wakameUrl());
      try {
        await connection.declare(new Queue(QUEUE, { durable: true }));
        await rounds.take('wakame.publish', () => wakamePublish(connection, PUBLISH_COUNT));
        await rounds.take('raw.consume', () => rawReliableConsume(admin, PUBLISH_COUNT, KOMBU));
        await rounds.take('wakame.consume', () => wakameConsume(connection, PUBLISH_COUNT));
      } finally {
        await connection.close();
      }
      await rounds.take('kombu-pattern', async () => {
        const k = await rawKombuConsume(admin, blocking);
        kombuCounts = [...kombuCounts, k.count];
        return rate(k.count, k.ms);
      });
    }
  } finally {
    await closeAll(
      () => clearBenchKeys(admin),
      () => quit(blocking),
      () => quit(admin),
    );
  }
  return [
    rounds.figure('plain.publish', {
      name: 'redis.raw.publish.plain',
      unit: 'msg/s',
      note: `ioredis, one LPUSH of ${WINDOW} plain JSON bodies per round trip`,
    }),
    rounds.figure('raw.publish.single', {
      name: 'redis.raw.publish.single-lpush',
      unit: 'msg/s',
      ceiling: 'redis.raw.publish',
      note: `ioredis, a pipeline of ${WINDOW} single-value LPUSHes per round trip, ${KOMBU.name} (not what Wakame sends)`,
    }),
    rounds.figure('raw.publish', {
      name: 'redis.raw.publish',
      unit: 'msg/s',
      ceiling: 'redis.raw.publish.plain',
      note: `ioredis, one LPUSH of ${WINDOW} per round trip, each message built as ${KOMBU.name} (what Wakame writes)`,
    }),
    rounds.figure('wakame.publish', {
      name: 'redis.wakame.publish',
      unit: 'msg/s',
      ceiling: 'redis.raw.publish',
      note: `Producer.publish, ${WINDOW} in flight (one multi-value LPUSH per turn) (target ≥ 95%)`,
    }),
    rounds.figure('plain.consume', {
      name: 'redis.raw.consume-ack.plain',
      unit: 'msg/s',
      note: `reliable, by hand: Lua pops ${FETCH_BATCH} + HSET unacked (kombu's record) + ZADD index + HSET lease; Lua acks the batch (3 keys); plain JSON decoded`,
    }),
    rounds.figure('raw.consume', {
      name: 'redis.raw.consume-ack',
      unit: 'msg/s',
      ceiling: 'redis.raw.consume-ack.plain',
      note: `the same, each message decoded from ${KOMBU.name} (envelope JSON, base64, body JSON)`,
    }),
    rounds.figure('kombu-pattern', {
      name: 'redis.kombu-pattern-ioredis.consume-ack',
      unit: 'msg/s',
      ceiling: 'redis.raw.consume-ack',
      note: `kombu-pattern (ioredis), not kombu: BRPOP, MULTI HSET+ZADD, decode, ack MULTI HDEL+ZREM, each awaited; ${kombuCounts.join('/')} msgs (≤ ${KOMBU_COUNT} or ${KOMBU_MS / 1000} s a round)`,
    }),
    rounds.figure('wakame.consume', {
      name: 'redis.wakame.consume-ack',
      unit: 'msg/s',
      ceiling: 'redis.raw.consume-ack',
      note: `Consumer handler, prefetch ${PREFETCH}, decode() + ack() each (target ≥ 70%)`,
    }),
  ];
}

export const redisBenchmarks: readonly Benchmark[] = [{ name: 'redis.messaging', run: messaging }];
