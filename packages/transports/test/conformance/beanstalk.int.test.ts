import { randomBytes } from 'node:crypto';
import { BEANSTALK_URL, brokerGate, runTransportConformance } from '@wakame/testkit';

// Each test gets a tube prefix of its own: a fresh broker on the shared server.
const gate = await brokerGate('beanstalk conformance', { name: 'beanstalk', url: BEANSTALK_URL });

runTransportConformance({
  name: 'beanstalk',
  url: () => `${BEANSTALK_URL}?prefix=conf${randomBytes(4).toString('hex')}.`,
  skip: gate === 'skip',
});
