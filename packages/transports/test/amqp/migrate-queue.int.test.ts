/**
 * Loss-free migration of a RabbitMQ queue whose immutable settings change (`migrate-queue.ts`):
 * with a publisher publishing through a bound exchange during the whole migration, every message
 * published (and every message the queue held) is in the new queue exactly once, the queue has the
 * new arguments, and no temporary entity remains. Also killed (SIGKILL, child process) at each step
 * and resumed from the journal, and the two broker behaviours the algorithm rests on.
 *
 * A vhost of its own, deleted afterwards. Publishers are bounded in count (cap) and stop when the
 * migration resolves; every wait is on counts, bounded by waitFor.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BindingSpec, QueueSpec } from '@wakame/core/spi';
import { InvalidOperationError, PreconditionFailedError } from '@wakame/core/spi';
import { AMQP_URL, brokerGate, createVhost, deleteVhost, management, RABBITMQ_MANAGEMENT_URL } from '@wakame/testkit';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toAssertQueue } from '../../src/amqp/mapping.js';
import { MIGRATION_STEPS, migrateQueue, migrationNames } from '../../src/amqp/migrate-queue.js';
import {
  drainIds,
  fileJournal,
  type MigrationOrder,
  openHost,
  publishBatch,
  startPublisher,
} from './fixtures/migration-harness.js';

const gate = await brokerGate('amqp queue migration', { name: 'rabbitmq', url: AMQP_URL });
const managementGate = await brokerGate('amqp queue migration (management)', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../../..');
const child = join(here, 'fixtures/migrate-child.ts');
/** ~500 msg/s: 10 every 20 ms; the cap bounds a run that would not end. */
const LOAD = { perTick: 10, intervalMs: 20, cap: 40_000 };

function queueSpec(name: string, extra: Partial<QueueSpec> = {}): QueueSpec {
  return { name, durable: true, exclusive: false, autoDelete: false, arguments: {}, ...extra };
}

