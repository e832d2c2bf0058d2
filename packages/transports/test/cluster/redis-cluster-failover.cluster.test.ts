/**
 * A Redis Cluster master killed (SIGKILL) while 5,000 messages are published to a queue whose slot it owns:
 * its replica is promoted, the publisher and the consumer follow it, and no confirmed message is lost.
 * `wait_replicas=1` is what makes "confirmed" survive the kill: Redis replicates asynchronously, and the
 * promoted replica has only what it had received.
 */
import { randomBytes } from 'node:crypto';
import { Connection, Queue } from '@wakame/core';
import { brokerGate, killRedisNode, REDIS_CLUSTER_PORTS, restartRedisNode, waitFor } from '@wakame/testkit';
import { ClusterKeys, hashSlot } from '@wakame/transports/redis';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CLUSTER_PORT, clusterUrl, masterOfSlot } from './redis-cluster-env.js';
import { countingConsumer, publishUnderFault, tallyDeliveries } from './redis-failover-load.js';

const gate = await brokerGate('redis cluster failover', {
  name: 'redis-cluster',
  url: `redis://127.0.0.1:${CLUSTER_PORT}`,
});
const TOTAL = 5_000;
const BATCH = 100;
const KILL_AT = 1_500;
const PREFETCH = 200;

/** Waits until every node that answers says the cluster is whole (all slots served). */
async function clusterOk(ports: readonly number[]): Promise<boolean> {
  let answered = 0;
  for (const port of ports) {
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 1 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if (!/cluster_state:ok/.test(await probe.cluster('INFO'))) return false;
      answered++;
    } catch {
      // down: not asked
    } finally {
      probe.disconnect();
    }
  }
  return answered > 0;
}

describe.skipIf(gate === 'skip')('redis cluster: the master of a queue killed under load', () => {
  it('promotes its replica and loses no confirmed message', async () => {
    const prefix = `fo-${randomBytes(3).toString('hex')}:`;
    const url = clusterUrl(prefix, 'wait_replicas=1&wait_ms=200');
    const producer = await Connection.open(url);
    const consumer = await Connection.open(url);
    const queue = new Queue('failover-q');
    const ports = REDIS_CLUSTER_PORTS.length > 0 ? REDIS_CLUSTER_PORTS : [CLUSTER_PORT];
    let killedPort: number | undefined;
    try {
      await producer.declare(queue);
      const slot = hashSlot(new ClusterKeys(prefix, [0]).list('failover-q', 0));
      const master = await masterOfSlot(slot, ports);
      const seen = await countingConsumer(consumer, queue, PREFETCH);
      let kill: Promise<void> | undefined;
      const { confirmed, rejections, longestStall } = await publishUnderFault(producer, 'failover-q', {
        total: TOTAL,
        batch: BATCH,
        faultAt: KILL_AT,
        fault: () => {
          killedPort = Number(master.split(':')[1]);
          kill = killRedisNode(killedPort); // not awaited: publishing goes on while the node dies
        },
      });
      await kill;
      const promoted = await masterOfSlot(slot, ports);
      const { lost, duplicates } = await tallyDeliveries(confirmed, seen);
      console.info(
        `[redis cluster failover] killed ${master} (slot ${slot}), promoted ${promoted}; published ${TOTAL}, ` +
          `confirmed ${confirmed.size}, rejected ${rejections.length}, lost ${lost}, duplicates ${duplicates}, ` +
          `longest publish stall (failure detection + promotion + reroute) ${longestStall} ms`,
      );
      expect(promoted).not.toBe(master);
      expect(lost).toBe(0);
      expect(rejections).toEqual([]);
      // Redelivered: at most what was in flight (claimed, or pushed but unanswered) when the master died.
      expect(duplicates).toBeLessThanOrEqual(PREFETCH + BATCH);
    } finally {
      await producer.close();
      await consumer.close();
      // The killed master comes back as a replica of the promoted one: the cluster is whole for the next test.
      if (killedPort !== undefined) await restartRedisNode(killedPort);
      await waitFor(() => clusterOk(ports), { timeoutMs: 60_000, what: 'the cluster whole again' });
    }
  });
});
