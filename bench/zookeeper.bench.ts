/**
 * ZooKeeper messaging on the local standalone server (`ZOOKEEPER_URL`), the same ~200-byte JSON message, each
 * Wakame figure beside raw node-zookeeper-client doing the same znode work on one session:
 * (a) publish, 500 in flight: the raw side pipelines 500 `create`s (persistent sequential, `m-255-`), each the
 *     entry bytes Wakame writes (its JSON header line + the body);
 * (b) consume with an ack per message and each body decoded, one consumer: the raw side lists the queue once
 *     (`getChildren`, sorted), then per entry, 100 in flight, Wakame's claim (one multi-op creating the ephemeral
 *     claim node and the `delivered` marker, with the entry's `getData` pipelined beside it), decodes the body
 *     and acks (one multi-op removing claim, marker and entry); Wakame's consumer (prefetch 200) does the same
 *     and also reads the names again whenever a watch says the queue changed;
 * (c) kombu's layout (`?layout=kombu`): the raw side is kazoo's `Queue.get` pattern (`getData` + `delete` of each
 *     entry, 100 in flight, kombu's envelope decoded), Wakame consumes the same entries through its kombu layout.
 * Each round works under a root znode of its own, removed after it.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Connection } from '@wakame/core';
import { encodeEntry } from '@wakame/transports/zookeeper';
import type * as Zk from '../packages/transports/node_modules/@types/node-zookeeper-client/index.js';
import { type Benchmark, consumeRate, type Figure, inWindows, now, Rounds, rate } from './harness.js';
import { benchMessage, check, wakamePublishRate } from './publish-rate.js';

// node-zookeeper-client is a dependency of @wakame/transports, not of the workspace root: load the very copy the
// transport uses, from its package.
const zookeeper = createRequire(new URL('../packages/transports/package.json', import.meta.url))(
  'node-zookeeper-client',
) as typeof Zk;

const ZK_URL = new URL(process.env.ZOOKEEPER_URL ?? 'zookeeper://127.0.0.1:2181');
const HOSTS = `${ZK_URL.hostname}:${ZK_URL.port || 2181}`;
const COUNT = 3_000;
const WINDOW = 500;
const IN_FLIGHT = 100;
const PREFETCH = 200;
const ROUNDS = 5;
const QUEUE = 'bench';

function call<T>(run: (done: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
}

async function raw(): Promise<Zk.Client> {
  const client = zookeeper.createClient(HOSTS, { sessionTimeout: 10_000 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ZooKeeper at ${HOSTS} did not answer`)), 10_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.connect();
  });
  return client;
}

async function removeTree(client: Zk.Client, path: string): Promise<void> {
  const children = await call<string[]>((done) => client.getChildren(path, done)).catch(() => [] as string[]);
  await Promise.all(children.map((c) => removeTree(client, `${path}/${c}`)));
  await call<void>((done) => client.remove(path, -1, (e) => done(e, undefined))).catch(() => undefined);
}

/** The entry Wakame writes for message `i` (wakame layout: header line + JSON body; kombu: its envelope). */
function entry(layout: 'wakame' | 'kombu', i: number): Buffer {
  return encodeEntry(layout, benchMessage(i, QUEUE));
}

async function rawPublish(client: Zk.Client, queue: string, layout: 'wakame' | 'kombu'): Promise<number> {
  await call((done) => client.mkdirp(queue, done));
  const data = Array.from({ length: COUNT }, (_, i) => entry(layout, i));
  const name = layout === 'kombu' ? 'entry-009-' : 'm-255-';
  const start = now();
  await inWindows(COUNT, WINDOW, (i) =>
    call((done) =>
      client.create(`${queue}/${name}`, data[i] as Buffer, zookeeper.CreateMode.PERSISTENT_SEQUENTIAL, done),
    ),
  );
  const ms = now() - start;
  const stat = await call<Zk.Stat>((done) => client.exists(queue, done));
  check(stat?.numChildren === COUNT, `raw publish: queue holds ${stat?.numChildren} entries, not ${COUNT}`);
  return rate(COUNT, ms);
}

/** Wakame's claim → read → decode → ack of every entry, `IN_FLIGHT` at once. */
async function rawConsume(client: Zk.Client, queue: string, claims: string): Promise<number> {
  const start = now();
  await call((done) => client.mkdirp(claims, done));
  const names = (await call<string[]>((done) => client.getChildren(queue, done))).sort();
  check(names.length === COUNT, `raw consume: ${names.length} entries listed, not ${COUNT}`);
  await inWindows(COUNT, IN_FLIGHT, async (i) => {
    const name = names[i] as string;
    const path = `${queue}/${name}`;
    const claimed = call((done) =>
      client
        .transaction()
        .create(`${claims}/${name}`, zookeeper.CreateMode.EPHEMERAL)
        .create(`${path}/delivered`, zookeeper.CreateMode.PERSISTENT)
        .commit(done),
    );
    const data = call<Buffer>((done) => client.getData(path, done));
    await claimed;
    const bytes = await data;
    JSON.parse(bytes.toString('utf8', bytes.indexOf(10) + 1));
    await call((done) =>
      client.transaction().remove(`${claims}/${name}`).remove(`${path}/delivered`).remove(path).commit(done),
    );
  });
  return rate(COUNT, now() - start);
}

