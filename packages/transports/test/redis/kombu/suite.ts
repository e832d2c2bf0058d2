/**
 * Set-up shared by the kombu interop suites (`../kombu-*.int.test.ts`): the gate, the databases, and the per-variant
 * queues.
 *
 * Each suite owns Redis databases of its own (2 and 11..15; other Redis tests use 3 to 9), flushed before and
 * after it, so that the suites cannot see each other's keys. Each is gated on Redis and on kombu + redis-py being
 * importable by /usr/bin/python3: without them it is skipped with a notice on stderr, or fails when brokers are
 * required (CI installs python3-kombu python3-redis).
 */
import { randomUUID } from 'node:crypto';
import { REDIS_URL, redisUrl } from '@wakame/testkit';
import { afterAll, beforeAll } from 'vitest';
import { kombuSuite as gate, HOOK_TIMEOUT_MS, type KombuSuite, VariantRoutes } from '../../kombu-common/peer.js';
import { type RedisPeerInfo, runPeer } from './peer.js';

/**
 * The gate of a suite, for `describe.skipIf(!suite.run)`: Redis reachable and the kombu peer runnable against
 * database `db` (`../../kombu-common/peer.ts`).
 */
export function kombuSuite(suite: string, db: number): Promise<KombuSuite<RedisPeerInfo>> {
  return gate<RedisPeerInfo>({
    suite,
    broker: { name: 'redis', url: REDIS_URL },
    runPeer,
    probe: ['probe', '--url', redisUrl(db)],
    packages: ['python3-kombu', 'python3-redis'],
    cannot: 'cannot import kombu and redis, or reach Redis',
    none: { kombu: '', redis: '', python: '', msgpack: false, yaml: false, variants: [] },
  });
}

/** Flushes the databases of `urls` before the enclosing suite and after it. */
export function flushAround(...urls: string[]): void {
  beforeAll(async () => {
    for (const url of urls) await runPeer(['flush', '--url', url], 20_000);
  }, HOOK_TIMEOUT_MS);
  afterAll(async () => {
    for (const url of urls) await runPeer(['flush', '--url', url], 20_000).catch(() => undefined);
  }, HOOK_TIMEOUT_MS);
}

/** A fresh name prefix for one suite's exchanges and queues. */
export function uniqueBase(): string {
  return `kombu-${randomUUID().slice(0, 8)}`;
}

/**
 * Per-variant routing under a fresh name prefix: each variant travels in a queue of its own
 * (`<base>.<direction>.<variant>`, `maxPriority` 9), in database `url`.
 */
export function variantRoutes(url: string): VariantRoutes {
  return new VariantRoutes(uniqueBase(), url, { maxPriority: 9 });
}
