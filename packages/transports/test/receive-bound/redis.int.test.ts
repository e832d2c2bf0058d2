import { randomBytes } from 'node:crypto';
import { brokerGate, REDIS_URL, redisUrl } from '@wakame/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe } from 'vitest';
import { receiveBoundSuite } from './scenario.js';

const gate = await brokerGate('redis receive bound', { name: 'redis', url: REDIS_URL });
/** Shared with other files, never flushed: each test has a key prefix of its own, deleted afterwards. */
const DB = 3;
const prefixes: string[] = [];

describe.skipIf(gate === 'skip')('redis', () => {
  afterAll(async () => {
    const raw = new Redis(redisUrl(DB));
    try {
      for (const prefix of prefixes) {
        let cursor = '0';
        for (let page = 0; page < 1_000; page++) {
          const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
          if (keys.length > 0) await raw.del(...keys);
          cursor = next;
          if (cursor === '0') break;
        }
      }
    } finally {
      raw.disconnect();
    }
  });

  // The claim script measures a body in Redis and returns the envelope without it when it is over the bound.
  receiveBoundSuite({
    name: 'redis',
    url: () => {
      const prefix = `receive-bound-${randomBytes(4).toString('hex')}:`;
      prefixes.push(prefix);
      return redisUrl(DB, `keyprefix=${prefix}`);
    },
    withholds: true,
  });
});
