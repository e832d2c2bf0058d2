import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Queue } from '@wakame/core';
import type { StoredMessage } from '@wakame/core/spi';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/file/index.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'wakame-file-'));

function message(n: number): StoredMessage {
  return {
    id: `m${n}`,
    body: Buffer.from(JSON.stringify({ n })),
    properties: { contentType: 'application/json' },
    exchange: '',
    routingKey: 'q',
    priority: 0,
    expiresAt: undefined,
    redelivered: false,
  };
}

const numbers = (claimed: { message: StoredMessage }[]) =>
  claimed.map((c) => (JSON.parse(c.message.body.toString()) as { n: number }).n);

/** Every batch file of a queue, as bucket/name. */
function batchFiles(dir: string, queue: string): string[] {
  const batches = join(dir, 'queues', queue, 'batches');
  return readdirSync(batches)
    .filter((b) => !b.startsWith('.'))
    .flatMap((b) => readdirSync(join(batches, b)).map((n) => `${b}/${n}`));
}

describe('file store batches (format 2)', () => {
  it('writes the puts of one turn as one file, and a claim takes no more than it asks for', async () => {
    const dir = fresh();
    const store = new FileStore(dir);
    await store.open();
    try {
      await store.createQueue('q');
      await Promise.all(Array.from({ length: 10 }, (_, n) => store.put('q', message(n))));
      expect(batchFiles(dir, 'q')).toHaveLength(1);
      expect(await store.size('q')).toBe(10);
      const first = await store.getMany('q', 4);
      expect(numbers(first)).toEqual([0, 1, 2, 3]);
      // The rest went back as a file of its own, in its place.
      expect(await store.size('q')).toBe(6);
      const rest = await store.getMany('q', 100);
      expect(numbers(rest)).toEqual([4, 5, 6, 7, 8, 9]);
      await Promise.all([...first, ...rest].map((c) => store.settle(c.receipt, 'ack')));
      expect(readdirSync(join(dir, 'queues', 'q', 'claims'))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("restores a gone owner's claim less what it acked, in its place, redelivered", async () => {
    const dir = fresh();
    const crashed = new FileStore(dir);
    await crashed.open();
    await crashed.createQueue('q');
    await Promise.all(Array.from({ length: 10 }, (_, n) => crashed.put('q', message(n))));
    const claimed = await crashed.getMany('q', 4);
    await Promise.all([claimed[0], claimed[1]].map((c) => crashed.settle(c?.receipt, 'ack')));
    // The ack log names the two acked records.
    const claims = readdirSync(join(dir, 'queues', 'q', 'claims'));
    expect(claims.filter((n) => n.endsWith('.acks'))).toHaveLength(1);
    // Its lease goes with close(), as when the lease ran out and the pid is gone; the claim stays on disk.
    await crashed.close();
    const next = new FileStore(dir);
    await next.open();
    try {
      const all = await next.getMany('q', 100);
      expect(numbers(all)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      expect(all.map((c) => c.message.redelivered)).toEqual([true, true, false, false, false, false, false, false]);
      await Promise.all(all.map((c) => next.settle(c.receipt, 'ack')));
      // Nothing of the crashed claim is left: no claim, no ack log.
      expect(readdirSync(join(dir, 'queues', 'q', 'claims'))).toEqual([]);
    } finally {
      await next.close();
    }
  });

  it('requeues records to their place, in their order, whatever order they are requeued in', async () => {
    const dir = fresh();
    const store = new FileStore(dir);
    await store.open();
    try {
      await store.createQueue('q');
      await Promise.all(Array.from({ length: 5 }, (_, n) => store.put('q', message(n))));
      const claimed = await store.getMany('q', 5);
      await store.settle(claimed[2]?.receipt, 'ack');
      await Promise.all([4, 0, 3, 1].map((i) => store.settle(claimed[i]?.receipt, 'requeue')));
      const again = await store.getMany('q', 5);
      expect(numbers(again)).toEqual([0, 1, 3, 4]);
      expect(again.every((c) => c.message.redelivered)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('migrates a format-1 directory: its ready and dead-claimed messages, in priority order', async () => {
    const dir = fresh();
    const first = await Connection.open(`file://${dir}`);
    await first.declare(new Queue('old', { maxPriority: 5 }));
    await first.close();
    // Back to what format 1 left: one file per message, a JSON header line then the body.
    rmSync(join(dir, 'format.json'));
    const q = join(dir, 'queues', 'old');
    rmSync(join(q, 'batches'), { recursive: true });
    rmSync(join(q, 'claims'), { recursive: true });
    for (const sub of ['ready', 'claimed']) mkdirSync(join(q, sub));
    const v1 = (n: number) =>
      `${JSON.stringify({ id: `v1-${n}`, properties: { contentType: 'application/json' }, exchange: '', routingKey: 'old', priority: 0, expiresAt: null })}\n${JSON.stringify({ n })}`;
    writeFileSync(join(q, 'ready', '255-01700000000000-0000042-0000000002'), v1(2));
    writeFileSync(join(q, 'ready', '250-01700000000001-0000042-0000000003'), v1(3));
    writeFileSync(join(q, 'claimed', '255-01700000000000-0000042-0000000001~gone-owner'), v1(1));
    const second = await Connection.open(`file://${dir}`);
    try {
      expect(JSON.parse(readFileSync(join(dir, 'format.json'), 'utf8'))).toEqual({ format: 2 });
      const queue = new Queue('old', { maxPriority: 5 }).attach(second);
      const got = [];
      for (let m = await queue.get(); m; m = await queue.get()) {
        got.push([m.payload, m.redelivered]);
        await m.ack();
      }
      expect(got).toEqual([
        [{ n: 3 }, false],
        [{ n: 1 }, true],
        [{ n: 2 }, false],
      ]);
    } finally {
      await second.close();
    }
  });

  it('refuses a format-1 directory an older process still holds messages in, with a typed error', async () => {
    const dir = fresh();
    const q = join(dir, 'queues', 'q', 'claimed');
    mkdirSync(q, { recursive: true });
    mkdirSync(join(dir, 'owners'));
    writeFileSync(
      join(dir, 'owners', 'old-owner.json'),
      JSON.stringify({ pid: process.pid, until: Date.now() + 60_000 }),
    );
    writeFileSync(join(q, '255-01700000000000-0000042-0000000001~old-owner'), 'x');
    await expect(Connection.open(`file://${dir}`)).rejects.toMatchObject({ code: 'ERR_FILE_FORMAT' });
    expect(readdirSync(q)).toHaveLength(1);
  });

  it('refuses a directory of a newer format with a typed error', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'format.json'), JSON.stringify({ format: 3 }));
    await expect(Connection.open(`file://${dir}`)).rejects.toMatchObject({ code: 'ERR_FILE_FORMAT' });
  });
});
