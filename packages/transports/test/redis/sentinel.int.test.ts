/**
 * Redis Sentinel URLs, against a real sentinel: the test starts `redis-server --sentinel` on a free
 * port, monitoring the local Redis as master `wakame-master`, and the transport finds the master
 * through it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, ConnectionError, Queue } from '@wakame/core';
import { brokerGate, REDIS_URL, waitFor } from '@wakame/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './ports.js';
import { useRedisScratch } from './scratch.js';

const gate = await brokerGate('redis sentinel', { name: 'redis', url: REDIS_URL });
const DB = 8;
const MASTER = 'wakame-master';

describe.skipIf(gate === 'skip')('redis sentinel', () => {
  const scratch = useRedisScratch(DB);
  let sentinel: ChildProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    port = await freePort();
    const master = new URL(REDIS_URL);
    const dir = mkdtempSync(join(tmpdir(), 'wakame-sentinel-'));
    const config = join(dir, 'sentinel.conf');
    writeFileSync(
      config,
      `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${MASTER} ${master.hostname} ${master.port || 6379} 1\n`,
    );
    sentinel = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => 100 });
    probe.on('error', () => {});
    await waitFor(
      async () => {
        if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
        return probe.status === 'ready' && (await probe.call('SENTINEL', 'get-master-addr-by-name', MASTER)) !== null;
      },
      { timeoutMs: 10_000, what: 'the sentinel to know the master' },
    );
    probe.disconnect();
  }, 20_000);

  afterAll(() => {
    sentinel?.kill('SIGTERM');
  });

  it('finds the master through the sentinel and works against it', async () => {
    const prefix = scratch.fresh('sentinel-');
    const conn = await Connection.open(`redis://127.0.0.1:${port}/${DB}?sentinel=${MASTER}&keyprefix=${prefix}`);
    try {
      const queue = new Queue('through-sentinel');
      await conn.declare(queue);
      await conn.producer({ routingKey: 'through-sentinel' }).publish({ via: 'sentinel' });
      // It landed on the master the sentinel named (the local Redis).
      expect(await scratch.raw.llen(`${prefix}through-sentinel`)).toBe(1);
      const message = await queue.attach(conn).get();
      expect(message?.payload).toEqual({ via: 'sentinel' });
      await message?.ack();
    } finally {
      await conn.close();
    }
  });

  it('refuses a master name the sentinel does not know with ConnectionError', async () => {
    await expect(
      Connection.open(`redis://127.0.0.1:${port}/${DB}?sentinel=no-such-master`, { connectTimeoutMs: 3_000 }),
    ).rejects.toBeInstanceOf(ConnectionError);
  });
});
