import { brokerGate, runTransportConformance, ZOOKEEPER_URL } from '@wakame/testkit';
import { afterAll } from 'vitest';
import { freshRoot, removeRoots, zkUrl } from '../zookeeper/scratch.js';

// Each test gets a root znode of its own (a fresh broker), removed once the suite is done.
const gate = await brokerGate('zookeeper conformance', { name: 'zookeeper', url: ZOOKEEPER_URL });
const roots: string[] = [];

runTransportConformance({
  name: 'zookeeper',
  url: () => {
    const root = freshRoot('conformance');
    roots.push(root);
    return zkUrl(root);
  },
  skip: gate === 'skip',
});

afterAll(async () => {
  if (gate !== 'skip') await removeRoots(roots);
});
