import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection, defineTopology, Queue, TaskClient } from '@wakame/core';
import { AMQP_URL, brokerGate, waitFor } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';

const gate = await brokerGate('wakame worker process', { name: 'rabbitmq', url: AMQP_URL });
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const main = join(repo, 'packages/cli/src/main.ts');

describe.skipIf(gate === 'skip')('wakame worker (a real process)', () => {
  it('loses nothing when stopped with SIGTERM mid-stream', async () => {
    const id = randomUUID();
    const out = join(await mkdtemp(join(tmpdir(), 'wakame-')), 'handled.txt');
    const env = { ...process.env, WAKAME_TEST_ID: id, WAKAME_TEST_OUT: out };
    // The same topology the worker module builds from WAKAME_TEST_ID.
    const topology = defineTopology({
      exchanges: [{ name: `t-${id}.ex`, type: 'direct', durable: false }],
      queues: [{ name: `t-${id}.work`, durable: false, bindings: [{ exchange: `t-${id}.ex`, routingKey: 'work' }] }],
      tasks: [{ name: 'count.me', route: { exchange: `t-${id}.ex`, routingKey: 'work' } }],
    });
    const connection = await Connection.open(AMQP_URL);
    const client = new TaskClient(connection, topology);
    const queue = new Queue(`t-${id}.work`, { durable: false });
    try {
      for (const e of client.topology.exchanges) await connection.admin.declareExchange(e);
      for (const q of client.topology.queues) await connection.admin.declareQueue(q);
      for (const b of client.topology.bindings) await connection.admin.bind(b);
      const total = 200;
      for (let n = 0; n < total; n++) await client.send('count.me', { n });

      const child = spawn(
        process.execPath,
        [
          '--conditions=@wakame/source',
          '--import',
          'tsx',
          main,
          'worker',
          join(repo, 'packages/cli/test/fixtures/counting-worker.mjs'),
          '--url',
          AMQP_URL,
          '--quiet',
        ],
        {
          cwd: repo,
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const handled = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : []);
      await waitFor(() => handled().length >= 40, { timeoutMs: 30_000, what: 'the worker to be mid-stream' });
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);

      const ids = handled().map(Number);
      const unique = new Set(ids);
      const left = await queue.attach(connection).messageCount();
      console.info(
        `[sigterm] ${unique.size} handled before SIGTERM, ${left} left in the queue, ${ids.length - unique.size} duplicates`,
      );
      expect(unique.size).toBeLessThan(total);
      expect(unique.size + left).toBe(total);
      expect(ids.length - unique.size).toBe(0);
    } finally {
      await client.close();
      await connection.admin.deleteQueue(queue.name);
      await connection.admin.deleteExchange(`t-${id}.ex`);
      await connection.close();
    }
  }, 60_000);
});
