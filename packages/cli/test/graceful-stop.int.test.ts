/**
 * SIGTERM with a full window of running tasks, in real processes, on the file broker, Redis and RabbitMQ: the worker
 * stops taking work, lets the 8 running handlers finish and ack, exits 0, and a second worker runs what is left —
 * every task runs to "done" exactly once. Once as the README writes a worker (`worker.handleSignals(); await
 * worker.run();`), once through `wakame worker`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection, defineTopology, Queue, TaskClient } from '@wakame/core';
import { freshBrokers, waitFor } from '@wakame/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const main = join(repo, 'packages/cli/src/main.ts');
const fixtures = join(repo, 'packages/cli/test/fixtures');
const topology = defineTopology({
  queues: [{ name: 'work', bindings: [{ exchange: 'amq.direct', routingKey: 'work' }] }],
  tasks: [{ name: 'count.me', route: { exchange: 'amq.direct', routingKey: 'work' } }],
});
const TOTAL = 20;
const CONCURRENCY = 8;

/** A fresh broker per test (temporary directory, Redis key prefix, RabbitMQ vhost). */
const { brokers, cleanup } = await freshBrokers('graceful stop', { redisDb: 1 });
afterAll(cleanup);
/** 1 s leases, so that a message a stopped worker failed to settle would come back at once. */
const LEASE = 'lease=1000';

/** How the worker process is started: the README's two lines, or the CLI. */
const launchers = [
  {
    name: 'a script with worker.handleSignals(); await worker.run()',
    args: () => [join(fixtures, 'graceful-worker.mjs')],
    env: (url: string) => ({ WAKAME_TEST_URL: url }),
  },
  {
    name: 'wakame worker',
    args: (url: string) => [main, 'worker', join(fixtures, 'graceful-handlers.mjs'), '--url', url, '--quiet'],
    env: (_url: string) => ({ WAKAME_TEST_CLI: '1' }),
  },
];

interface Line {
  readonly kind: 'started' | 'done' | 'signal';
  readonly n: number;
  readonly pid: number;
}

/** The lines "started <n> <pid>", "done <n> <pid>" and "signal <pid>" the workers wrote. */
function lines(out: string): Line[] {
  if (!existsSync(out)) return [];
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const parts = line.split(' ');
      const kind = parts[0] as Line['kind'];
      return kind === 'signal'
        ? { kind, n: -1, pid: Number(parts[1]) }
        : { kind, n: Number(parts[1]), pid: Number(parts[2]) };
    });
}

const numbers = (all: Line[], kind: Line['kind'], pid?: number): number[] =>
  all
    .filter((l) => l.kind === kind && (pid === undefined || l.pid === pid))
    .map((l) => l.n)
    .sort((a, b) => a - b);

describe.each(brokers)('$name: SIGTERM with 8 tasks in flight', (broker) => {
  const { skip } = broker;
  const freshUrl = () => broker.fresh(LEASE);
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  async function prepare(): Promise<{ url: string; out: string; release: string }> {
    const url = await freshUrl();
    const connection = await Connection.open(url);
    const client = new TaskClient(connection, topology);
    await connection.declare(new Queue('work', { exchange: 'amq.direct', routingKey: 'work' }));
    for (let n = 0; n < TOTAL; n++) await client.send('count.me', { n });
    await client.close();
    await connection.close();
    const dir = mkdtempSync(join(tmpdir(), 'wakame-graceful-out-'));
    return { url, out: join(dir, 'lines.txt'), release: join(dir, 'release') };
  }

  async function ready(url: string): Promise<number> {
    const connection = await Connection.open(url);
    try {
      return await new Queue('work').attach(connection).messageCount();
    } finally {
      await connection.close();
    }
  }

  describe.each(launchers)('$name', (launcher) => {
    function start(url: string, out: string, release: string): { child: ChildProcess; exit: Promise<number | null> } {
      let stderr = '';
      const child = spawn(process.execPath, ['--conditions=@wakame/source', '--import', 'tsx', ...launcher.args(url)], {
        cwd: repo,
        env: { ...process.env, ...launcher.env(url), WAKAME_TEST_OUT: out, WAKAME_TEST_RELEASE: release },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      children.push(child);
      const exit = new Promise<number | null>((resolve) =>
        child.on('exit', (code) => {
          if (code !== 0) console.error(stderr);
          resolve(code);
        }),
      );
      return { child, exit };
    }

    it.skipIf(skip)(
      'the running handlers finish and ack; the next worker runs the rest; every task runs once',
      async () => {
        const { url, out, release } = await prepare();
        const first = start(url, out, release);
        const pid = first.child.pid as number;
        await waitFor(() => numbers(lines(out), 'started', pid).length === CONCURRENCY, {
          timeoutMs: 30_000,
          what: `${CONCURRENCY} handlers running`,
        });
        first.child.kill('SIGTERM');
        await waitFor(() => lines(out).some((l) => l.kind === 'signal' && l.pid === pid), {
          timeoutMs: 10_000,
          what: 'the worker to get SIGTERM',
        });
        writeFileSync(release, '');
        expect(await first.exit).toBe(0);
        const afterFirst = lines(out);
        // It took no more work once told to stop, and finished everything it had started.
        expect(numbers(afterFirst, 'started', pid)).toHaveLength(CONCURRENCY);
        expect(numbers(afterFirst, 'done', pid)).toEqual(numbers(afterFirst, 'started', pid));
        expect(await ready(url)).toBe(TOTAL - CONCURRENCY);

        const second = start(url, out, release);
        await waitFor(
          async () => {
            const all = lines(out);
            const done = new Set(numbers(all, 'done'));
            const busy = numbers(all, 'started').length !== numbers(all, 'done').length;
            return done.size === TOTAL && !busy && (await ready(url)) === 0;
          },
          { timeoutMs: 30_000, intervalMs: 20, what: 'every task done' },
        );
        second.child.kill('SIGTERM');
        expect(await second.exit).toBe(0);

        const all = lines(out);
        const started = numbers(all, 'started');
        const done = numbers(all, 'done');
        const everyTask = Array.from({ length: TOTAL }, (_, n) => n);
        console.info(
          `[graceful ${url.split(':')[0]}, ${launcher.name}] ${started.length - new Set(started).size} duplicates, ${TOTAL - new Set(done).size} lost`,
        );
        expect(started).toEqual(everyTask);
        expect(done).toEqual(everyTask);
        expect(await ready(url)).toBe(0);
      },
      90_000,
    );
  });
});
