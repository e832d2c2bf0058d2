/**
 * Celery interop over Redis with the Redis result backend. Both sides use one key prefix per run
 * (kombu's global_keyprefix, Wakame's `keyprefix=`), so concurrent runs never share queues or bindings;
 * result keys are per task id.
 */

import { brokerGate, REDIS_URL } from '@wakame/testkit';
import { CeleryRedisResultBackend } from '@wakame/transports/redis';
import { Redis } from 'ioredis';
import { describe } from 'vitest';
import { celeryInteropSuite } from './celery-interop.js';
import { celeryGate } from './celery-peer.js';

const broker = await brokerGate('Celery interop (Redis)', { name: 'redis', url: REDIS_URL });
const python = broker === 'run' ? await celeryGate('Celery interop (Redis)') : 'skip';

let keyprefix = '';
describe.skipIf(python === 'skip')('Celery over Redis', () => {
  celeryInteropSuite({
    name: 'Redis (redis:// results)',
    async prepare(prefix) {
      keyprefix = `${prefix}:`;
      const separator = REDIS_URL.includes('?') ? '&' : '?';
      const url = `${REDIS_URL}${separator}keyprefix=${encodeURIComponent(keyprefix)}`;
      return { url, peer: { broker: REDIS_URL, backend: REDIS_URL, prefix, keyprefix } };
    },
    backend: () => new CeleryRedisResultBackend({ url: REDIS_URL, expiresSeconds: 600 }),
    // kombu's Redis priorities run the other way (0 is served first); Wakame mirrors its own 0..9 onto them,
    // so "urgent" stays urgent on both sides while the number flips.
    priorityAsSeen: (sent) => 9 - sent,
    async cleanup() {
      // Only this run's keys: everything under its prefix.
      const redis = new Redis(REDIS_URL);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyprefix}*`, 'COUNT', 500);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  });
});
