import { randomBytes } from 'node:crypto';
import { brokerGate, runTransportConformance } from '@wakame/testkit';
import { CLUSTER_PORT, clusterUrl } from './redis-cluster-env.js';

// The whole conformance suite on Redis Cluster, in Wakame's cluster layout; each test gets its own key prefix.
const gate = await brokerGate('redis cluster conformance', {
  name: 'redis-cluster',
  url: `redis://127.0.0.1:${CLUSTER_PORT}`,
});

runTransportConformance({
  name: 'redis cluster',
  url: () => clusterUrl(`conf-${randomBytes(4).toString('hex')}:`),
  skip: gate === 'skip',
});
