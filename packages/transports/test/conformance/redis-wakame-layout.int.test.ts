import { randomBytes } from 'node:crypto';
import { brokerGate, REDIS_URL, redisUrl, runTransportConformance } from '@wakame/testkit';

// Wakame's cluster key layout (every queue's keys in one hash slot, PUBLISH wake-ups) on the single Redis: the
// same code as on Redis Cluster, checked without one. The cluster itself runs the suite in the `cluster` project.
const gate = await brokerGate('redis conformance (wakame layout)', { name: 'redis', url: REDIS_URL });

runTransportConformance({
  name: 'redis (layout=wakame)',
  url: () => redisUrl(3, `layout=wakame&keyprefix=conformance-w${randomBytes(4).toString('hex')}:`),
  skip: gate === 'skip',
});
