/**
 * `wakame dead-letters` as real processes, with --json: on the embedded file:// broker (a directory the test and
 * the CLI processes share) and on RabbitMQ (its own dead-lettering, x-death). The dead letters are made by the
 * broker: messages rejected from a queue whose dead-letter exchange feeds the dead-letter queue.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Exchange, Queue } from '@wakame/core';
import { AMQP_URL, brokerGate, waitFor } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, spawnTsx } from './ui-process.js';

/** `node main.ts …` with stdin not a terminal (so nothing is asked: --yes or a refusal). */
async function wakame(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnTsx([main, ...args], { ...process.env, NO_COLOR: '1' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;
const ids = (doc: Record<string, unknown>, key: 'messages' | 'moved') =>
  (doc[key] as { id?: string; message?: { id: string } }[]).map((m) => m.id ?? m.message?.id);

interface Seeded {
  readonly work: string;
  readonly dlq: string;
  readonly connection: Connection;
}

/** A work queue dead-lettering into `dlq`, and messages m-0…m-(n-1) rejected from it, in order. */
async function seed(url: string, n: number): Promise<Seeded> {
  const p = `cli-dl-${randomBytes(4).toString('hex')}`;
  const dead = new Exchange(`${p}.dead`, { type: 'fanout', durable: false });
  const dlq = new Queue(`${p}.dlq`, { exchange: dead, durable: false });
  const work = new Queue(`${p}.work`, { durable: false, deadLetter: { exchange: dead.name } });
  const connection = await Connection.open(url);
  await connection.declare(dead, dlq, work);
  const producer = connection.producer({ routingKey: work.name });
  for (let i = 0; i < n; i++) {
    await producer.publish({ i }, { messageId: `m-${i}`, headers: { task: i % 2 === 0 ? 'even.task' : 'odd.task' } });
  }
  for (let i = 0; i < n; i++) {
    const message = await waitFor(() => connection.getMessage(work.name), { timeoutMs: 30_000, what: 'a message' });
    await message.reject();
  }
  await waitFor(
    async () => (await connection.admin.declareQueue(new Queue(dlq.name), { passive: true })).messageCount === n,
    { timeoutMs: 30_000, what: 'the dead letters' },
  );
  return { work: work.name, dlq: dlq.name, connection };
}

describe('wakame dead-letters on file:// (processes sharing a directory)', () => {
  let dir: string;
  let url: string;
  let s: Seeded;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wakame-cli-dl-'));
    url = `file://${dir}`;
    s = await seed(url, 4);
  }, 60_000);
  afterAll(async () => {
    await s?.connection.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('list, filters, show and a dry run change nothing', { timeout: 120_000 }, async () => {
    const list = await wakame(['dead-letters', 'list', '--url', url, '--queue', s.dlq, '--json']);
    expect(list.code).toBe(0);
    const doc = json(list.stdout);
    expect(doc).toMatchObject({ ok: true, queue: s.dlq, total: 4 });
    expect(ids(doc, 'messages')).toEqual(['m-0', 'm-1', 'm-2', 'm-3']);
    expect((doc.messages as unknown[])[0]).toMatchObject({
      reason: 'rejected',
      by: 'broker',
      queue: s.work,
      task: 'even.task',
    });

    const odd = await wakame([
      'dead-letters',
      'list',
      '--url',
      url,
      '--queue',
      s.dlq,
      '--task',
      'odd.task',
      '--since',
      '1h',
      '--json',
    ]);
    expect(ids(json(odd.stdout), 'messages')).toEqual(['m-1', 'm-3']);

    const show = await wakame(['dead-letters', 'show', 'm-2', '--url', url, '--queue', s.dlq, '--json']);
    expect(json(show.stdout)).toMatchObject({ ok: true, id: 'm-2', body: { i: 2 } });

    const dry = await wakame(['dead-letters', 'replay', '--dry-run', '--url', url, '--queue', s.dlq, '--json']);
    expect(dry.code).toBe(0);
    expect(json(dry.stdout)).toMatchObject({ ok: true, action: 'replay', dryRun: true, failed: [] });
    expect(ids(json(dry.stdout), 'moved')).toEqual(['m-0', 'm-1', 'm-2', 'm-3']);
    const again = await wakame(['dead-letters', 'list', '--url', url, '--queue', s.dlq, '--json']);
    expect(ids(json(again.stdout), 'messages')).toEqual(['m-0', 'm-1', 'm-2', 'm-3']);
  });

  it('refuses to replay or purge unasked, and says what is wrong in JSON', { timeout: 120_000 }, async () => {
    const unasked = await wakame(['dead-letters', 'replay', '--url', url, '--queue', s.dlq, '--json']);
    expect(unasked.code).toBe(1);
    expect(json(unasked.stdout)).toMatchObject({ ok: false, error: { message: expect.stringContaining('--yes') } });

    const missing = await wakame(['dead-letters', 'show', 'nope', '--url', url, '--queue', s.dlq, '--json']);
    expect(missing.code).not.toBe(0);
    expect(json(missing.stdout)).toMatchObject({ ok: false, error: { code: 'ERR_DEAD_LETTER_NOT_FOUND' } });

    const since = await wakame(['dead-letters', 'list', '--since', 'yesterday', '--json']);
    expect(since.code).toBe(64);
    expect(json(since.stdout)).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('--since takes') },
    });

    const list = await wakame(['dead-letters', 'list', '--url', url, '--queue', s.dlq, '--quiet']);
    expect(list.stdout.trim().split('\n')).toEqual(['m-0', 'm-1', 'm-2', 'm-3']);
  });

  it('replays by id exactly once and purges by filter', { timeout: 120_000 }, async () => {
    const replay = await wakame([
      'dead-letters',
      'replay',
      '--id',
      'm-1',
      '--id',
      'm-2',
      '--yes',
      '--url',
      url,
      '--queue',
      s.dlq,
      '--json',
    ]);
    expect(replay.code).toBe(0);
    const doc = json(replay.stdout);
    expect(doc).toMatchObject({ ok: true, dryRun: false, failed: [], skipped: [] });
    expect(ids(doc, 'moved')).toEqual(['m-1', 'm-2']);

    const copies: string[] = [];
    for (let m = await s.connection.getMessage(s.work); m !== undefined; m = await s.connection.getMessage(s.work)) {
      copies.push(String(m.properties.messageId));
      await m.ack();
    }
    expect(copies).toEqual(['m-1', 'm-2']);

    const purge = await wakame([
      'dead-letters',
      'purge',
      '--task',
      'odd.task',
      '--yes',
      '--url',
      url,
      '--queue',
      s.dlq,
      '--json',
    ]);
    expect(ids(json(purge.stdout), 'moved')).toEqual(['m-3']);
    const left = await wakame(['dead-letters', 'list', '--url', url, '--queue', s.dlq, '--json']);
    expect(ids(json(left.stdout), 'messages')).toEqual(['m-0']);
  });
});

