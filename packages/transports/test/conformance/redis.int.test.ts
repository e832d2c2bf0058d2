import { randomBytes } from 'node:crypto';
import { brokerGate, REDIS_URL, redisUrl, runTransportConformance } from '@wakame/testkit';

// Each test gets its own key prefix (kombu's global_keyprefix) in a database of its own: a fresh broker.
const gate = await brokerGate('redis conformance', { name: 'redis', url: REDIS_URL });

runTransportConformance({
  name: 'redis',
  url: () => redisUrl(3, `keyprefix=conformance-${randomBytes(4).toString('hex')}:`),
  skip: gate === 'skip',
});
