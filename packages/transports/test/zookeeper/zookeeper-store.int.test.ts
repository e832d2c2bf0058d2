/**
 * What only the ZooKeeper store does, on the real server: a claim held by another session is skipped and the
 * waiting consumer is woken by that claim's end (a watch, there is no poll), the message then `redelivered`;
 * a body larger than one znode travels in chunks that go with the ack; in kombu's layout a requeue puts the
 * entry back under its own name; an entry that is not a message is set aside, not delivered forever; a queue
 * migration re-files ready entries only. A fresh root per test, removed after the suite.
 */
import { randomBytes } from 'node:crypto';
import { Connection, type Message, Queue } from '@wakame/core';
import { brokerGate, waitFor, ZOOKEEPER_URL } from '@wakame/testkit';
import zookeeper from 'node-zookeeper-client';
import { afterAll, describe, expect, it } from 'vitest';
import { call, freshRoot, rawClient, removeRoots, zkUrl } from './scratch.js';

const gate = await brokerGate('zookeeper store', { name: 'zookeeper', url: ZOOKEEPER_URL });
const roots: string[] = [];

function root(): string {
  const r = freshRoot('store');
  roots.push(r);
  return r;
}

afterAll(async () => {
  if (gate === 'run') await removeRoots(roots);
});

async function children(client: zookeeper.Client, path: string): Promise<string[]> {
  return (await call<string[]>((done) => client.getChildren(path, done))).sort();
}

