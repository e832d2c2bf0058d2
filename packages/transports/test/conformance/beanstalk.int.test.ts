import { randomBytes } from 'node:crypto';
import { BEANSTALK_URL, brokerGate, runTransportConformance } from '@wakame/testkit';
import { afterAll } from 'vitest';
import { drainTubes } from '../beanstalk/drain-tubes.js';

// Each test gets a tube prefix of its own: a fresh broker on the shared server.
const gate = await brokerGate('beanstalk conformance', { name: 'beanstalk', url: BEANSTALK_URL });
const run = `conf${randomBytes(3).toString('hex')}`;

runTransportConformance({
  name: 'beanstalk',
  url: () => `${BEANSTALK_URL}?prefix=${run}${randomBytes(4).toString('hex')}.`,
  skip: gate === 'skip',
});

afterAll(async () => {
  if (gate !== 'skip') await drainTubes(BEANSTALK_URL, [run]);
});
