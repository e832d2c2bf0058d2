/**
 * Where the Redis cluster tests find their private topologies: the Redis Cluster (3 masters, 3 replicas) and
 * the Sentinel group that `scripts/clusters/redis-topologies.sh` starts (the `cluster` project's globalSetup
 * starts them once per run). Ports come from the environment for a developer's own topology.
 */
import { Redis } from 'ioredis';

/** One node of the Redis Cluster (`WAKAME_REDIS_CLUSTER_PORT`, default 7101); the transport finds the others. */
export const CLUSTER_PORT = Number(process.env.WAKAME_REDIS_CLUSTER_PORT ?? 7101);
/** The sentinel (`WAKAME_REDIS_SENTINEL_PORT`, default 26395) and the master name it watches. */
export const SENTINEL_PORT = Number(process.env.WAKAME_REDIS_SENTINEL_PORT ?? 26395);
export const SENTINEL_MASTER = process.env.WAKAME_REDIS_SENTINEL_MASTER ?? 'wkmaster';

/** The cluster URL with a key prefix and more options. */
export function clusterUrl(prefix: string, query = ''): string {
  return `redis://127.0.0.1:${CLUSTER_PORT}?cluster=true&keyprefix=${prefix}${query === '' ? '' : `&${query}`}`;
}

/** The master (`host:port`) owning `slot` now, asked of any live node. */
export async function masterOfSlot(slot: number, ports: readonly number[]): Promise<string> {
  for (const port of ports) {
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 1 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      const ranges = (await probe.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      for (const [from, to, [host, p]] of ranges) if (slot >= from && slot <= to) return `${host}:${p}`;
    } catch {
      // a node that is down: ask the next
    } finally {
      probe.disconnect();
    }
  }
  throw new Error(`no live node of ports ${ports.join(',')} knows the master of slot ${slot}`);
}