describe.skipIf(gate === 'skip')('zookeeper store', () => {
  it('skips a claim another session holds, and delivers it redelivered once that session ends (woken by a watch)', async () => {
    const r = root();
    const conn = await Connection.open(zkUrl(r));
    const raw = await rawClient();
    try {
      const queue = new Queue('held', { exchange: '', routingKey: 'held' }).attach(conn);
      await conn.declare(queue);
      const producer = conn.producer();
      await producer.publish({ n: 1 }, { routingKey: 'held' });
      // Another session claims the first entry exactly as a Wakame consumer does.
      const [entry] = await children(raw, `/${r}/queues/held`);
      await call((done) =>
        raw
          .transaction()
          .create(`/${r}/claims/held/${entry}`, zookeeper.CreateMode.EPHEMERAL)
          .create(`/${r}/queues/held/${entry}/delivered`, zookeeper.CreateMode.PERSISTENT)
          .commit(done),
      );
      await producer.publish({ n: 2 }, { routingKey: 'held' });

      const got: Message[] = [];
      const consumer = conn.consumer({
        queues: [queue],
        prefetch: 1,
        handler: async (m) => {
          got.push(m);
          await m.ack();
        },
      });
      await consumer.consume();
      // n=2 arrives, so the consumer has tried (and skipped) the held n=1 before it.
      await waitFor(() => got.length === 1, { timeoutMs: 20_000, what: 'the unheld message' });
      await consumer.idle();
      expect(got.map((m) => [m.payload, m.redelivered])).toEqual([[{ n: 2 }, false]]);
      expect((await conn.admin.inspect()).queues.find((q) => q.name === 'held')?.messageCount).toBe(0);

      raw.close(); // the session ends: its ephemeral claim goes, nothing else changes in the queue
      await waitFor(() => got.length === 2, { timeoutMs: 30_000, what: 'the released message' });
      expect(got.map((m) => [m.payload, m.redelivered])).toEqual([
        [{ n: 2 }, false],
        [{ n: 1 }, true],
      ]);
      await consumer.close();
    } finally {
      raw.close();
      await conn.close();
    }
  }, 60_000);

  it('carries a 3 MiB body in chunks and removes them with the ack', async () => {
    const r = root();
    const conn = await Connection.open(zkUrl(r));
    const raw = await rawClient();
    try {
      const queue = new Queue('big', { exchange: '', routingKey: 'big' }).attach(conn);
      await conn.declare(queue);
      const body = randomBytes(3 * 1024 * 1024);
      await conn.producer().publish(body, { routingKey: 'big' });
      const [blob] = await children(raw, `/${r}/blobs/big`);
      expect(await children(raw, `/${r}/blobs/big/${blob}`)).toEqual(['0', '1', '2', '3']);

      const message = await queue.get({ accept: ['raw'] });
      expect(message?.body.equals(body)).toBe(true);
      await message?.ack();
      expect(await children(raw, `/${r}/blobs/big`)).toEqual([]);
      expect(await children(raw, `/${r}/queues/big`)).toEqual([]);
    } finally {
      raw.close();
      await conn.close();
    }
  }, 60_000);

  it.each(['wakame', 'kombu'] as const)(
    '%s layout: sets aside an entry that is not a message (another client wrote it) and delivers the next',
    async (layout) => {
      const r = root();
      const conn = await Connection.open(zkUrl(r, `layout=${layout}`));
      const raw = await rawClient();
      try {
        const queue = new Queue('mixed', { exchange: '', routingKey: 'mixed' }).attach(conn);
        await conn.declare(queue);
        const dir = layout === 'kombu' ? `/${r}/mixed` : `/${r}/queues/mixed`;
        const name = layout === 'kombu' ? 'entry-000-' : 'm-000-';
        const created = await call<string>((done) =>
          raw.create(`${dir}/${name}`, Buffer.from('not a message'), zookeeper.CreateMode.PERSISTENT_SEQUENTIAL, done),
        );
        await conn.producer().publish({ n: 1 }, { routingKey: 'mixed' });
        const message = await queue.get();
        expect(message?.payload).toEqual({ n: 1 });
        await message?.ack();
        const meta = layout === 'kombu' ? `/${r}/.wakame` : `/${r}`;
        const entry = created.slice(created.lastIndexOf('/') + 1);
        expect(await children(raw, `${meta}/corrupt/mixed`)).toEqual([entry]);
        const kept = await call<Buffer>((done) => raw.getData(`${meta}/corrupt/mixed/${entry}`, done));
        expect(kept.toString()).toBe('not a message');
        expect(await children(raw, dir)).toEqual([]);
      } finally {
        raw.close();
        await conn.close();
      }
    },
    60_000,
  );

  it("in kombu's layout, closing a consumer's connection mid-stream puts back every entry it took and did not ack", async () => {
    // kombu's claim deletes the entry: a claim still on its way when the connection closes (the consumer's
    // read-ahead) must be put back by the store itself, or it is lost.
    const r = root();
    const url = zkUrl(r, 'layout=kombu');
    const raw = await rawClient();
    try {
      for (let round = 0; round < 3; round++) {
        const conn = await Connection.open(url);
        const queue = new Queue(`stream-${round}`, { exchange: '', routingKey: `stream-${round}` }).attach(conn);
        await conn.declare(queue);
        for (let id = 1; id <= 10; id++) await conn.producer().publish({ id }, { routingKey: queue.name });
        const got: Message[] = [];
        await conn.consumer({ queues: [queue], prefetch: 5, handler: async (m) => void got.push(m) }).consume();
        await waitFor(() => got.length === 5, { timeoutMs: 20_000, what: 'five messages held' });
        for (const m of got.slice(0, 2)) await m.ack();
        await conn.close();
        expect(await children(raw, `/${r}/${queue.name}`), `round ${round}`).toHaveLength(8);
      }
    } finally {
      raw.close();
    }
  }, 60_000);

  it('re-files ready entries under a new maxPriority; a held one keeps its place, a requeued one its flag', async () => {
    const r = root();
    const conn = await Connection.open(zkUrl(r));
    const raw = await rawClient();
    try {
      const queue = new Queue('refile', { exchange: '', routingKey: 'refile', maxPriority: 2 }).attach(conn);
      await conn.declare(queue);
      for (const [n, priority] of [
        [1, 9],
        [2, 7],
        [3, 1],
        [4, 8],
      ] as const) {
        await conn.producer().publish({ n }, { routingKey: 'refile', priority });
      }
      expect(await children(raw, `/${r}/queues/refile`)).toEqual([
        'm-253-0000000000',
        'm-253-0000000001',
        'm-253-0000000003',
        'm-254-0000000002',
      ]);
      const held = await queue.get(); // n=1, held through the migration
      const requeued = await queue.get(); // n=2, delivered once and back
      await requeued?.requeue();
      const admin = conn.transport.admin;
      const from = (await admin.inspect()).queues.find((q) => q.name === 'refile');
      if (!from || !admin.migrateQueue) throw new Error('no queue or no migration');
      const journal = { read: async () => undefined, write: async () => {}, clear: async () => {} };
      await admin.migrateQueue({ from, to: { ...from, maxPriority: 10 }, bindings: [], journal });
      // n=2 (7) and n=4 (8) moved (new sequences, in either order); n=1 is held and keeps m-253; n=3 (1) stays.
      const after = await children(raw, `/${r}/queues/refile`);
      expect(after.map((n) => n.slice(0, 'm-000-'.length))).toEqual(['m-247-', 'm-248-', 'm-253-', 'm-254-']);
      expect(after.slice(2)).toEqual(['m-253-0000000000', 'm-254-0000000002']);
      await held?.ack();
      const rest = [];
      for (let m = await queue.get(); m; m = await queue.get()) {
        rest.push([m.payload, m.redelivered]);
        await m.ack();
      }
      expect(rest).toEqual([
        [{ n: 4 }, false],
        [{ n: 2 }, true],
        [{ n: 3 }, false],
      ]);
    } finally {
      raw.close();
      await conn.close();
    }
  }, 60_000);

  it("in kombu's layout, a requeue puts the entry back under its own name, marked redelivered", async () => {
    const r = root();
    const conn = await Connection.open(zkUrl(r, 'layout=kombu'));
    const raw = await rawClient();
    try {
      const queue = new Queue('kq', { exchange: '', routingKey: 'kq' }).attach(conn);
      await conn.declare(queue);
      await conn.producer().publish({ n: 1 }, { routingKey: 'kq' });
      await conn.producer().publish({ n: 2 }, { routingKey: 'kq' });
      const before = await children(raw, `/${r}/kq`);
      expect(before).toHaveLength(2);

      const first = await queue.get();
      expect(first?.payload).toEqual({ n: 1 });
      expect(await children(raw, `/${r}/kq`)).toEqual(before.slice(1)); // kombu's claim: the entry is deleted
      await first?.requeue();
      expect(await children(raw, `/${r}/kq`)).toEqual(before);

      const again = await queue.get();
      expect([again?.payload, again?.redelivered]).toEqual([{ n: 1 }, true]);
      await again?.ack();
      const second = await queue.get();
      expect([second?.payload, second?.redelivered]).toEqual([{ n: 2 }, false]);
      await second?.ack();
    } finally {
      raw.close();
      await conn.close();
    }
  }, 60_000);
});
