/**
 * Celery interop over RabbitMQ with the `rpc://` result backend. It runs in the broker's default vhost
 * (no management API needed) on queue and exchange names unique to the run, deleted afterwards; the
 * reply queues of `rpc://` delete themselves.
 */
import { Connection, RpcResultBackend } from '@wakame/core';
import { AMQP_URL, brokerGate } from '@wakame/testkit';
import { describe } from 'vitest';
import { celeryInteropSuite } from './celery-interop.js';
import { celeryGate } from './celery-peer.js';

const broker = await brokerGate('Celery interop (RabbitMQ)', { name: 'rabbitmq', url: AMQP_URL });
const python = broker === 'run' ? await celeryGate('Celery interop (RabbitMQ)') : 'skip';

let names: readonly string[] = [];
describe.skipIf(python === 'skip')('Celery over RabbitMQ', () => {
  celeryInteropSuite({
    name: 'RabbitMQ (rpc:// results)',
    async prepare(prefix) {
      names = ['py', 'pyhi', 'wk', 'hi'].map((suffix) => `${prefix}.${suffix}`);
      return { url: AMQP_URL, peer: { broker: AMQP_URL, backend: 'rpc://', prefix } };
    },
    backend: (connection) => new RpcResultBackend(connection),
    priorityAsSeen: (sent) => sent,
    async cleanup() {
      const connection = await Connection.open(AMQP_URL);
      try {
        for (const name of names) {
          await connection.admin.deleteQueue(name);
          await connection.admin.deleteExchange(name);
        }
      } finally {
        await connection.close();
      }
    },
  });
});
