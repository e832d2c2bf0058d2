/**
 * Dead letters on the virtual transport's stores that need no server: `memory://` (in process) and `file://` (a
 * directory), with the broker's own dead-lettering (`x-death`) as the virtual transport writes it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@wakame/core';
import { afterEach, describe, it } from 'vitest';
import { expectCrashDuplicatesNeverLoses } from './crash.js';
import {
  type DeadLetterFixture,
  expectInspectionChangesNothing,
  expectReplayMovesOnce,
  expectReplayToOrigin,
  seedDeadLetters,
} from './scenario.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function open(
  kind: 'memory' | 'file',
): Promise<{ url: string; connection: Connection; fixture: DeadLetterFixture }> {
  let url = `memory://dead-letters-${process.pid}-${Math.random().toString(36).slice(2)}`;
  if (kind === 'file') {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-dl-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    // A short lease: the crash test waits for a killed process's claims to come back.
    url = `file://${dir}?lease=1000`;
  }
  const connection = await Connection.open(url);
  cleanup.push(() => connection.close());
  const fixture = await seedDeadLetters(connection);
  return { url, connection, fixture };
}

describe.each(['memory', 'file'] as const)('dead letters on %s://', (kind) => {
  it('list, show, filters and dry runs leave the queue as it was', { timeout: 60_000 }, async () => {
    const { connection, fixture } = await open(kind);
    await expectInspectionChangesNothing(connection, fixture);
  });

  it('replay moves each id once and purge removes only what matches', { timeout: 60_000 }, async () => {
    const { connection, fixture } = await open(kind);
    await expectReplayMovesOnce(connection, fixture);
    await expectReplayToOrigin(connection, fixture);
  });
});

describe('dead letters on file:// across processes', () => {
  it('a replay killed between copy and ack duplicates one id and loses none', { timeout: 120_000 }, async () => {
    const { url, connection, fixture } = await open('file');
    await expectCrashDuplicatesNeverLoses(connection, url, fixture);
  });
});
