/**
 * Records and messages larger than the server's `max-job-size`, on a beanstalkd of this test's own started
 * with `-z 2048`: the topology record and a 10 KiB body are stored in part jobs, read back whole by another
 * reader, and the parts go when what they belong to is replaced or acked.
 */
import { randomBytes } from 'node:crypto';
import { Connection, Exchange, Queue } from '@wakame/core';
import { waitFor } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BeanstalkTopology } from '../../src/beanstalk/beanstalk-topology.js';
import { BeanstalkClient } from '../../src/beanstalk/client.js';
import { recordTube } from '../../src/beanstalk/jobs.js';
import { type OwnServer, ownServerAvailable, startOwnServer } from './own-server.js';

const MAX_JOB = 2048;
const available = ownServerAvailable('beanstalk small jobs');

describe.skipIf(!available)('beanstalk with a small max-job-size', () => {
  let server: OwnServer;
  let port: number;
  let url: string;

  beforeAll(async () => {
    server = await startOwnServer(['-z', String(MAX_JOB)]);
    port = server.port;
    url = `beanstalk://127.0.0.1:${port}?prefix=small${randomBytes(3).toString('hex')}.`;
  });

  afterAll(() => {
    server?.stop();
  });

  async function partsReady(client: BeanstalkClient): Promise<number> {
    const prefix = new URL(url).searchParams.get('prefix') ?? '';
    return Number((await client.statsTube(recordTube(prefix, 'parts')))?.['current-jobs-ready'] ?? 0);
  }

  it('keeps a topology record larger than a job in parts, read whole by another reader', async () => {
    const connection = await Connection.open(url);
    try {
      const exchange = new Exchange('wide', { type: 'direct' });
      const queues = Array.from(
        { length: 30 },
        (_, i) => new Queue(`queue-with-a-longish-name-${i}`, { exchange, routingKey: `key-${i}` }),
      );
      await connection.declare(exchange, ...queues);
      const connect = () => BeanstalkClient.connect({ host: '127.0.0.1', port, connectTimeoutMs: 5_000 });
      const prefix = new URL(url).searchParams.get('prefix') ?? '';
      // A reader of its own, as another process would have.
      const other = new BeanstalkTopology(
        connect,
        recordTube(prefix, 'topology'),
        recordTube(prefix, 'parts'),
        60_000,
        () => undefined,
      );
      await other.open();
      const snapshot = await other.snapshot();
      other.close();
      expect(snapshot.queues.map((q) => q.name).filter((n) => n.startsWith('queue-with'))).toHaveLength(30);
      expect(snapshot.bindings.filter((b) => b.source === 'wide')).toHaveLength(30);

      const observer = await connect();
      try {
        const before = await partsReady(observer);
        expect(before).toBeGreaterThan(1);
        // Replacing the record replaces its parts: one more queue, about as many parts, not twice as many.
        await connection.declare(new Queue('one-more', { exchange, routingKey: 'more' }));
        expect(await partsReady(observer)).toBeLessThanOrEqual(before + 1);
      } finally {
        observer.close();
      }
    } finally {
      await connection.close();
    }
  }, 60_000);

  it('delivers a body five times the job size byte-exactly, and deletes its parts with the ack', async () => {
    const connection = await Connection.open(url);
    const observer = await BeanstalkClient.connect({ host: '127.0.0.1', port, connectTimeoutMs: 5_000 });
    try {
      const queue = new Queue('big-bodies');
      await connection.declare(queue);
      const before = await partsReady(observer);
      const body = randomBytes(5 * MAX_JOB);
      await connection.producer().publish(body, { routingKey: queue.name });
      expect(await partsReady(observer)).toBeGreaterThanOrEqual(before + 5);
      const message = await waitFor(() => connection.getMessage(queue.name, { accept: ['raw'] }), {
        what: 'the message',
      });
      expect(message.body.equals(body)).toBe(true);
      await message.ack();
      expect(await partsReady(observer)).toBe(before);
    } finally {
      observer.close();
      await connection.close();
    }
  }, 60_000);
});
