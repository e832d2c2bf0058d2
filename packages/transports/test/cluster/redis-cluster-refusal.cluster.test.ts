/**
 * kombu's key layout on a Redis Cluster node: refused at connect, once, with a typed non-retriable error that
 * says what to do, instead of every script failing with CROSSSLOT and the connection retrying forever.
 */
import { Connection } from '@wakame/core';
import { brokerGate } from '@wakame/testkit';
import { RedisClusterError } from '@wakame/transports/redis';
import { describe, expect, it } from 'vitest';
import { CLUSTER_PORT } from './redis-cluster-env.js';

const node = `redis://127.0.0.1:${CLUSTER_PORT}`;
const gate = await brokerGate('redis cluster refusal', { name: 'redis-cluster', url: node });

describe.skipIf(gate === 'skip')("kombu's layout on Redis Cluster", () => {
  for (const url of [`${node}/0`, `${node}/3`, `${node}?cluster=true&layout=kombu`]) {
    it(`${url} fails once with RedisClusterError, and ensureConnection does not retry it`, async () => {
      const connection = new Connection(url, { connectTimeoutMs: 5_000 });
      const retries: unknown[] = [];
      connection.events.on('connection.retry', (event) => void retries.push(event));
      try {
        const failure = await connection.ensureConnection({ maxRetries: 3, initialDelayMs: 10 }).catch((e) => e);
        expect(failure).toBeInstanceOf(RedisClusterError);
        expect(failure).toMatchObject({ code: 'ERR_REDIS_CLUSTER', retriable: false });
        expect((failure as Error).message).toContain('?cluster=true');
        expect((failure as Error).message).toContain('kombu');
        expect(retries).toEqual([]);
        expect(connection.isConnected).toBe(false);
      } finally {
        await connection.close();
      }
    });
  }

  it('?cluster=true on the same node works', async () => {
    const connection = await Connection.open(`${node}?cluster=true&keyprefix=refusal-ok:`);
    try {
      expect(connection.isConnected).toBe(true);
    } finally {
      await connection.close();
    }
  });
});
