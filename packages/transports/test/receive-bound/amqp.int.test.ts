import { randomUUID } from 'node:crypto';
import { AMQP_URL, brokerGate, createVhost, deleteVhost, RABBITMQ_MANAGEMENT_URL } from '@wakame/testkit';
import { afterAll, describe } from 'vitest';
import { receiveBoundSuite } from './scenario.js';

const gate = await brokerGate('amqp receive bound', { name: 'rabbitmq', url: AMQP_URL });
const managementGate = await brokerGate('amqp receive bound (management)', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});
const vhosts: string[] = [];

describe.skipIf(gate === 'skip' || managementGate === 'skip')('amqp', () => {
  afterAll(async () => {
    for (const vhost of vhosts) await deleteVhost(vhost);
  });

  // amqplib assembles every body before Wakame sees it: the consumer checks its length before anything
  // copies or decodes it.
  receiveBoundSuite({
    name: 'amqp',
    url: async () => {
      const vhost = `wakame.receive-bound/${randomUUID()}`;
      vhosts.push(vhost);
      return createVhost(vhost);
    },
    withholds: false,
  });
});
