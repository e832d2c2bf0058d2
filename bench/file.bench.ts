/**
 * The embedded file broker: publish → consume → decode → ack of ~200-byte JSON messages, one
 * producer and two consumers (separate connections, as separate processes would be), without and
 * with fsync. Its ceiling does the same file work with bare `fs` calls in one process (format 2, see
 * packages/transports/src/file): the publishes of one turn encoded as one batch file, written under a
 * temporary name in batches/ (with fsync: open, write, fsync, close) and renamed into its bucket (with
 * fsync, the bucket synced); each of two consumers lists batches/ and a bucket, renames a file into
 * claims/ (the claim), opens, stats, reads and closes it, writes back what is over half its prefetch
 * window (temporary file, rename, truncate the claim), parses each record's header and body, and
 * deletes the claim and its ack log. The old one-file-per-message work is measured beside it for
 * scale. Then the depth sweep: a queue filled to 10k, 100k and 1M, its enqueue and drain rates and
 * the process's RSS. Disk timing is noisy: rounds interleave the variants, every figure shows its spread.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, Queue } from '@wakame/core';
import {
  type Benchmark,
  benchPayload,
  countdown,
  deadline,
  type Figure,
  inWindows,
  LOAD_TIMEOUT_MS,
  now,
  Rounds,
  rate,
  within,
} from './harness.js';

const COUNT = 20_000;
const PER_FILE_COUNT = 3_000;
const WINDOW = 100;
const PREFETCH = 100;
/** What one claim of the broker takes at this prefetch: half the window. */
const TAKE = PREFETCH / 2;
const ROUNDS = 5;
const PER_FILE_ROUNDS = 3;
const PROPERTIES = { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2 };

