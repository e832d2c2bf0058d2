/**
 * `wakame dead-letters` in process, on memory://: the text output, progress on long runs, the confirmation that
 * covers exactly the ids a dry run found, and the `--since` parser.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Connection, Exchange, Queue } from '@wakame/core';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { sinceOption } from '../src/dead-letter-commands.js';
import { ExitError } from '../src/errors.js';
import { capture } from './capture.js';

/** A memory broker whose `dlq` holds `n` messages the broker dead-lettered (rejected from `work`), d-0 first. */
async function deadLetters(n: number): Promise<{ url: string; ready: (queue: string) => Promise<number> }> {
  const url = `memory://${randomUUID()}`;
  const connection = await Connection.open(url);
  const dead = new Exchange('dead', { type: 'fanout' });
  await connection.declare(
    dead,
    new Queue('dlq', { exchange: dead }),
    new Queue('work', { deadLetter: { exchange: 'dead' } }),
  );
  const producer = connection.producer({ routingKey: 'work' });
  for (let i = 0; i < n; i++) await producer.publish({ i }, { messageId: `d-${i}` });
  for (let m = await connection.getMessage('work'); m !== undefined; m = await connection.getMessage('work'))
    await m.reject();
  const ready = async (queue: string) =>
    (await connection.admin.declareQueue(new Queue(queue), { passive: true })).messageCount;
  expect(await ready('dlq')).toBe(n);
  return { url, ready };
}

describe('wakame dead-letters (in process)', () => {
  it('lists in text with progress lines on a long run', { timeout: 60_000 }, async () => {
    const { url } = await deadLetters(1_200);
    const run = capture();
    await runCli(run.ctx, ['dead-letters', 'list', '--url', url, '--queue', 'dlq', '--limit', '2000']);
    expect(run.out[0]).toBe("1200 dead letters in 'dlq' (looked at 1200 of 1200):");
    expect(run.out[1]).toMatch(/^ {2}d-0 · \(no task\) · rejected \(broker\) · from 'work' · \d{4}-/);
    expect(run.out).toHaveLength(1_201);
    expect(run.err).toContain('… 500 of 1200 looked at, 500 listed');
    expect(run.err).toContain('… 1000 of 1200 looked at, 1000 listed');

    const quiet = capture({ quiet: true });
    await runCli(quiet.ctx, ['dead-letters', 'list', '--url', url, '--queue', 'dlq', '--limit', '3']);
    expect(quiet.out).toEqual(['d-0', 'd-1', 'd-2']);
    expect(quiet.err).toEqual([]);
  });

  it('asks with the count a dry run found; no moves nothing, yes moves exactly those', {
    timeout: 60_000,
  }, async () => {
    const { url, ready } = await deadLetters(5);
    const questions: string[] = [];
    const no = capture({
      confirm: async (q) => {
        questions.push(q);
        return false;
      },
    });
    const refused = await runCli(no.ctx, [
      'dead-letters',
      'replay',
      '--url',
      url,
      '--queue',
      'dlq',
      '--limit',
      '2',
    ]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ExitError);
    expect(questions).toEqual([`Replay 2 dead letters from 'dlq' on ${url} back to where they died?`]);
    expect(await ready('dlq')).toBe(5);
    expect(await ready('work')).toBe(0);

    const yes = capture({ confirm: async () => true });
    await runCli(yes.ctx, ['dead-letters', 'replay', '--url', url, '--queue', 'dlq', '--limit', '2']);
    expect(yes.out).toEqual(["2 dead letters replayed from 'dlq'.", "  d-0 → queue 'work'", "  d-1 → queue 'work'"]);
    expect(await ready('work')).toBe(2);

    const dry = capture();
    await runCli(dry.ctx, ['dead-letters', 'purge', '--dry-run', '--url', url, '--queue', 'dlq']);
    expect(dry.out[0]).toBe('Dry run: 3 dead letters would be purged; nothing moved.');
    expect(await ready('dlq')).toBe(3);
  });

  it('replay to a queue that is gone fails per message and keeps the dead letter', { timeout: 60_000 }, async () => {
    const { url, ready } = await deadLetters(1);
    const connection = await Connection.open(url);
    await connection.admin.deleteQueue('work');
    const run = capture({ jsonMode: true });
    const error = await runCli(run.ctx, ['dead-letters', 'replay', '--yes', '--url', url, '--queue', 'dlq']).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ exitCode: 1, code: 'ERR_DEAD_LETTER_MOVE' });
    expect(run.json[0]).toMatchObject({
      ok: false,
      moved: [],
      failed: [{ message: { id: 'd-0' }, step: 'publish', error: { code: 'ERR_UNROUTABLE' } }],
    });
    expect(await ready('dlq')).toBe(1);
    await connection.close();
  });

  it('--topology with --task looks in the queue the task dead-letters to', { timeout: 60_000 }, async () => {
    // examples/retry-dead-letter: invoice.send dead-letters through the jobs.dead fanout into jobs.failed.
    const topology = fileURLToPath(new URL('../../../examples/retry-dead-letter/topology.yaml', import.meta.url));
    const url = `memory://${randomUUID()}`;
    const connection = await Connection.open(url);
    await connection.declare(new Queue('jobs.failed'));
    await connection
      .producer({ routingKey: 'jobs.failed' })
      .publish({ invoiceId: 'bad' }, { messageId: 'inv-1', headers: { task: 'invoice.send' } });
    const run = capture({ jsonMode: true });
    await runCli(run.ctx, ['dead-letters', 'list', '--url', url, '--topology', topology, '--task', 'invoice.send']);
    expect(run.json[0]).toMatchObject({ queue: 'jobs.failed', messages: [{ id: 'inv-1' }] });

    const noTask = capture({ jsonMode: true });
    const refused = await runCli(noTask.ctx, ['dead-letters', 'list', '--url', url, '--topology', topology]).catch(
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining('--task') });
    await connection.close();
  });

  it('reads --since as a duration or an ISO time', () => {
    expect(sinceOption('90s')).toBe(90_000);
    expect(sinceOption('15m')).toBe(900_000);
    expect(sinceOption('1h')).toBe(3_600_000);
    expect(sinceOption('2d')).toBe(172_800_000);
    expect(sinceOption('2026-12-07T18:00:00Z')).toEqual(new Date('2026-12-07T18:00:00Z'));
    for (const bad of ['yesterday', '1w', '-1h', '', '2026-13-45'])
      expect(() => sinceOption(bad)).toThrow(InvalidArgumentError);
  });
});
