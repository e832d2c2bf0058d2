/**
 * `wakame worker --health-port 0` end to end, in a real process: the bound address comes from the `health` line of
 * `--json` output; /readyz, /healthz and /metrics are requested over HTTP. On file:// the counters match the tasks
 * sent exactly; on RabbitMQ /readyz turns 503 while the worker is locked out of the broker and 200 once let back in.
 */
import type { ChildProcessByStdio } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Connection, defineTopology, TaskClient } from '@wakame/core';
import {
  AMQP_URL,
  brokerGate,
  connectionsNamed,
  createVhost,
  deleteVhost,
  killConnections,
  management,
  RABBITMQ_MANAGEMENT_URL,
  waitFor,
} from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { cliTransports } from '../src/transports.js';
import { main, repo, spawnTsx } from './ui-process.js';

const fixture = join(repo, 'packages/cli/test/fixtures/count-worker.mjs');

interface Running {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly health: { url: string; host: string; port: number };
  readonly exited: Promise<number | null>;
  readonly output: () => string;
}

/** Starts `wakame worker` with `--health-port 0 --json`; resolves with the address its `health` line names. */
function startWorker(url: string, out: string): Promise<Running> {
  return start([main, 'worker', fixture, '--url', url, '--health-port', '0', '--json'], {
    ...process.env,
    WAKAME_TEST_OUT: out,
  });
}

/** Runs a script with tsx; resolves once its stdout has named the health server's address. */
async function start(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Running> {
  const child = spawnTsx(args, env);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const health = await new Promise<Running['health']>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // The CLI's --json prints indented documents, each closed by a `}` alone on its line; the example one-line ones.
      const documents = stdout.includes('\n}\n')
        ? stdout
            .split(/^\}$/m)
            .slice(0, -1)
            .map((d) => `${d}}`)
        : stdout.split('\n').filter((line) => line.endsWith('}'));
      for (const document of documents) {
        const event = JSON.parse(document) as { event: string; url: string; host: string; port: number };
        if (event.event === 'health') resolve({ url: event.url, host: event.host, port: event.port });
      }
    });
    void exited.then((code) => reject(new Error(`the worker exited (${code}) first: ${stderr}`)));
  });
  return { child, health, exited, output: () => `${stdout}\n${stderr}` };
}

async function status(url: string): Promise<number> {
  return (await fetch(url)).status;
}

/** The value of the sample `name{labels}` in a Prometheus text scrape (labels as they are printed). */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

const topology = defineTopology({
  queues: [{ name: 'work', bindings: [{ exchange: 'amq.direct', routingKey: 'work' }] }],
  tasks: [{ name: 'count.me', route: { exchange: 'amq.direct', routingKey: 'work' } }],
});

describe('wakame worker --health-port', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });

  it('on file://: prints the bound address, answers the probes, counts exactly the tasks run, closes on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-health-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const url = `file://${join(dir, 'broker')}`;
    const worker = await startWorker(url, join(dir, 'handled.txt'));
    cleanup.push(async () => {
      worker.child.kill('SIGKILL');
      await worker.exited;
    });
    expect(worker.health).toMatchObject({ host: '127.0.0.1', url: `http://127.0.0.1:${worker.health.port}` });
    await waitFor(async () => (await status(`${worker.health.url}/readyz`)) === 200, {
      timeoutMs: 20_000,
      what: `/readyz 200 (${worker.output()})`,
    });
    const ready = (await (await fetch(`${worker.health.url}/readyz`)).json()) as Record<string, unknown>;
    expect(ready).toMatchObject({ ready: true, status: 'ready', queues: [{ queue: 'work', subscribed: true }] });
    expect(await status(`${worker.health.url}/healthz`)).toBe(200);

    const connection = await Connection.open(url, { transports: cliTransports });
    const client = new TaskClient(connection, topology);
    cleanup.push(async () => {
      await client.close();
      await connection.close();
    });
    for (let n = 0; n < 5; n++) await client.send('count.me', { n });
    const scrape = async () => (await fetch(`${worker.health.url}/metrics`)).text();
    await waitFor(
      async () => sample(await scrape(), 'wakame_tasks_total', 'queue="work",task="count.me",outcome="done"') === 5,
      {
        timeoutMs: 20_000,
        what: 'five tasks done in /metrics',
      },
    );
    const text = await scrape();
    expect(sample(text, 'wakame_messages_received_total', 'queue="work"')).toBe(5);
    expect(sample(text, 'wakame_task_duration_seconds_count', 'task="count.me"')).toBe(5);
    expect(sample(text, 'wakame_consumer_prefetch', 'queue="work"')).toBe(4);

    worker.child.kill('SIGTERM');
    expect(await worker.exited, worker.output()).toBe(0);
    await expect(fetch(`${worker.health.url}/healthz`)).rejects.toThrow();
  }, 60_000);
});

