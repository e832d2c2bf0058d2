import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerGate, createVhost, deleteVhost, RABBITMQ_MANAGEMENT_URL, REDIS_URL, redisUrl } from '@wakame/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { consumerMixinEndToEnd, type WorkerLine } from './consumer-mixin-e2e.js';

const gate = await brokerGate('consumer-mixin example on RabbitMQ', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const redisGate = await brokerGate('consumer-mixin example on Redis', { name: 'redis', url: REDIS_URL });

const vhosts: string[] = [];
afterAll(async () => {
  for (const vhost of vhosts) await deleteVhost(vhost);
});

const brokers = [
  { name: 'file (embedded)', skip: false, url: async () => `file://${mkdtempSync(join(tmpdir(), 'wakame-cmx-'))}` },
  {
    name: 'RabbitMQ',
    skip: gate === 'skip',
    url: async () => {
      const vhost = `wakame-cmx-${randomBytes(4).toString('hex')}`;
      vhosts.push(vhost);
      return createVhost(vhost);
    },
  },
  {
    name: 'Redis',
    skip: redisGate === 'skip',
    // A fresh key prefix in a database of its own: a fresh broker.
    url: async () => redisUrl(7, `keyprefix=cmx-${randomBytes(4).toString('hex')}:`),
  },
];

const of = (lines: readonly WorkerLine[], event: string) => lines.filter((l) => l.event === event);

describe.each(brokers)('examples/consumer-mixin on $name', ({ skip, url }) => {
  it.skipIf(skip)(
    'every worker gets every broadcast; the jobs are split, each run once; SIGTERM stops both cleanly',
    async () => {
      const { a, b, exits } = await consumerMixinEndToEnd(await url());
      expect(exits).toEqual([0, 0]);
      for (const lines of [a, b]) {
        expect(of(lines, 'connected')).toHaveLength(1);
        expect(of(lines, 'ready')).toHaveLength(1);
        expect(of(lines, 'invalidated').map((l) => l.key)).toEqual(['user:1', 'user:2']);
        expect(of(lines, 'stopped')[0]?.processed).toBe(2 + of(lines, 'thumbnail').length);
      }
      const jobs = [...of(a, 'thumbnail'), ...of(b, 'thumbnail')];
      console.info(`[consumer-mixin] jobs split ${of(a, 'thumbnail').length} / ${of(b, 'thumbnail').length}`);
      expect(jobs.map((l) => l.image).sort()).toEqual([
        '9 bytes',
        'img-0',
        'img-1',
        'img-2',
        'img-3',
        'img-4',
        'img-5',
        'img-6',
      ]);
      expect(new Set(jobs.map((l) => l.contentType))).toEqual(
        new Set(['application/json', 'text/plain', 'application/data']),
      );
    },
    90_000,
  );
});
