/**
 * A beanstalkd restarted under a live connection (its own server, with a binlog so jobs survive): the
 * connection's producer, topology and consumers open new connections on their next use and carry on,
 * and the message published before the restart is still there.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Queue } from '@wakame/core';
import { waitFor } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OwnServer, ownServerAvailable, startOwnServer } from './own-server.js';

const available = ownServerAvailable('beanstalk restart');

describe.skipIf(!available)('beanstalk across a server restart', () => {
  let server: OwnServer;

  beforeAll(async () => {
    server = await startOwnServer(['-b', mkdtempSync(join(tmpdir(), 'wakame-beanstalk-binlog-'))]);
  });

  afterAll(() => {
    server?.stop();
  });

  it('publishes and consumes again after the server restarts, nothing published lost', async () => {
    const connection = await Connection.open(`beanstalk://127.0.0.1:${server.port}`);
    try {
      const queue = new Queue('survives');
      await connection.declare(queue);
      const producer = connection.producer({ routingKey: queue.name });
      await producer.publish({ n: 1 });
      await server.restart();
      // The first use after the restart finds the old connection closed and opens a new one.
      await waitFor(() => producer.publish({ n: 2 }).then(() => true), {
        timeoutMs: 20_000,
        what: 'a publish to succeed',
      });
      const got: unknown[] = [];
      const consumer = connection.consumer({
        queues: [queue],
        handler: async (m) => {
          got.push(m.payload);
          await m.ack();
        },
      });
      await consumer.consume();
      await waitFor(() => got.length >= 2, { timeoutMs: 20_000, what: 'both messages' });
      await consumer.cancel();
      expect(got).toEqual([{ n: 1 }, { n: 2 }]);
    } finally {
      await connection.close();
    }
  }, 60_000);
});
