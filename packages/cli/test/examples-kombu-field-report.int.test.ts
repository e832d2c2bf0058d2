import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, withConnection } from '@wakame/core';
import {
  brokerGate,
  createVhost,
  deleteVhost,
  RABBITMQ_MANAGEMENT_URL,
  REDIS_URL,
  redisUrl,
  within,
} from '@wakame/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { type FieldReport, runFieldReport } from '../../../examples/kombu-field-report/src/index.js';

const rabbitGate = await brokerGate('kombu field report on RabbitMQ', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});
const redisGate = await brokerGate('kombu field report on Redis', { name: 'redis', url: REDIS_URL });

const suffix = () => randomBytes(4).toString('hex');
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

const brokers = [
  { name: 'memory (embedded)', skip: false, url: async () => `memory://field-report-${suffix()}` },
  {
    name: 'file (embedded)',
    skip: false,
    url: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'wakame-field-report-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      return `file://${dir}`;
    },
  },
  {
    name: 'Redis',
    skip: redisGate === 'skip',
    // A fresh key prefix in a database of its own: a fresh broker.
    url: async () => redisUrl(7, `keyprefix=field-report-${suffix()}:`),
  },
  {
    name: 'RabbitMQ',
    skip: rabbitGate === 'skip',
    url: async () => {
      const vhost = `wakame-field-report-${suffix()}`;
      cleanups.push(() => deleteVhost(vhost));
      return createVhost(vhost);
    },
  },
];

function checkReport(report: FieldReport): void {
  // (a) One shared queue: every message reached exactly one receiver, and both receivers took a share.
  const { roundRobin } = report;
  expect([...roundRobin.byReceiver.alice, ...roundRobin.byReceiver.bob].sort()).toEqual(roundRobin.published);
  expect(roundRobin.byReceiver.alice).toHaveLength(3);
  expect(roundRobin.byReceiver.bob).toHaveLength(3);

  // (b) A queue per receiver: a copy each.
  expect(report.broadcast.byReceiver.alice.slice().sort()).toEqual(report.broadcast.published);
  expect(report.broadcast.byReceiver.bob.slice().sort()).toEqual(report.broadcast.published);

  // (c) Direct: each key reaches its queue only; a mandatory message nobody binds is refused.
  expect(report.direct.hipri).toEqual(['urgent-1', 'urgent-2']);
  expect(report.direct.lopri).toEqual(['later-1']);
  expect(report.direct.unroutable).toBe('UnroutableError');

  // (d) Topic: `#` is zero or more words, `*` exactly one.
  expect(report.topic.matched['a.#']).toEqual(['a', 'a.b.c', 'a.b.stock']);
  expect(report.topic.matched['*.stock']).toEqual(['usd.stock']);

  // (e) lopri was published first, hipri is handled first.
  expect(report.priority.publishedOrder[0]).toBe('lopri-1');
  expect(report.priority.handledOrder).toEqual(['hipri-1', 'hipri-2', 'midpri-1', 'lopri-1', 'lopri-2']);

  // (f) Pickle is refused with a typed error naming the content type, and the advice says json.
  expect(report.pickle.handlerCalls).toBe(0);
  expect(report.pickle.error).toMatchObject({
    name: 'ContentNotAcceptedError',
    code: 'ERR_CONTENT_NOT_ACCEPTED',
    contentType: 'application/x-python-serialize',
  });
  expect(report.pickle.error?.message).toContain('application/x-python-serialize');
  expect(report.pickle.hint).toContain("serializer='json'");
  expect(report.pickle.acceptPickle).toMatchObject({ name: 'UnknownSerializerError' });
  expect(report.pickle.acceptPickle?.message).toContain("'pickle'");
}

describe('examples/kombu-field-report', () => {
  for (const broker of brokers) {
    it.skipIf(broker.skip)(
      `every case does what the README says on ${broker.name}`,
      async () => {
        const url = await broker.url();
        const lines: string[] = [];
        const report = await within(
          60_000,
          'the field report',
          runFieldReport({ url, log: (line) => lines.push(line) }),
        );
        checkReport(report);
        expect(lines.join('\n')).toContain('why:');

        // Everything it declared is gone (the names carry the run's random suffix).
        await withConnection(url, async (connection) => {
          for (const name of ['events.shared', 'tasks.hipri', 'market.hash', 'jobs.lopri', 'inbox']) {
            const queue = new Queue(`field-report.${report.runId}.${name}`).attach(connection);
            await expect(queue.declare({ passive: true }), name).rejects.toThrow();
          }
        });
      },
      90_000,
    );
  }
});