async function wakame(fsync: boolean): Promise<number> {
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
          prefetch: PREFETCH,
          handler: async (m) => {
            m.decode();
            await m.ack();
            finished.tick();
          },
          onHandlerError: (_m, error) => finished.fail(error),
        })
        .consume();
    }
    const start = now();
    const publish = producer.producer({ routingKey: 'bench' });
    // Publishes in windows of 100 in flight, as a busy producer would.
    await inWindows(COUNT, WINDOW, (i) => publish.publish(benchPayload(i)));
    await within(finished.done, LOAD_TIMEOUT_MS, `file broker, ${COUNT} messages`);
    return rate(COUNT, now() - start);
  } finally {
    for (const c of [producer, ...consumers]) await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeData(path: string, data: Buffer, fsync: boolean): Promise<void> {
  if (!fsync) return writeFile(path, data);
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function record(i: number): Buffer[] {
  const header = Buffer.from(
    JSON.stringify({ id: `b.${i}`, properties: PROPERTIES, exchange: '', routingKey: 'bench', expiresAt: null }),
  );
  const body = Buffer.from(JSON.stringify(benchPayload(i)));
  const prefix = Buffer.allocUnsafe(8);
  prefix.writeUInt32BE(header.length, 0);
  prefix.writeUInt32BE(body.length, 4);
  return [prefix, header, body];
}

/** The broker's file work with bare `fs` calls (see the module comment). */
async function raw(fsync: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wakame-bench-rawfile-'));
  const [batches, claims] = ['batches', 'claims'].map((d) => join(dir, d)) as [string, string];
  for (const d of [batches, claims]) mkdirSync(d);
  const bound = deadline(LOAD_TIMEOUT_MS, `raw file work, ${COUNT} messages`);
  const buckets = new Set<string>();
  let files = 0;
  let consumed = 0;

  const place = async (name: string, data: Buffer) => {
    const tmp = join(batches, `.tmp-${++files}`);
    await writeData(tmp, data, fsync);
    const bucket = join(batches, name.slice(0, 15));
    if (!buckets.has(bucket)) {
      await mkdir(bucket, { recursive: true });
      buckets.add(bucket);
    }
    await rename(tmp, join(bucket, name));
    if (fsync) await syncDir(bucket);
  };
  const key = () => `255-${String(Date.now()).padStart(14, '0')}-0000001-${String(++files).padStart(10, '0')}`;
  const name = (k: string, first: number, count: number) =>
    `${k}.${String(first).padStart(6, '0')}.${String(count).padStart(6, '0')}`;

  // Group commit: the sends of one turn go into one file.
  let pending: { records: Buffer[][]; resolve: () => void; done: Promise<void> } | undefined;
  const send = (i: number): Promise<void> => {
    if (!pending) {
      let resolve: () => void = () => {};
      const done = new Promise<void>((r) => {
        resolve = r;
      });
      const batch = { records: [] as Buffer[][], resolve, done };
      pending = batch;
      setImmediate(() => {
        pending = undefined;
        const data = Buffer.concat([Buffer.from('WKB2'), ...batch.records.flat()]);
        void place(name(key(), 0, batch.records.length), data).then(batch.resolve);
      });
    }
    pending.records.push(record(i));
    return pending.done;
  };

  const take = async (bucket: string, file: string, owner: number) => {
    const path = join(claims, `${file}~${owner}`);
    try {
      await rename(join(batches, bucket, file), path);
    } catch {
      return; // the other consumer won it
    }
    const handle = await open(path, 'r');
    let data: Buffer;
    try {
      const { size } = await handle.stat();
      data = Buffer.allocUnsafe(size);
      await handle.read(data, 0, size, 0);
    } finally {
      await handle.close();
    }
    const ends: number[] = [];
    for (let at = 4; at < data.length; ) {
      at += 8 + data.readUInt32BE(at) + data.readUInt32BE(at + 4);
      ends.push(at);
    }
    const [k, first] = file.split('.') as [string, string];
    const kept = Math.min(TAKE, ends.length);
    if (ends.length > kept) {
      const from = ends[kept - 1] as number;
      await place(
        name(k, Number(first) + kept, ends.length - kept),
        Buffer.concat([Buffer.from('WKB2'), data.subarray(from)]),
      );
      await truncate(path, from);
    }
    for (let i = 0, at = 4; i < kept; i++) {
      const headerLength = data.readUInt32BE(at);
      const end = ends[i] as number;
      JSON.parse(data.subarray(at + 8, at + 8 + headerLength).toString('utf8'));
      JSON.parse(data.subarray(at + 8 + headerLength, end).toString('utf8'));
      at = end;
    }
    await unlink(path);
    await rm(`${join(claims, file)}.acks`, { force: true });
    consumed += kept;
  };

  const consume = async (owner: number) => {
    while (consumed < COUNT) {
      bound.check(`${consumed}/${COUNT} consumed`);
      const listed = (await readdir(batches)).filter((b) => !b.startsWith('.')).sort();
      let found = 0;
      for (const bucket of listed) {
        const names = (await readdir(join(batches, bucket)).catch(() => [] as string[])).sort();
        found += names.length;
        for (const file of names) await take(bucket, file, owner);
      }
      if (found === 0) await sleep(1);
    }
  };

  try {
    const start = now();
    const consumers = [consume(1), consume(2)];
    await inWindows(COUNT, WINDOW, send);
    await within(Promise.all(consumers), LOAD_TIMEOUT_MS, 'raw file consumers');
    return rate(COUNT, now() - start);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The format-1 work (one file per message) with bare `fs` calls, for scale. */
async function rawPerFile(fsync: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wakame-bench-rawfile-'));
  const [tmp, ready, claimed] = ['tmp', 'ready', 'claimed'].map((d) => join(dir, d)) as [string, string, string];
  for (const d of [tmp, ready, claimed]) mkdirSync(d);
  const bound = deadline(LOAD_TIMEOUT_MS, `raw per-file work, ${PER_FILE_COUNT} messages`);
  let consumed = 0;
  const write = async (i: number) => {
    const name = String(i).padStart(8, '0');
    const header = JSON.stringify({ id: String(i), properties: PROPERTIES, exchange: '', routingKey: 'bench' });
    await writeData(join(tmp, name), Buffer.from(`${header}\n${JSON.stringify(benchPayload(i))}`), fsync);
    await rename(join(tmp, name), join(ready, name));
    if (fsync) await syncDir(ready);
  };
  const take = async (name: string, owner: number) => {
    const path = join(claimed, `${name}~${owner}`);
    try {
      await rename(join(ready, name), path);
    } catch {
      return;
    }
    const handle = await open(path, 'r');
    let data: Buffer;
    try {
      const { size } = await handle.stat();
      data = Buffer.allocUnsafe(size);
      await handle.read(data, 0, size, 0);
    } finally {
      await handle.close();
    }
    const newline = data.indexOf(10);
    JSON.parse(data.subarray(0, newline).toString('utf8'));
    JSON.parse(data.subarray(newline + 1).toString('utf8'));
    await unlink(path);
    consumed++;
  };
  const consume = async (owner: number) => {
    while (consumed < PER_FILE_COUNT) {
      bound.check(`${consumed}/${PER_FILE_COUNT} consumed`);
      const names = (await readdir(ready)).sort();
      if (names.length === 0) await sleep(1);
      for (let i = 0; i < names.length; i += PREFETCH)
        await Promise.all(names.slice(i, i + PREFETCH).map((name) => take(name, owner)));
    }
  };
  try {
    const start = now();
    const consumers = [consume(1), consume(2)];
    await inWindows(PER_FILE_COUNT, WINDOW, write);
    await within(Promise.all(consumers), LOAD_TIMEOUT_MS, 'raw per-file consumers');
    return rate(PER_FILE_COUNT, now() - start);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function run(): Promise<Figure[]> {
  const rounds = new Rounds();
  for (let round = 0; round < ROUNDS; round++) {
    for (const fsync of [false, true]) {
      const mode = fsync ? 'fsync' : 'plain';
      await rounds.take(`raw.${mode}`, () => raw(fsync));
      await rounds.take(`wakame.${mode}`, () => wakame(fsync));
      if (round < PER_FILE_ROUNDS) await rounds.take(`per-file.${mode}`, () => rawPerFile(fsync));
    }
  }
  const work = `${COUNT} messages, 1 producer (${WINDOW} in flight), 2 consumers (prefetch ${PREFETCH}), decode + ack`;
  const perFile = `${PER_FILE_COUNT} messages, bare fs, format 1 (one file per message): write tmp + rename to ready; list, rename to claimed, read, parse, unlink`;
  return [
    rounds.figure('raw.plain', {
      name: 'file.raw.publish-consume-ack',
      unit: 'msg/s',
      note: `${COUNT} messages, bare fs, the broker's file work: one batch file per turn (write tmp + rename into its bucket); list, rename into claims/, read, write back over ${TAKE}, parse, unlink; no fsync`,
    }),
    rounds.figure('wakame.plain', {
      name: 'file.publish-consume-ack',
      unit: 'msg/s',
      ceiling: 'file.raw.publish-consume-ack',
      note: `${work}, no fsync (target ≥ 10,000)`,
    }),
    rounds.figure('per-file.plain', {
      name: 'file.raw-per-file.publish-consume-ack',
      unit: 'msg/s',
      ceiling: 'file.raw.publish-consume-ack',
      note: `${perFile}; no fsync`,
    }),
    rounds.figure('raw.fsync', {
      name: 'file.raw.publish-consume-ack.fsync',
      unit: 'msg/s',
      note: 'as file.raw above, each batch file and its bucket directory fsynced',
    }),
    rounds.figure('wakame.fsync', {
      name: 'file.publish-consume-ack.fsync',
      unit: 'msg/s',
      ceiling: 'file.raw.publish-consume-ack.fsync',
      note: `${work}, each batch file and its directory fsynced before its publishes resolve (target ≥ 2,000)`,
    }),
    rounds.figure('per-file.fsync', {
      name: 'file.raw-per-file.publish-consume-ack.fsync',
      unit: 'msg/s',
      ceiling: 'file.raw.publish-consume-ack.fsync',
      note: `${perFile}; each message file and ready/ fsynced`,
    }),
  ];
}

const DEPTHS = [10_000, 100_000, 1_000_000] as const;
/** Messages drained from the front at each depth: the whole queue up to this many. */
const DRAIN_MAX = 200_000;
const FILL_WINDOW = 1_000;
/** Each phase of a depth stops here and reports how far it got. */
const PHASE_MS = 120_000;

/** Fills a queue to `depth` (windows of 1,000 in flight), then drains from its front with one consumer. */
async function depthRound(
  depth: number,
): Promise<{ filled: number; enqueue: number; drained: number; drain: number; rss: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'wakame-bench-filedepth-'));
  const url = `file://${dir}`;
  const producer = await Connection.open(url);
  const consumer = await Connection.open(url);
  let rss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    rss = Math.max(rss, process.memoryUsage().rss);
  }, 200);
  try {
    const queue = new Queue('deep', { durable: true });
    await producer.declare(queue);
    const publish = producer.producer({ routingKey: 'deep' });
    const fillStart = now();
    let filled = 0;
    while (filled < depth && now() - fillStart < PHASE_MS) {
      const sent: Promise<void>[] = [];
      for (let j = 0; j < FILL_WINDOW && filled + j < depth; j++) sent.push(publish.publish(benchPayload(filled + j)));
      await within(Promise.all(sent), LOAD_TIMEOUT_MS, 'a window of sends');
      filled += sent.length;
    }
    const enqueue = rate(filled, now() - fillStart);
    const target = Math.min(filled, DRAIN_MAX);
    let drained = 0;
    let last = now();
    const finished = countdown(target);
    const drainStart = now();
    const subscription = consumer.consumer({
      queues: [queue],
      prefetch: PREFETCH,
      handler: async (m) => {
        m.decode();
        await m.ack();
        drained++;
        last = now();
        finished.tick();
      },
      onHandlerError: (_m, error) => finished.fail(error),
    });
    await subscription.consume();
    await within(finished.done, PHASE_MS, `draining ${target} of ${filled}`).catch(() => undefined);
    await subscription.close();
    return { filled, enqueue, drained, drain: rate(drained, last - drainStart), rss: rss / 2 ** 20 };
  } finally {
    clearInterval(sampler);
    for (const c of [producer, consumer]) await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function depthSweep(): Promise<Figure[]> {
  const rounds = new Rounds();
  const notes = new Map<number, string>();
  for (const depth of DEPTHS) {
    const result = await depthRound(depth).catch((error: unknown) => error);
    if (result instanceof Error || typeof result !== 'object' || result === null) {
      for (const what of ['enqueue', 'drain', 'rss'])
        await rounds.take(`${depth}.${what}`, () => Promise.reject(result));
      continue;
    }
    const r = result as Awaited<ReturnType<typeof depthRound>>;
    rounds.add(`${depth}.enqueue`, r.enqueue);
    rounds.add(`${depth}.drain`, r.drain);
    rounds.add(`${depth}.rss`, r.rss);
    notes.set(
      depth,
      `${r.filled} enqueued (windows of ${FILL_WINDOW}), ${r.drained} drained from the front by 1 consumer (prefetch ${PREFETCH}, decode + ack)`,
    );
  }
  const label = (depth: number) => (depth >= 1_000_000 ? `${depth / 1_000_000}M` : `${depth / 1000}k`);
  return DEPTHS.flatMap((depth) => {
    const at = label(depth);
    const base = label(DEPTHS[0]);
    const note = notes.get(depth) ?? 'failed';
    const flat = depth === DEPTHS[0] ? {} : { ceiling: `file.depth.${base}` };
    return [
      rounds.figure(`${depth}.enqueue`, {
        name: `file.depth.${at}.enqueue`,
        unit: 'msg/s',
        note,
        ...(depth === DEPTHS[0] ? {} : { ceiling: `file.depth.${base}.enqueue` }),
      }),
      rounds.figure(`${depth}.drain`, {
        name: `file.depth.${at}.drain`,
        unit: 'msg/s',
        note: `${note}; ratio: to the ${base}-deep drain`,
        ...(depth === DEPTHS[0] ? {} : { ceiling: `file.depth.${base}.drain` }),
      }),
      rounds.figure(`${depth}.rss`, {
        name: `file.depth.${at}.peak-rss`,
        unit: 'MB',
        note: 'peak RSS of the bench process while filling and draining (sampled every 200 ms)',
        ...(Object.keys(flat).length ? { ceiling: `file.depth.${base}.peak-rss` } : {}),
      }),
    ];
  });
}

export const fileBenchmarks: readonly Benchmark[] = [
  { name: 'file', run },
  { name: 'file.depth', run: depthSweep },
];
