/**
 * The master of a Sentinel group shut down while 5,000 messages are published: the sentinel promotes the
 * replica, the transport follows it, nothing confirmed is lost, and the `connection.revived` event names the
 * master actually reached (not the sentinel the URL names).
 */
import { randomBytes } from 'node:crypto';
import { Connection, Queue } from '@wakame/core';
import { brokerGate, restartRedisNode, waitFor } from '@wakame/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { SENTINEL_MASTER, SENTINEL_PORT } from './redis-cluster-env.js';
import { countingConsumer, publishUnderFault, tallyDeliveries } from './redis-failover-load.js';

const sentinelUrl = `redis://127.0.0.1:${SENTINEL_PORT}`;
const gate = await brokerGate('redis sentinel failover', { name: 'redis-sentinel', url: sentinelUrl });
const TOTAL = 5_000;
const BATCH = 100;
const SHUTDOWN_AT = 1_500;

/** The master's `host:port` as the sentinel names it now. */
async function currentMaster(): Promise<string> {
  const sentinel = new Redis({ port: SENTINEL_PORT, lazyConnect: true, maxRetriesPerRequest: 1 });
  sentinel.on('error', () => {});
  try {
    await sentinel.connect();
    const [host, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER)) as string[];
    return `${host}:${port}`;
  } finally {
    sentinel.disconnect();
  }
}

/** Whether the node on `port` answers and replicates from a master that is up. */
async function replicating(port: number): Promise<boolean> {
  const node = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 1 });
  node.on('error', () => {});
  try {
    await node.connect();
    return /master_link_status:up/.test(await node.info('replication'));
  } catch {
    return false;
  } finally {
    node.disconnect();
  }
}

describe.skipIf(gate === 'skip')('redis sentinel: the master shut down under load', () => {
  it('follows the promoted replica, loses nothing confirmed, and names the new master when revived', async () => {
    const prefix = `sfo-${randomBytes(3).toString('hex')}:`;
    const url = `${sentinelUrl}/0?sentinel=${SENTINEL_MASTER}&keyprefix=${prefix}`;
    const before = await currentMaster();
    const producer = await Connection.open(url);
    const consumer = await Connection.open(url);
    const revived: string[] = [];
    for (const c of [producer, consumer]) c.events.on('connection.revived', (e) => void revived.push(e.payload.url));
    const queue = new Queue('sentinel-failover-q');
    const oldPort = Number(before.split(':')[1]);
    let shutdown = false;
    try {
      await producer.declare(queue);
      const seen = await countingConsumer(consumer, queue, 200);
      const { confirmed, rejections, longestStall } = await publishUnderFault(producer, 'sentinel-failover-q', {
        total: TOTAL,
        batch: BATCH,
        faultAt: SHUTDOWN_AT,
        fault: async () => {
          // SHUTDOWN (not a kill): Redis 7 lets the replica catch up first, as an orderly stop does.
          const master = new Redis({ port: oldPort, lazyConnect: true, maxRetriesPerRequest: 1 });
          master.on('error', () => {});
          await master.connect();
          await master.call('SHUTDOWN').catch(() => undefined);
          master.disconnect();
          shutdown = true;
        },
      });
      const { lost, duplicates } = await tallyDeliveries(confirmed, seen);
      const after = await currentMaster();
      await waitFor(() => revived.length >= 2, { timeoutMs: 30_000, what: 'both connections revived' });
      console.info(
        `[redis sentinel failover] master ${before} shut down, promoted ${after}; published ${TOTAL}, confirmed ` +
          `${confirmed.size}, rejected ${rejections.length}, lost ${lost}, duplicates ${duplicates}, longest publish ` +
          `stall ${longestStall} ms; revived: ${revived.join(', ')}`,
      );
      expect(after).not.toBe(before);
      expect(lost).toBe(0);
      expect(rejections).toEqual([]);
      for (const u of revived) {
        expect(u).toContain(after);
        expect(u).not.toContain(`:${SENTINEL_PORT}`);
      }
      expect(producer.url).toContain(after);
    } finally {
      await producer.close();
      await consumer.close();
      // The old master comes back; the sentinel turns it into the new master's replica.
      if (shutdown) {
        await restartRedisNode(oldPort);
        await waitFor(() => replicating(oldPort), { timeoutMs: 60_000, what: `node ${oldPort} replicating again` });
      }
    }
  });
});