/** kazoo's `Queue.get` (kombu's claim): read the entry, delete it, decode kombu's envelope. */
async function rawKombuConsume(client: Zk.Client, queue: string): Promise<number> {
  const start = now();
  const names = (await call<string[]>((done) => client.getChildren(queue, done))).sort();
  check(names.length === COUNT, `raw kombu consume: ${names.length} entries listed, not ${COUNT}`);
  await inWindows(COUNT, IN_FLIGHT, async (i) => {
    const path = `${queue}/${names[i] as string}`;
    const data = call<Buffer>((done) => client.getData(path, done));
    await call<void>((done) => client.remove(path, -1, (e) => done(e, undefined)));
    const envelope = JSON.parse((await data).toString('utf8')) as { body: string };
    JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8'));
  });
  return rate(COUNT, now() - start);
}

const QUEUE_SPEC = { name: QUEUE, durable: true, exclusive: false, autoDelete: false, arguments: {} };

async function messaging(): Promise<Figure[]> {
  const rounds = new Rounds();
  for (let r = 0; r < ROUNDS; r++) {
    const root = `/wakame-bench/zk-${randomBytes(4).toString('hex')}`;
    const client = await raw();
    try {
      await rounds.take('raw.publish', () => rawPublish(client, `${root}/raw/queues/${QUEUE}`, 'wakame'));
      await rounds.take('raw.consume', () =>
        rawConsume(client, `${root}/raw/queues/${QUEUE}`, `${root}/raw/claims/${QUEUE}`),
      );
      await rounds.take('raw.kombu', async () => {
        await rawPublish(client, `${root}/rawk/${QUEUE}`, 'kombu');
        return rawKombuConsume(client, `${root}/rawk/${QUEUE}`);
      });
      const connection = await Connection.open(`zookeeper://${HOSTS}${root}/wakame`);
      try {
        await connection.admin.declareQueue(QUEUE_SPEC);
        await rounds.take('wakame.publish', () => wakamePublishRate(connection, QUEUE, COUNT, WINDOW));
        await rounds.take('wakame.consume', () =>
          consumeRate(connection, QUEUE, COUNT, { prefetch: PREFETCH, decode: true }),
        );
      } finally {
        await connection.close();
      }
      const kombu = await Connection.open(`zookeeper://${HOSTS}${root}/kombu?layout=kombu`);
      try {
        await kombu.admin.declareQueue(QUEUE_SPEC);
        await rounds.take('wakame.kombu', async () => {
          await wakamePublishRate(kombu, QUEUE, COUNT, WINDOW);
          return consumeRate(kombu, QUEUE, COUNT, { prefetch: PREFETCH, decode: true });
        });
      } finally {
        await kombu.close();
      }
    } finally {
      await removeTree(client, root);
      client.close();
    }
  }
  return [
    rounds.figure('raw.publish', {
      name: 'zookeeper.raw.publish',
      unit: 'msg/s',
      note: `node-zookeeper-client, ${WINDOW} sequential creates in flight, Wakame's entry bytes`,
    }),
    rounds.figure('wakame.publish', {
      name: 'zookeeper.wakame.publish',
      unit: 'msg/s',
      ceiling: 'zookeeper.raw.publish',
      note: `Producer.publish, ${WINDOW} in flight`,
    }),
    rounds.figure('raw.consume', {
      name: 'zookeeper.raw.consume-ack',
      unit: 'msg/s',
      note: `node-zookeeper-client, getChildren once, then ${IN_FLIGHT} in flight: claim multi-op + getData, decode, ack multi-op`,
    }),
    rounds.figure('wakame.consume', {
      name: 'zookeeper.wakame.consume-ack',
      unit: 'msg/s',
      ceiling: 'zookeeper.raw.consume-ack',
      note: `Consumer handler, prefetch ${PREFETCH}, decode() + ack() each (+ getChildren again after watches fire)`,
    }),
    rounds.figure('raw.kombu', {
      name: 'zookeeper.raw.kombu-get-delete',
      unit: 'msg/s',
      note: `node-zookeeper-client, kazoo's Queue.get pattern: getData + delete, ${IN_FLIGHT} in flight, envelope decoded`,
    }),
    rounds.figure('wakame.kombu', {
      name: 'zookeeper.wakame.kombu-consume-ack',
      unit: 'msg/s',
      ceiling: 'zookeeper.raw.kombu-get-delete',
      note: `?layout=kombu, Consumer handler, prefetch ${PREFETCH}, decode() + ack() each`,
    }),
  ];
}

export const zookeeperBenchmarks: readonly Benchmark[] = [{ name: 'zookeeper.messaging', run: messaging }];
