/**
 * `wakame send` (the executable, as a real process) on tasks a topology marks `protocol: celery`, run by a real
 * Python Celery worker (the peer of the Celery interop suites, packages/transports/test/celery): `--wait` returns the
 * worker's result through `rpc://` on RabbitMQ and through Celery's Redis result backend on Redis, and a task that
 * raised is reported as a failed task is (exit 1, the remote exception, no stack trace). Queue, exchange and key
 * names are unique per run. Missing brokers or Python's Celery fail the suite in CI (`brokerGate`, `celeryGate`).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@wakame/core';
import { AMQP_URL, brokerGate, REDIS_URL, randomName } from '@wakame/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CELERY_HOOK_TIMEOUT_MS,
  CELERY_TEST_TIMEOUT_MS,
  type CeleryPeerEnv,
  type CeleryWorkerProcess,
  celeryGate,
  startCeleryWorker,
} from '../../transports/test/celery/celery-peer.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const main = join(repo, 'packages/cli/src/main.ts');
/** Seconds `--wait` allows: generous, as the machine is shared; a result ends the wait at once. */
const WAIT_SECONDS = '90';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node main.ts …`, as the built `wakame` bin runs it. */
function wakame(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@wakame/source', '--import', 'tsx', main, ...args], {
      cwd: repo,
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The tasks of `celery_peer.py` (py.add, py.fail) on its queue `<prefix>.py`, as a topology declares them. */
function topologyOf(prefix: string): string {
  const queue = `${prefix}.py`;
  // Celery's own declaration of a task_queues entry: a direct exchange of the queue's name, bound by that name.
  const route = `{ exchange: ${queue}, routingKey: ${queue} }`;
  return `
protocol: celery
exchanges:
  - { name: ${queue}, type: direct }
tasks:
  - name: py.add
    route: ${route}
    payload:
      type: object
      required: [args]
      properties:
        args: { type: array, items: { type: integer }, minItems: 2, maxItems: 2 }
  - name: py.fail
    route: ${route}
`;
}

interface BrokerSetup {
  readonly name: string;
  /** The gate's outcome: run, or skip (never in CI). */
  readonly gate: 'run' | 'skip';
  /** Wakame's URL and the Python side's config for this run's `prefix`. */
  prepare(prefix: string): { readonly url: string; readonly peer: CeleryPeerEnv };
  cleanup(prefix: string): Promise<void>;
}

async function gates(suite: string, broker: Parameters<typeof brokerGate>[1]): Promise<'run' | 'skip'> {
  const reachable = await brokerGate(suite, broker);
  return reachable === 'run' ? celeryGate(suite) : 'skip';
}

const rabbitmq: BrokerSetup = {
  name: 'RabbitMQ (rpc:// results)',
  gate: await gates('wakame send to Celery (RabbitMQ)', { name: 'rabbitmq', url: AMQP_URL }),
  prepare: (prefix) => ({ url: AMQP_URL, peer: { broker: AMQP_URL, backend: 'rpc://', prefix } }),
  async cleanup(prefix) {
    const connection = await Connection.open(AMQP_URL);
    try {
      await connection.admin.deleteQueue(`${prefix}.py`);
      await connection.admin.deleteExchange(`${prefix}.py`);
    } finally {
      await connection.close();
    }
  },
};

const redis: BrokerSetup = {
  name: 'Redis (redis:// results)',
  gate: await gates('wakame send to Celery (Redis)', { name: 'redis', url: REDIS_URL }),
  prepare(prefix) {
    // One key prefix per run on both sides (kombu's global_keyprefix); results go by task id, unprefixed.
    const keyprefix = `${prefix}:`;
    const separator = REDIS_URL.includes('?') ? '&' : '?';
    const url = `${REDIS_URL}${separator}keyprefix=${encodeURIComponent(keyprefix)}`;
    return { url, peer: { broker: REDIS_URL, backend: REDIS_URL, prefix, keyprefix } };
  },
  async cleanup(prefix) {
    const client = new Redis(REDIS_URL);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        if (keys.length > 0) await client.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  },
};

for (const setup of [rabbitmq, redis]) {
  describe.skipIf(setup.gate === 'skip')(`wakame send to a Python Celery worker over ${setup.name}`, () => {
    const prefix = randomName('wk-cli-celery');
    const { url, peer } = setup.prepare(prefix);
    let dir: string;
    let topology: string;
    let python: CeleryWorkerProcess | undefined;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'wakame-send-celery-'));
      topology = join(dir, 'topology.yaml');
      await writeFile(topology, topologyOf(prefix));
      python = await startCeleryWorker(peer, [`${prefix}.py`]);
    }, CELERY_HOOK_TIMEOUT_MS);

    afterAll(async () => {
      await python?.stop();
      await setup.cleanup(prefix);
      await rm(dir, { recursive: true, force: true });
    }, CELERY_HOOK_TIMEOUT_MS);

    const send = (task: string, json: string, ...args: string[]) =>
      wakame(['send', task, json, '--topology', topology, '--url', url, '--wait', WAIT_SECONDS, ...args]);

    it(
      "--wait prints the Python worker's result; --json with the task id and protocol",
      async () => {
        const text = await send('py.add', '{"args":[2,3]}');
        expect(text).toMatchObject({ code: 0, stdout: '5\n' });
        const json = await send('py.add', '{"args":[20,22]}', '--json');
        expect(json.code).toBe(0);
        expect(JSON.parse(json.stdout)).toEqual({
          ok: true,
          task: 'py.add',
          id: expect.stringMatching(/^[\w-]{36}$/),
          protocol: 'celery',
          result: 42,
        });
      },
      CELERY_TEST_TIMEOUT_MS,
    );

    it(
      "reports the task's Python exception as a failed task: exit 1, code and message, no stack trace",
      async () => {
        const text = await send('py.fail', '{"args":["boom"]}');
        expect(text.code).toBe(1);
        expect(text.stdout).toBe('');
        expect(text.stderr).toMatch(
          /^error \[ERR_CELERY_TASK_FAILED\]: Celery task [\w-]+ FAILURE: ValueError: boom\n$/,
        );
        const json = await send('py.fail', '{"args":["boom"]}', '--json');
        expect(json.code).toBe(1);
        expect(JSON.parse(json.stdout)).toEqual({
          ok: false,
          error: { code: 'ERR_CELERY_TASK_FAILED', message: expect.stringContaining('ValueError: boom') },
        });
      },
      CELERY_TEST_TIMEOUT_MS,
    );
  });
}
