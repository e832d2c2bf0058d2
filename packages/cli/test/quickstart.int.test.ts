/**
 * `wakame quickstart --url <a real broker>` must leave a user's own `hipri`/`midpri`/`lopri` and
 * `tasks` alone (they are kombu's documented names, so real brokers have them): it runs on
 * namespaced entities of its own and deletes only those at the end.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Connection, Exchange, type ObservedTopology, Queue } from '@wakame/core';
import {
  BEANSTALK_URL,
  brokerGate,
  createVhost,
  deleteVhost,
  MYSQL_URL,
  POSTGRES_URL,
  RABBITMQ_MANAGEMENT_URL,
  REDIS_URL,
  redisUrl,
  ZOOKEEPER_URL,
} from '@wakame/testkit';
import { afterAll, describe, expect, it } from 'vitest';
// The transports package's helper for test roots on ZooKeeper (node-zookeeper-client is its dependency, not ours).
import { freshRoot, removeRoots, zkUrl } from '../../transports/test/zookeeper/scratch.js';
import { type QuickstartReport, quickstart } from '../src/commands/quickstart.js';
import { capture } from './capture.js';
import { dropSqlTables } from './sql-tables.js';

const NAMESPACED = ['wakame.quickstart.hipri', 'wakame.quickstart.midpri', 'wakame.quickstart.lopri'];

/** A user's own priority queues, as kombu's docs name them, each holding one message of theirs. */
async function seedUserQueues(url: string): Promise<void> {
  const connection = await Connection.open(url);
  try {
    const tasks = new Exchange('tasks', { type: 'direct' });
    await connection.declare(
      tasks,
      new Queue('hipri', { exchange: tasks, routingKey: 'hipri' }),
      new Queue('lopri', { exchange: tasks, routingKey: 'lopri' }),
    );
    const producer = connection.producer({ exchange: tasks });
    await producer.publish({ reportId: 'users-own-hipri' }, { routingKey: 'hipri' });
    await producer.publish({ reportId: 'users-own-lopri' }, { routingKey: 'lopri' });
  } finally {
    await connection.close();
  }
}

/**
 * Queue, exchange and binding names: what "as it found it" means. (Message counts are checked by taking
 * the messages: RabbitMQ's management statistics lag by seconds.)
 */
function shape(observed: ObservedTopology): { exchanges: string[]; queues: string[]; bindings: string[] } {
  return {
    exchanges: observed.exchanges.map((e) => e.name).sort(),
    queues: observed.queues.map((q) => q.name).sort(),
    bindings: observed.bindings.map((b) => `${b.source}->${b.destination}:${b.routingKey}`).sort(),
  };
}

async function listed(url: string): Promise<ObservedTopology> {
  const connection = await Connection.open(url);
  try {
    const observed = await connection.admin.inspect();
    expect(observed.complete).toBe(true);
    return observed;
  } finally {
    await connection.close();
  }
}

/** Takes (and acks) the one message in `queue`; returns its payload and what was left behind. */
async function takeOne(url: string, queue: string): Promise<{ payload: unknown; left: number }> {
  const connection = await Connection.open(url);
  try {
    const message = await connection.getMessage(queue);
    const payload = message?.payload;
    await message?.ack();
    const left = await new Queue(queue).attach(connection).messageCount();
    return { payload, left };
  } finally {
    await connection.close();
  }
}

/** Runs `wakame quickstart --json --tasks 5` in-process; returns what it printed. */
async function runQuickstart(url: string): Promise<QuickstartReport> {
  const json = capture({ jsonMode: true });
  const report = await quickstart(json.ctx, { url, tasks: '5' });
  expect(json.json).toEqual([report]);
  return report;
}

