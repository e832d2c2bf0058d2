/**
 * The crash test of replay, shared by the transports: a child process replays and is SIGKILLed between the
 * confirmed copy and the ack of its dead letter. The dead letter must come back (the broker returns what the dead
 * process held), so a second replay makes a duplicate of that one id — and nothing is lost.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type Connection, listDeadLetters, replayDeadLetters } from '@wakame/core';
import { waitFor } from '@wakame/testkit';
import { expect } from 'vitest';
import { countById, type DeadLetterFixture, depth, drain } from './scenario.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./replay-child.ts', import.meta.url));

/** Runs the crashing child against `url`; resolves with the id it published before dying. */
async function crashingReplay(url: string, dlq: string): Promise<string> {
  const child = spawn(process.execPath, ['--conditions=@wakame/source', '--import', 'tsx', CHILD], {
    cwd: repo,
    env: { ...process.env, WAKAME_URL: url, WAKAME_DLQ: dlq },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  expect({ signal, code, stderr: signal === 'SIGKILL' ? '' : stderr }).toEqual({
    signal: 'SIGKILL',
    code: null,
    stderr: '',
  });
  const published = /^published (.+)$/m.exec(stdout)?.[1];
  expect(published).toBeDefined();
  return published as string;
}

/** A crash between copy and ack gives one duplicate and no loss. */
export async function expectCrashDuplicatesNeverLoses(
  connection: Connection,
  url: string,
  f: DeadLetterFixture,
): Promise<void> {
  const all = [...f.rejected, ...f.expired];
  const first = await crashingReplay(url, f.dlq);
  expect(first).toBe(all[0]);
  // The copy is in the work queue; the dead letter comes back once the broker sees the holder gone.
  await waitFor(async () => (await depth(connection, f.dlq)) === all.length, {
    timeoutMs: 60_000,
    what: 'the dead letters the killed process held, back in their queue',
  });
  expect(await depth(connection, f.work)).toBe(1);

  const again = await replayDeadLetters(connection, { queue: f.dlq });
  expect(again.failed).toEqual([]);
  // As a set: RabbitMQ returns what a dead connection held in an order of its own.
  expect(again.moved.map((m) => m.message.id).sort()).toEqual([...all].sort());
  const copies = await waitFor(
    async () => ((await depth(connection, f.work)) === all.length + 1 ? drain(connection, f.work) : undefined),
    { timeoutMs: 30_000, what: 'every copy in the work queue' },
  );
  expect(countById(copies)).toEqual({ ...Object.fromEntries(all.map((id) => [id, 1])), [first]: 2 });
  expect((await listDeadLetters(connection, { queue: f.dlq })).messages).toEqual([]);
}