describe('examples/health-and-metrics/main.ts', () => {
  it('serves the probes from code, and closes the server with the worker', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-health-'));
    const url = `file://${join(dir, 'broker')}`;
    const example = await start([join(repo, 'examples/health-and-metrics/main.ts'), url], {
      ...process.env,
      HEALTH_PORT: '0',
    });
    try {
      await waitFor(async () => (await status(`${example.health.url}/readyz`)) === 200, {
        timeoutMs: 20_000,
        what: `/readyz 200 (${example.output()})`,
      });
      const metrics = await (await fetch(`${example.health.url}/metrics`)).text();
      expect(sample(metrics, 'wakame_queue_subscribed', 'queue="orders"')).toBe(1);
      expect(example.health.port).toBeGreaterThan(0);
      example.child.kill('SIGTERM');
      expect(await example.exited, example.output()).toBe(0);
      await expect(fetch(`${example.health.url}/healthz`)).rejects.toThrow();
    } finally {
      example.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

const gate =
  (await brokerGate('health server on RabbitMQ', { name: 'rabbitmq', url: AMQP_URL })) === 'skip'
    ? 'skip'
    : await brokerGate('health server on RabbitMQ', { name: 'rabbitmq-management', url: RABBITMQ_MANAGEMENT_URL });

describe.skipIf(gate === 'skip')('wakame worker --health-port on RabbitMQ', () => {
  it('turns /readyz 503 while the worker is locked out of the broker, and 200 once it is let back in', async () => {
    const vhost = `wakame-health-${randomBytes(4).toString('hex')}`;
    const url = await createVhost(vhost);
    const user = decodeURIComponent(new URL(AMQP_URL).username || 'guest');
    const dir = await mkdtemp(join(tmpdir(), 'wakame-health-'));
    const worker = await startWorker(url, join(dir, `handled-${randomUUID()}.txt`));
    try {
      const readyz = `${worker.health.url}/readyz`;
      await waitFor(async () => (await status(readyz)) === 200, { timeoutMs: 20_000, what: 'ready' });
      const body = (await (await fetch(readyz)).json()) as { queues: { consumers?: number }[] };
      expect(body.queues[0]?.consumers).toBe(1);

      // Locked out: the kill ends the connection, and every reconnection is refused until access comes back.
      const name = `wakame ${worker.child.pid}`;
      // The management API lists a new connection only after its next statistics round.
      await waitFor(async () => (await connectionsNamed(name)).length >= 1, { timeoutMs: 15_000, intervalMs: 100 });
      await management('DELETE', `permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`);
      expect(await killConnections(name, 'health test')).toBeGreaterThanOrEqual(1);
      await waitFor(async () => (await status(readyz)) === 503, { timeoutMs: 20_000, what: '/readyz 503' });
      const down = (await (await fetch(readyz)).json()) as Record<string, unknown>;
      expect(down).toMatchObject({ ready: false, queues: [{ queue: 'work', subscribed: false }] });
      // Still alive: liveness is not readiness.
      expect(await status(`${worker.health.url}/healthz`)).toBe(200);

      await createVhost(vhost); // gives the permissions back
      await waitFor(async () => (await status(readyz)) === 200, { timeoutMs: 30_000, what: '/readyz 200 again' });
      const metrics = await (await fetch(`${worker.health.url}/metrics`)).text();
      expect(Number(/^wakame_connection_reconnects_total (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
      await deleteVhost(vhost);
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
