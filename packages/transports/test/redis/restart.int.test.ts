/**
 * A Redis server that goes away and comes back: the test runs its own `redis-server` (append-only
 * file on, so data survives the restart), kills it with SIGKILL mid-stream, and starts it again on
 * the same port. While it is down, operations fail with typed errors after the command timeout (they
 * never hang) and the connection reports itself not connected; once it is back, consumers resume
 * and nothing that was acknowledged by Redis is lost.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Queue, TransportError } from '@wakame/core';
import { brokerGate, REDIS_URL, waitFor } from '@wakame/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, isListening } from './ports.js';

const gate = await brokerGate('redis restart', { name: 'redis', url: REDIS_URL });

describe.skipIf(gate === 'skip')('redis server restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wakame-restart-'));
  let server: ChildProcess | undefined;

  async function start(port: number): Promise<void> {
    server = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    );
    await waitFor(() => isListening(port), { timeoutMs: 10_000, what: `redis-server on ${port}` });
  }

  async function kill(): Promise<void> {
    const dying = server;
    if (!dying || dying.exitCode !== null) return;
    await new Promise((resolve) => {
      dying.once('exit', resolve);
      dying.kill('SIGKILL');
    });
  }

  afterAll(kill);

  it('fails operations with typed errors while Redis is down, then resumes consuming with nothing lost', async () => {
    const port = await freePort();
    await start(port);
    const conn = await Connection.open(`redis://127.0.0.1:${port}/0`, {
      transportOptions: { commandTimeoutMs: 1_500 },
    });
    try {
      const queue = new Queue('survivor');
      await conn.declare(queue);
      const seen = new Set<number>();
      await conn
        .consumer({
          queues: [queue],
          prefetch: 50,
          handler: async (m) => {
            seen.add((m.payload as { n: number }).n);
            await m.ack();
          },
        })
        .consume();
      const producer = conn.producer({ routingKey: 'survivor' });
      for (let n = 0; n < 100; n++) await producer.publish({ n });
      await waitFor(() => seen.size === 100, { what: 'the first 100 messages' });

      await kill();
      const started = Date.now();
      const failure = await producer.publish({ n: -1 }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(TransportError);
      expect(Date.now() - started).toBeLessThan(5_000);
      await waitFor(() => !conn.isConnected, { what: 'the connection to report the outage' });

      await start(port);
      await waitFor(() => conn.isConnected, { timeoutMs: 15_000, what: 'the connection to come back' });
      for (let n = 100; n < 200; n++) await producer.publish({ n });
      await waitFor(() => [...Array(200).keys()].every((n) => seen.has(n)), {
        timeoutMs: 15_000,
        what: 'all 200 messages after the restart',
      });
    } finally {
      await conn.close();
    }
  }, 60_000);
});