const rabbit = await brokerGate('wakame dead-letters on RabbitMQ', { name: 'rabbitmq', url: AMQP_URL });

describe.skipIf(rabbit === 'skip')('wakame dead-letters on RabbitMQ', () => {
  let s: Seeded;
  beforeAll(async () => {
    s = await seed(AMQP_URL, 3);
  }, 60_000);
  afterAll(async () => {
    for (const q of [s.work, s.dlq]) await s.connection.admin.deleteQueue(q).catch(() => undefined);
    await s.connection.admin.deleteExchange(s.dlq.replace(/dlq$/, 'dead')).catch(() => undefined);
    await s.connection.close();
  });

  it('lists what RabbitMQ dead-lettered and replays it, each id once', { timeout: 120_000 }, async () => {
    const list = await wakame([
      'dead-letters',
      'list',
      '--url',
      AMQP_URL,
      '--queue',
      s.dlq,
      '--reason',
      'rejected',
      '--json',
    ]);
    expect(ids(json(list.stdout), 'messages')).toEqual(['m-0', 'm-1', 'm-2']);
    expect(list.stdout).not.toContain('guest:guest');

    const replay = await wakame(['dead-letters', 'replay', '--yes', '--url', AMQP_URL, '--queue', s.dlq, '--json']);
    expect(replay.code).toBe(0);
    expect(ids(json(replay.stdout), 'moved')).toEqual(['m-0', 'm-1', 'm-2']);
    const copies = await waitFor(
      async () => {
        const n = (await s.connection.admin.declareQueue(new Queue(s.work), { passive: true })).messageCount;
        return n >= 3 ? n : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(copies).toBe(3);
    const left = await wakame(['dead-letters', 'list', '--url', AMQP_URL, '--queue', s.dlq, '--json']);
    expect(ids(json(left.stdout), 'messages')).toEqual([]);
  });
});
