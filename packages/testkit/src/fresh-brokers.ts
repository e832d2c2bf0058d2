/**
 * One fresh, empty broker per test, on each kind a suite runs against: a temporary `file://`
 * directory, a Redis key prefix of its own (in a database the suite names), a RabbitMQ vhost of its
 * own. Suites that run the same case on every broker (`describe.each(brokers)`) share this instead of
 * each writing its gates, prefixes and cleanup again.
 *
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { brokerGate, RABBITMQ_MANAGEMENT_URL, REDIS_URL, redisUrl } from './brokers.js';
import { amqpUrlForVhost, createVhost, deleteVhost } from './management.js';

/** One kind of broker, and how to get a fresh one of it. */
export interface FreshBroker {
  readonly name: 'file' | 'redis' | 'rabbitmq';
  /** The broker is not reachable here (on a laptop; in CI the gate fails instead). */
  readonly skip: boolean;
  /** The URL of a new, empty broker; `query` is added to file and Redis URLs (e.g. `lease=1000`). */
  fresh(query?: string): Promise<string>;
}

/** Options of {@link freshBrokers}. */
export interface FreshBrokersOptions {
  /** The Redis database the suite uses (prefixes keep its tests apart from others there). */
  readonly redisDb: number;
}

/**
 * The three brokers for a suite named `label`, and `cleanup` for its `afterAll`: it deletes the
 * vhosts and the Redis keys the suite's brokers made (temporary directories are left to the OS).
 */
export async function freshBrokers(
  label: string,
  options: FreshBrokersOptions,
): Promise<{ readonly brokers: readonly FreshBroker[]; cleanup(): Promise<void> }> {
  const redisGate = await brokerGate(`${label} on Redis`, { name: 'redis', url: REDIS_URL });
  const rabbitGate = await brokerGate(`${label} on RabbitMQ`, {
    name: 'rabbitmq-management',
    url: RABBITMQ_MANAGEMENT_URL,
  });
  const vhosts: string[] = [];
  const prefixes: string[] = [];
  const withQuery = (url: string, query: string | undefined) => (query ? `${url}?${query}` : url);
  const brokers: FreshBroker[] = [
    {
      name: 'file',
      skip: false,
      fresh: async (query) => withQuery(`file://${mkdtempSync(join(tmpdir(), 'wakame-'))}`, query),
    },
    {
      name: 'redis',
      skip: redisGate === 'skip',
      fresh: async (query) => {
        const prefix = `t-${randomBytes(4).toString('hex')}:`;
        prefixes.push(prefix);
        return redisUrl(options.redisDb, [query, `keyprefix=${prefix}`].filter(Boolean).join('&'));
      },
    },
    {
      name: 'rabbitmq',
      skip: rabbitGate === 'skip',
      fresh: async () => {
        const vhost = `wakame-test-${randomUUID()}`;
        vhosts.push(vhost);
        await createVhost(vhost);
        return amqpUrlForVhost(vhost);
      },
    },
  ];
  const cleanup = async (): Promise<void> => {
    for (const vhost of vhosts.splice(0)) await deleteVhost(vhost);
    if (prefixes.length === 0) return;
    const redis = new Redis(redisUrl(options.redisDb));
    try {
      for (const prefix of prefixes.splice(0)) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.unlink(...keys);
          cursor = next;
        } while (cursor !== '0');
      }
    } finally {
      redis.disconnect();
    }
  };
  return { brokers, cleanup };
}
