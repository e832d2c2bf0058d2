/**
 * Leases on Redis Cluster: a consumer process that dies (SIGKILL) holding messages of two queues on different
 * masters gets them back in their queues once its lease lapses, restored by another process connected through
 * another node, and marked redelivered. Nothing comes back while the holder is alive.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Connection, type Message, Queue } from '@wakame/core';
import { brokerGate, REDIS_CLUSTER_PORTS, waitFor } from '@wakame/testkit';
import { ClusterKeys, hashSlot } from '@wakame/transports/redis';
import { describe, expect, it } from 'vitest';
import { CLUSTER_PORT, clusterUrl, masterOfSlot } from './redis-cluster-env.js';

const gate = await brokerGate('redis cluster restore', {
  name: 'redis-cluster',
  url: `redis://127.0.0.1:${CLUSTER_PORT}`,
});
const claimer = fileURLToPath(new URL('./fixtures/redis-claimer.ts', import.meta.url));
const PER_QUEUE = 20;

/** Runs the claimer on `queue` and resolves with it once it holds its messages. */
async function claimIn(url: string, queue: string): Promise<{ kill(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@wakame/source', '--import', 'tsx', claimer, url, queue, `${PER_QUEUE}`],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(`claimed ${PER_QUEUE}`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the claimer exited (${code}) before claiming: ${out}`)));
  });
  return {
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

describe.skipIf(gate === 'skip')('redis cluster: a dead consumer process', () => {
  it('has its messages restored, across nodes, once its lease lapses; never while it lives', async () => {
    const prefix = `rs-${randomBytes(3).toString('hex')}:`;
    const ports = REDIS_CLUSTER_PORTS.length > 0 ? REDIS_CLUSTER_PORTS : [CLUSTER_PORT];
    // Two queues whose slots are on different masters.
    const keys = new ClusterKeys(prefix, [0]);
    const names = ['restore-a'];
    const firstMaster = await masterOfSlot(hashSlot(keys.list('restore-a', 0)), ports);
    for (let i = 0; names.length < 2 && i < 100; i++) {
      const name = `restore-b${i}`;
      if ((await masterOfSlot(hashSlot(keys.list(name, 0)), ports)) !== firstMaster) names.push(name);
    }
    expect(names).toHaveLength(2);
    const url = clusterUrl(prefix, 'lease=1500');
    const producer = await Connection.open(url);
    // The restorer reaches the cluster through another seed node.
    const other = ports.find((p) => p !== CLUSTER_PORT) ?? CLUSTER_PORT;
    const restorerUrl = url.replace(`:${CLUSTER_PORT}?`, `:${other}?`);
    let restorer: Connection | undefined;
    const holders: { kill(): Promise<void> }[] = [];
    try {
      for (const name of names) {
        const queue = new Queue(name);
        await producer.declare(queue);
        const publish = producer.producer({ routingKey: name });
        for (let n = 0; n < PER_QUEUE; n++) await publish.publish({ name, n });
        holders.push(await claimIn(url, name));
      }
      restorer = await Connection.open(restorerUrl);
      const got: Message[] = [];
      for (const name of names) {
        await restorer.consumer({ queues: [new Queue(name)], handler: async (m) => void got.push(m) }).consume();
      }
      // Alive and renewing for three leases: nothing comes back.
      const aliveUntil = Date.now() + 4_500;
      await waitFor(() => Date.now() >= aliveUntil, { timeoutMs: 10_000, what: 'three leases of a live holder' });
      expect(got).toHaveLength(0);
      const killedAt = Date.now();
      for (const h of holders) await h.kill();
      await waitFor(() => got.length === PER_QUEUE * names.length, {
        timeoutMs: 30_000,
        what: () => `every held message restored (${got.length} so far)`,
      });
      console.info(
        `[redis cluster restore] ${got.length} messages restored ${Date.now() - killedAt} ms after the kill`,
      );
      expect(got.every((m) => m.redelivered)).toBe(true);
      expect(new Set(got.map((m) => JSON.stringify(m.payload))).size).toBe(got.length);
      for (const m of got) await m.ack();
    } finally {
      for (const h of holders) await h.kill();
      await restorer?.close();
      await producer.close();
    }
  });
});
