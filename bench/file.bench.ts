/**
 * The embedded file broker: publish → consume → decode → ack of ~200-byte JSON messages, one
 * producer and two consumers (separate connections, as separate processes would be), without and
 * with fsync; beside the ceiling, the same file work done with bare `fs` calls in one process: per
 * message, write a header line + body to tmp/ (with fsync: open, write, fsync, close, then fsync the
 * directory after the rename), rename it into ready/; each of two consumers lists ready/, renames a
 * file into claimed/ (the claim), opens, stats, reads and closes it, parses header and body, unlinks it.
 * Disk timing is noisy (one run had fsync faster than no fsync): rounds interleave all four
 * variants and every figure shows its spread.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
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

const COUNT = 5_000;
const WINDOW = 100;
const PREFETCH = 100;
const ROUNDS = 5;

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

/** The file broker's file work with bare `fs` calls (see the module comment). */
async function raw(fsync: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wakame-bench-rawfile-'));
  const [tmp, ready, claimed] = ['tmp', 'ready', 'claimed'].map((d) => join(dir, d)) as [string, string, string];
  for (const d of [tmp, ready, claimed]) mkdirSync(d);
  const properties = { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2 };
  const bound = deadline(LOAD_TIMEOUT_MS, `raw file work, ${COUNT} messages`);
  let consumed = 0;

  const write = async (i: number) => {
    const name = String(i).padStart(8, '0');
    const header = JSON.stringify({ id: String(i), properties, exchange: '', routingKey: 'bench', priority: 0 });
    const data = Buffer.concat([Buffer.from(`${header}\n`), Buffer.from(JSON.stringify(benchPayload(i)))]);
    const path = join(tmp, name);
    if (fsync) {
      const handle = await open(path, 'w');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } else await writeFile(path, data);
    await rename(path, join(ready, name));
    if (fsync) await syncDir(ready);
  };

  const take = async (name: string, owner: number) => {
    const path = join(claimed, `${name}~${owner}`);
    try {
      await rename(join(ready, name), path);
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
    const newline = data.indexOf(10);
    JSON.parse(data.subarray(0, newline).toString('utf8'));
    JSON.parse(data.subarray(newline + 1).toString('utf8'));
    await unlink(path);
    consumed++;
  };

  const consume = async (owner: number) => {
    while (consumed < COUNT) {
      bound.check(`${consumed}/${COUNT} consumed`);
      const names = (await readdir(ready)).sort();
      if (names.length === 0) {
        await sleep(1);
        continue;
      }
      for (let i = 0; i < names.length; i += PREFETCH) {
        await Promise.all(names.slice(i, i + PREFETCH).map((name) => take(name, owner)));
      }
    }
  };

  try {
    const start = now();
    const consumers = [consume(1), consume(2)];
    await inWindows(COUNT, WINDOW, write);
    await within(Promise.all(consumers), LOAD_TIMEOUT_MS, 'raw file consumers');
    return rate(COUNT, now() - start);
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
    }
  }
  const work = `${COUNT} messages, 1 producer (${WINDOW} in flight), 2 consumers (prefetch ${PREFETCH}), decode + ack`;
  return [
    rounds.figure('raw.plain', {
      name: 'file.raw.publish-consume-ack',
      unit: 'msg/s',
      note: 'bare fs: write tmp + rename to ready; list, rename to claimed, read, parse, unlink; no fsync',
    }),
    rounds.figure('wakame.plain', {
      name: 'file.publish-consume-ack',
      unit: 'msg/s',
      ceiling: 'file.raw.publish-consume-ack',
      note: `${work}, no fsync (target ≥ 5,000)`,
    }),
    rounds.figure('raw.fsync', {
      name: 'file.raw.publish-consume-ack.fsync',
      unit: 'msg/s',
      note: 'as file.raw above, each message file and the ready/ directory fsynced',
    }),
    rounds.figure('wakame.fsync', {
      name: 'file.publish-consume-ack.fsync',
      unit: 'msg/s',
      ceiling: 'file.raw.publish-consume-ack.fsync',
      note: `${work}, every message and its directory fsynced before the publish resolves`,
    }),
  ];
}

export const fileBenchmarks: readonly Benchmark[] = [{ name: 'file', run }];