/** The scenario both brokers run: a user's queues hold messages; quickstart runs; they still do. */
function userQueuesSurvive(url: () => Promise<string>): void {
  it("leaves the user's hipri/lopri and their messages alone, and still serves high before low", async () => {
    const u = await url();
    await seedUserQueues(u);
    const before = shape(await listed(u));

    const report = await runQuickstart(u);
    expect(report).toMatchObject({
      processed: 15,
      inPriorityOrder: true,
      sent: { low: 5, mid: 5, high: 5 },
      namespaced: true,
      queues: NAMESPACED,
      exchanges: ['wakame.quickstart.tasks'],
      purgedLeftovers: 0,
      cleanedUp: true,
    });
    expect(report.order[0]).toMatch(/^high×/);

    // The broker is as quickstart found it: the user's entities, bindings and message counts, and nothing of its own.
    expect(shape(await listed(u))).toEqual(before);
    expect(await takeOne(u, 'hipri')).toEqual({ payload: { reportId: 'users-own-hipri' }, left: 0 });
    expect(await takeOne(u, 'lopri')).toEqual({ payload: { reportId: 'users-own-lopri' }, left: 0 });
  }, 60_000);

  it('purges only its own leftovers from an interrupted run, says so, and deletes them at the end', async () => {
    const u = await url();
    await seedUserQueues(u);
    const connection = await Connection.open(u);
    try {
      const own = new Exchange('wakame.quickstart.tasks', { type: 'direct' });
      await connection.declare(own, new Queue('wakame.quickstart.hipri', { exchange: own, routingKey: 'hipri' }));
      await connection.producer({ exchange: own }).publish({ reportId: 'high-left-over' }, { routingKey: 'hipri' });
    } finally {
      await connection.close();
    }

    const text = capture();
    const report = await quickstart(text.ctx, { url: u, tasks: '3' });
    expect(report).toMatchObject({ processed: 9, inPriorityOrder: true, purgedLeftovers: 1, cleanedUp: true });
    expect(text.out.join('\n')).toMatch(/purged 1 message.* wakame\.quickstart\.hipri/);
    expect(text.out.join('\n')).toContain('wakame.quickstart.hipri, wakame.quickstart.midpri, wakame.quickstart.lopri');

    const after = shape(await listed(u));
    expect([...after.exchanges, ...after.queues].filter((n) => n.startsWith('wakame.'))).toEqual([]);
    expect(after.queues).toEqual(['hipri', 'lopri']);
    expect(await takeOne(u, 'hipri')).toEqual({ payload: { reportId: 'users-own-hipri' }, left: 0 });
  }, 60_000);
}

const rabbit = await brokerGate('quickstart on RabbitMQ', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

describe.skipIf(rabbit === 'skip')("wakame quickstart on RabbitMQ keeps the user's queues", () => {
  const vhosts: string[] = [];
  afterAll(async () => {
    for (const vhost of vhosts) await deleteVhost(vhost);
  });
  /** A fresh vhost per test: the listing sees exactly the user's state and what quickstart did. */
  userQueuesSurvive(async () => {
    const vhost = `wakame-quickstart-${randomUUID()}`;
    vhosts.push(vhost);
    return createVhost(vhost);
  });
});

const redis = await brokerGate('quickstart on Redis', { name: 'redis', url: REDIS_URL });

describe.skipIf(redis === 'skip')("wakame quickstart on Redis keeps the user's queues", () => {
  /** A fresh key prefix per test in a database of its own: a fresh broker. */
  userQueuesSurvive(async () => redisUrl(9, `keyprefix=quickstart-${randomBytes(4).toString('hex')}:`));
});

const postgres = await brokerGate('quickstart on PostgreSQL', { name: 'postgres', url: POSTGRES_URL });
const mysql = await brokerGate('quickstart on MariaDB/MySQL', { name: 'mysql', url: MYSQL_URL });
/** Table prefixes the SQL runs used, dropped at the end (the transports create their tables on connect). */
const sqlPrefixes: { url: string; prefix: string }[] = [];

describe.skipIf(postgres === 'skip')("wakame quickstart on PostgreSQL keeps the user's queues", () => {
  /** A fresh table prefix per test: a fresh broker in the test database. */
  userQueuesSurvive(async () => sqlUrl(POSTGRES_URL));
});

describe.skipIf(mysql === 'skip')("wakame quickstart on MariaDB/MySQL keeps the user's queues", () => {
  userQueuesSurvive(async () => sqlUrl(MYSQL_URL));
});

const beanstalk = await brokerGate('quickstart on beanstalkd', { name: 'beanstalk', url: BEANSTALK_URL });

describe.skipIf(beanstalk === 'skip')("wakame quickstart on beanstalkd keeps the user's queues", () => {
  /** A fresh tube prefix per test: a fresh broker on the shared server. */
  userQueuesSurvive(async () => `${BEANSTALK_URL}?prefix=quickstart${randomBytes(4).toString('hex')}.`);
});

const zookeeper = await brokerGate('quickstart on ZooKeeper', { name: 'zookeeper', url: ZOOKEEPER_URL });
/** Root znodes the ZooKeeper runs used, removed at the end. */
const zkRoots: string[] = [];

describe.skipIf(zookeeper === 'skip')("wakame quickstart on ZooKeeper keeps the user's queues", () => {
  /** A fresh root znode per test: a fresh broker on the shared server. */
  userQueuesSurvive(async () => {
    const root = freshRoot('quickstart');
    zkRoots.push(root);
    return zkUrl(root);
  });
});

function sqlUrl(base: string): string {
  const prefix = `quickstart_${randomBytes(4).toString('hex')}_`;
  sqlPrefixes.push({ url: base, prefix });
  return `${base}?prefix=${prefix}`;
}

afterAll(async () => {
  for (const { url, prefix } of sqlPrefixes) await dropSqlTables(url, prefix);
  if (zookeeper === 'run') await removeRoots(zkRoots);
});
