import { randomUUID } from 'node:crypto';
import { runTransportConformance } from '@wakame/testkit';

// A fresh broker name per test: tests are isolated without any shared state.
runTransportConformance({ name: 'memory', url: () => `memory://${randomUUID()}` });
