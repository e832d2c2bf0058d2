/**
 * Real worker processes sharing one broker: the embedded file broker, Redis, PostgreSQL, MariaDB, beanstalkd and ZooKeeper. Two workers split the
 * work exactly once; a worker killed with SIGKILL mid-batch loses nothing, because its in-flight
 * messages come back when its lease runs out.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection, defineTopology, Queue, TaskClient } from '@wakame/core';
import {
  BEANSTALK_URL,
  brokerGate,
  MYSQL_URL,
  POSTGRES_URL,
  REDIS_URL,
  redisUrl,
  waitFor,
  ZOOKEEPER_URL,
} from '@wakame/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
// The transports package's helper for test roots on ZooKeeper (node-zookeeper-client is its dependency, not ours).
import { freshRoot, removeRoots, zkUrl } from '../../transports/test/zookeeper/scratch.js';
import { dropSqlTables } from './sql-tables.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const main = join(repo, 'packages/cli/src/main.ts');
const fixture = join(repo, 'packages/cli/test/fixtures/count-worker.mjs');
const topology = defineTopology({
  queues: [{ name: 'work', bindings: [{ exchange: 'amq.direct', routingKey: 'work' }] }],
  tasks: [{ name: 'count.me', route: { exchange: 'amq.direct', routingKey: 'work' } }],
});

/** Lines "<pid> <n>" the workers wrote. */
function handled(out: string): { pid: number; n: number }[] {
  if (!existsSync(out)) return [];
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, n] = line.split(' ').map(Number);
      return { pid: pid as number, n: n as number };
    });
}

const redisGate = await brokerGate('redis multi-process', { name: 'redis', url: REDIS_URL });
const postgresGate = await brokerGate('postgres multi-process', { name: 'postgres', url: POSTGRES_URL });
const mysqlGate = await brokerGate('mysql multi-process', { name: 'mysql', url: MYSQL_URL });
const beanstalkGate = await brokerGate('beanstalk multi-process', { name: 'beanstalk', url: BEANSTALK_URL });
const zookeeperGate = await brokerGate('zookeeper multi-process', { name: 'zookeeper', url: ZOOKEEPER_URL });
/** Root znodes of the ZooKeeper brokers, removed at the end. */
const zkRoots: string[] = [];
/** Table prefixes of the SQL brokers, dropped at the end. */
const sqlPrefixes: { url: string; prefix: string }[] = [];

function sqlUrl(base: string): string {
  const prefix = `mp_${randomBytes(4).toString('hex')}_`;
  sqlPrefixes.push({ url: base, prefix });
  return `${base}?lease=1000&prefix=${prefix}`;
}

afterAll(async () => {
  for (const { url, prefix } of sqlPrefixes) await dropSqlTables(url, prefix);
  if (zookeeperGate === 'run') await removeRoots(zkRoots);
});

/** A fresh broker per test, with 1 s leases so a killed worker's messages come back quickly. */
const brokers = [
  { name: 'file', skip: false, url: () => `file://${mkdtempSync(join(tmpdir(), 'wakame-mp-'))}?lease=1000` },
  {
    name: 'redis',
    skip: redisGate === 'skip',
    url: () => redisUrl(5, `lease=1000&keyprefix=mp-${randomBytes(4).toString('hex')}:`),
  },
  { name: 'postgres', skip: postgresGate === 'skip', url: () => sqlUrl(POSTGRES_URL) },
  { name: 'mysql', skip: mysqlGate === 'skip', url: () => sqlUrl(MYSQL_URL) },
  // No lease: a killed worker's reserved jobs go back when beanstalkd sees its connections close.
  {
    name: 'beanstalk',
    skip: beanstalkGate === 'skip',
    url: () => `${BEANSTALK_URL}?prefix=mp${randomBytes(4).toString('hex')}.`,
  },
  // No lease: a killed worker's claims are ephemeral znodes, gone when its session times out (4 s asked; the
  // server's bounds apply, 2 to 20 ticks).
  {
    name: 'zookeeper',
    skip: zookeeperGate === 'skip',
    url: () => {
      const root = freshRoot('mp');
      zkRoots.push(root);
      return zkUrl(root, 'session_timeout=4000');
    },
  },
];

describe.each(brokers)('$name broker across processes', ({ skip, url: freshUrl }) => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  async function prepare(total: number): Promise<{ url: string; out: string }> {
    const url = freshUrl();
    const connection = await Connection.open(url);
    const client = new TaskClient(connection, topology);
    await connection.declare(new Queue('work', { exchange: 'amq.direct', routingKey: 'work' }));
    for (let n = 0; n < total; n++) await client.send('count.me', { n });
    await connection.close();
    return { url, out: join(mkdtempSync(join(tmpdir(), 'wakame-mp-out-')), 'handled.txt') };
  }

  function startWorker(url: string, out: string): ChildProcess {
    const child = spawn(
      process.execPath,
      ['--conditions=@wakame/source', '--import', 'tsx', main, 'worker', fixture, '--url', url, '--quiet'],
      {
        cwd: repo,
        env: { ...process.env, WAKAME_TEST_OUT: out },
        stdio: 'ignore',
      },
    );
    children.push(child);
    return child;
  }

  const exit = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  it.skipIf(skip)(
    'two workers and a sender: every message processed exactly once',
    async () => {
      const total = 300;
      const { url, out } = await prepare(total);
      const workers = [startWorker(url, out), startWorker(url, out)];
      await waitFor(() => handled(out).length >= total, { timeoutMs: 40_000, what: `${total} tasks handled` });
      for (const w of workers) w.kill('SIGTERM');
      expect(await Promise.all(workers.map(exit))).toEqual([0, 0]);
      const lines = handled(out);
      expect(new Set(lines.map((l) => l.n)).size).toBe(total);
      expect(lines).toHaveLength(total);
      expect(new Set(lines.map((l) => l.pid)).size).toBe(2);
    },
    60_000,
  );

  it.skipIf(skip)(
    'a worker killed with SIGKILL loses nothing: the other one takes its messages after the lease',
    async () => {
      const total = 300;
      const { url, out } = await prepare(total);
      const victim = startWorker(url, out);
      await waitFor(() => handled(out).length >= 40, { timeoutMs: 30_000, what: 'the first worker to be mid-batch' });
      victim.kill('SIGKILL');
      await exit(victim);
      const survivor = startWorker(url, out);
      await waitFor(() => new Set(handled(out).map((l) => l.n)).size === total, {
        timeoutMs: 40_000,
        what: 'every task handled',
      });
      survivor.kill('SIGTERM');
      expect(await exit(survivor)).toBe(0);
      const lines = handled(out);
      const duplicates = lines.length - new Set(lines.map((l) => l.n)).size;
      console.info(
        `[sigkill ${url.split(':')[0]}] ${lines.filter((l) => l.pid === victim.pid).length} handled by the killed worker, ${duplicates} duplicates`,
      );
      // Only what the killed worker held (its prefetch window, concurrency 4) can run twice.
      expect(duplicates).toBeLessThanOrEqual(4);
    },
    90_000,
  );
});