describe.skipIf(gate === 'skip' || managementGate === 'skip')('amqp queue migration', () => {
  const vhost = `wakame.migrate/${randomUUID()}`;
  const dir = mkdtempSync(join(tmpdir(), 'wakame-migrate-'));
  let url = '';
  let conn: ChannelModel;

  beforeAll(async () => {
    url = await createVhost(vhost);
    conn = await amqp.connect(url);
    conn.on('error', () => {});
  });
  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await deleteVhost(vhost);
  });

  /** Declares `from` bound to a direct exchange of its own, preloaded with `count` messages. */
  async function prepare(from: QueueSpec, count: number): Promise<{ bindings: BindingSpec[]; preloaded: string[] }> {
    const exchange = `src.${from.name}`;
    const ch = await conn.createChannel();
    await ch.assertExchange(exchange, 'direct', { durable: true });
    await ch.assertQueue(from.name, toAssertQueue(from));
    await ch.bindQueue(from.name, exchange, from.name);
    await ch.close();
    const preloaded = Array.from({ length: count }, (_, n) => `${from.name}-pre-${n}`);
    await publishBatch(conn, exchange, from.name, preloaded, from.maxPriority ? (n) => n % 6 : undefined);
    const binding = { source: exchange, destination: from.name, destinationType: 'queue' as const };
    return { bindings: [{ ...binding, routingKey: from.name, arguments: {} }], preloaded };
  }

  /** Every id once, nothing else, nothing left behind. */
  async function expectExactlyOnce(queue: string, ids: readonly string[]): Promise<void> {
    const { seen, total, left } = await drainIds(conn, queue, ids.length);
    const missing = ids.filter((id) => !seen.has(id));
    const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    expect({ missing: missing.slice(0, 5), twice: twice.slice(0, 5) }).toEqual({ missing: [], twice: [] });
    expect(total).toBe(ids.length);
    expect(left).toBe(0);
  }

  async function expectNoLeftovers(queue: string): Promise<void> {
    const v = encodeURIComponent(vhost);
    const queues = (await management<{ name: string }[]>('GET', `queues/${v}`)) ?? [];
    const exchanges = (await management<{ name: string }[]>('GET', `exchanges/${v}`)) ?? [];
    const temporary = [...queues, ...exchanges]
      .map((e) => e.name)
      .filter((n) => n.startsWith(`wakame.migrate.${queue}`));
    expect(temporary).toEqual([]);
  }

  const liveQueue = (name: string) =>
    management<{ type: string; arguments: Record<string, unknown> }>(
      'GET',
      `queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
    );

  const bigCases: { title: string; before: Partial<QueueSpec>; after: Partial<QueueSpec> }[] = [
    { title: 'classic maxPriority 5 → 10', before: { maxPriority: 5 }, after: { maxPriority: 10 } },
    { title: 'classic → quorum', before: {}, after: { queueType: 'quorum' } },
  ];

  it.for(bigCases)(
    '$title: 10,000 queued + a publisher at ~500 msg/s, every message once',
    { timeout: 120_000 },
    async (c, ctx) => {
      const { title, before, after } = c;
      const name = `q-${title.includes('quorum') ? 'quorum' : 'priority'}`;
      const from = queueSpec(name, before);
      const to = queueSpec(name, after);
      const { bindings, preloaded } = await prepare(from, 10_000);
      const publisher = startPublisher(conn, `src.${name}`, name, { prefix: `${name}-live`, ...LOAD });
      const { host, close } = await openHost(url);
      const started = performance.now();
      const steps: string[] = [];
      try {
        const report = await migrateQueue(host, {
          from,
          to,
          bindings,
          journal: fileJournal(join(dir, `${name}.json`)),
          onProgress: (p) => {
            if (steps.at(-1) !== p.step) steps.push(p.step);
          },
        });
        const seconds = (performance.now() - started) / 1000;
        const published = await publisher.stop();
        expect(report).toMatchObject({ queue: name, inPlace: false, resumed: false });
        expect(report.moved).toBeGreaterThanOrEqual(preloaded.length);
        expect(steps).toEqual([...MIGRATION_STEPS]);
        await ctx.annotate(
          `${title}: ${seconds.toFixed(2)} s, ${report.moved} moved (${Math.round(report.moved / seconds)}/s), ` +
            `${report.duplicatesDropped} duplicates dropped, ${published.length} published meanwhile`,
        );
        const live = await liveQueue(name);
        if (after.maxPriority) expect(live?.arguments['x-max-priority']).toBe(10);
        if (after.queueType) expect(live?.type).toBe('quorum');
        await expectNoLeftovers(name);
        await expectExactlyOnce(name, [...preloaded, ...published]);
      } finally {
        await publisher.stop().catch(() => undefined);
        await close();
      }
    },
  );

  /** Kill points: as the step starts, or (for the steps that move messages) after its first batch. */
  const killPoints = MIGRATION_STEPS.map((step) => ({
    step,
    event: step === 'drain' || step === 'restore' ? 2 : 1,
  }));

  it.each(killPoints)(
    'killed at $step (event $event) and resumed: every message once',
    async ({ step, event }) => {
      const name = `k-${step}`;
      const from = queueSpec(name, { maxPriority: 5 });
      const to = queueSpec(name, { maxPriority: 10 });
      const { bindings, preloaded } = await prepare(from, 2_000);
      const journalPath = join(dir, `${name}.json`);
      const publisher = startPublisher(conn, `src.${name}`, name, { prefix: `${name}-live`, ...LOAD });
      try {
        const order: MigrationOrder = { url, journal: journalPath, from, to, bindings, killAt: { step, event } };
        const proc = spawn(process.execPath, ['--conditions=@wakame/source', '--import', 'tsx', child], {
          cwd: repo,
          env: { ...process.env, WAKAME_MIGRATION: JSON.stringify(order) },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        proc.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
          proc.on('exit', (code, signal) => done({ code, signal })),
        );
        expect({ ...exit, stderr: stderr.slice(0, 500) }).toEqual({ code: null, signal: 'SIGKILL', stderr: '' });
        expect((await fileJournal(journalPath).read())?.step).toBe(step);

        const { host, close } = await openHost(url);
        try {
          const report = await migrateQueue(host, { from, to, bindings, journal: fileJournal(journalPath) });
          expect(report).toMatchObject({ queue: name, resumed: true });
        } finally {
          await close();
        }
        const published = await publisher.stop();
        expect(await fileJournal(journalPath).read()).toBeUndefined();
        expect((await liveQueue(name))?.arguments['x-max-priority']).toBe(10);
        await expectNoLeftovers(name);
        await expectExactlyOnce(name, [...preloaded, ...published]);
      } finally {
        await publisher.stop().catch(() => undefined);
      }
    },
    60_000,
  );

  it('RabbitMQ routes one copy to a queue reachable twice, and uses the alternate exchange only when nothing else matches', async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange('two.direct', 'direct', { durable: false });
    await ch.assertExchange('two.hold', 'fanout', { durable: false });
    await ch.assertExchange('two.route', 'fanout', { durable: false, arguments: { 'alternate-exchange': 'two.hold' } });
    await ch.assertQueue('two.q', { durable: false });
    await ch.assertQueue('two.t', { durable: false });
    await ch.bindQueue('two.t', 'two.hold', '');
    await ch.bindQueue('two.q', 'two.direct', 'k');
    await ch.bindExchange('two.route', 'two.direct', 'k');
    const publish = async () => {
      ch.publish('two.direct', 'k', Buffer.from('m'));
      await ch.waitForConfirms();
    };
    const counts = async () => [
      (await ch.checkQueue('two.q')).messageCount,
      (await ch.checkQueue('two.t')).messageCount,
    ];
    await publish(); // direct to q; route has no queue → its alternate exchange → t
    expect(await counts()).toEqual([1, 1]);
    await ch.bindQueue('two.q', 'two.route', '');
    await publish(); // direct to q and via route to q: one copy; route matched, so t gets none
    expect(await counts()).toEqual([2, 1]);
    await ch.close();
  });

  it('refuses a queue with consumers before changing anything; once they are gone it migrates', async () => {
    const { host, close } = await openHost(url);
    const consumer = await conn.createChannel();
    try {
      const from = queueSpec('r-consumed', { maxPriority: 2 });
      const { bindings, preloaded } = await prepare(from, 20);
      await consumer.prefetch(1);
      // A consumer that never acks: it holds one message unacknowledged.
      const { consumerTag } = await consumer.consume(from.name, () => undefined, { noAck: false });
      const journal = fileJournal(join(dir, 'consumed.json'));
      const to = { ...from, maxPriority: 4 };
      await expect(migrateQueue(host, { from, to, bindings, journal })).rejects.toThrow(
        /it has 1 consumer\(s\), which would lose the messages they hold unacknowledged/,
      );
      expect((await liveQueue(from.name))?.arguments['x-max-priority']).toBe(2);
      expect(await journal.read()).toBeUndefined();
      // Cancelled, its held message goes back: with the consumer gone every message is migrated.
      await consumer.cancel(consumerTag);
      await consumer.recover();
      await migrateQueue(host, { from, to, bindings, journal });
      expect((await liveQueue(from.name))?.arguments['x-max-priority']).toBe(4);
      await expectExactlyOnce(from.name, preloaded);
    } finally {
      await consumer.close().catch(() => undefined);
      await close();
    }
  });

  it('refuses before changing anything: a missing queue, leftovers without a journal, another pending migration', async () => {
    const { host, close } = await openHost(url);
    try {
      const gone = queueSpec('r-gone');
      const journal = fileJournal(join(dir, 'refusals.json'));
      const run = (from: QueueSpec) =>
        migrateQueue(host, { from, to: { ...from, maxPriority: 3 }, bindings: [], journal });
      await expect(run(gone)).rejects.toBeInstanceOf(PreconditionFailedError);

      const from = queueSpec('r-left');
      const { bindings } = await prepare(from, 3);
      const ch = await conn.createChannel();
      await ch.assertQueue(migrationNames('r-left').backlog, { durable: true });
      await ch.close();
      await expect(run(from)).rejects.toThrow(
        /wakame\.migrate\.r-left\.backlog exist but the journal records no migration/,
      );
      const stillBound = await management<{ source: string }[]>(
        'GET',
        `queues/${encodeURIComponent(vhost)}/r-left/bindings`,
      );
      expect(stillBound?.map((b) => b.source)).toContain(bindings[0]?.source);

      writeFileSync(
        join(dir, 'refusals.json'),
        JSON.stringify({ kind: 'wakame.amqp.queue-migration', queue: 'other', step: 'drain' }),
      );
      await expect(run(from)).rejects.toBeInstanceOf(InvalidOperationError);
    } finally {
      await close();
    }
  });
});
