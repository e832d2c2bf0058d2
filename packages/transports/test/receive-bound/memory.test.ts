import { randomUUID } from 'node:crypto';
import { receiveBoundSuite } from './scenario.js';

// The memory store holds every body anyway: the consumer checks it before anything decodes it.
receiveBoundSuite({ name: 'memory', url: () => `memory://${randomUUID()}`, withholds: false });
