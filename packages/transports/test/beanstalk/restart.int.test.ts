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

  it('a consumer idle across the restart is woken by another process publishing after it', async () => {
    // `localhost` names the same server but another broker identity: nothing shared in this process, as in two processes.
    const consuming = await Connection.open(`beanstalk://127.0.0.1:${server.port}?prefix=idle.`);
    const publishing = await Connection.open(`beanstalk://localhost:${server.port}?prefix=idle.`);
    try {
      const queue = new Queue('idle');
      await consuming.declare(queue);
      const got: unknown[] = [];
      const consumer = consuming.consumer({
        queues: [queue],
        handler: async (m) => {
          got.push(m.payload);
          await m.ack();
        },
      });
      await consumer.consume();
      await publishing.producer({ routingKey: queue.name }).publish({ n: 'before' });
      await waitFor(() => got.length === 1, { timeoutMs: 20_000, what: 'the message from before the restart' });
      await server.restart();
      await waitFor(
        () =>
          publishing
            .producer({ routingKey: queue.name })
            .publish({ n: 'after' })
            .then(() => true),
        {
          timeoutMs: 20_000,
          what: 'a publish after the restart',
        },
      );
      await waitFor(() => got.length === 2, { timeoutMs: 30_000, what: 'the message from after the restart' });
      expect(got).toEqual([{ n: 'before' }, { n: 'after' }]);
      await consumer.cancel();
    } finally {
      await publishing.close();
      await consuming.close();
    }
  }, 90_000);

  it('publishes and consumes again after the server restarts, nothing published lost', async () => {
    const connection = await Connection.open(`beanstalk://127.0.0.1:${server.port}`);
    try {
      const queue = new Queue('survives');
      await connection.declare(queue);
      const producer = connection.producer({ routingKey: queue.name });
      await producer.publish({ n: 1 });
      const events: string[] = [];
      connection.events.on('connection.lost', () => events.push('lost'));
      connection.events.on('connection.revived', () => events.push('revived'));
      await server.restart();
      // The store notices the loss by itself and connects again: the connection says so.
      await waitFor(() => events.includes('revived'), { timeoutMs: 20_000, what: 'connection.revived' });
      expect(events[0]).toBe('lost');
      expect(connection.isConnected).toBe(true);
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
