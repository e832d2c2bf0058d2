/**
 * Done-when of the schedules: two worker processes run one `every: 1s` schedule on a real broker; each slot is
 * sent once (counted by slot id, the task id of a run), and after the leader is killed with SIGKILL the other
 * takes the lease over and carries on after the last recorded slot, never sending one again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AMQP_URL, brokerGate, createVhost, deleteVhost, RABBITMQ_MANAGEMENT_URL, waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

interface Line {
  readonly event: string;
  readonly type?: string;
  readonly id?: string;
  readonly redelivered?: boolean;
  readonly missed?: number;
  readonly pid: number;
}

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const workerScript = fileURLToPath(new URL('./fixtures/scheduled-worker.ts', import.meta.url));
// On RabbitMQ the schedules' state lives behind the management API (as apply's stack records do).
const amqpGate =
  (await brokerGate('schedules on RabbitMQ', { name: 'rabbitmq', url: AMQP_URL })) === 'run'
    ? await brokerGate('schedules on RabbitMQ', { name: 'rabbitmq-management', url: RABBITMQ_MANAGEMENT_URL })
    : 'skip';

/** Two worker processes of one schedule group, and every line they print. */
class Workers {
  readonly lines: Line[] = [];
  readonly children: ChildProcess[] = [];
  stderr = '';

  start(url: string, group: string): ChildProcess {
    const child = spawn(
      process.execPath,
      ['--conditions=@wakame/source', '--import', 'tsx', workerScript, url, group],
      {
        cwd: repo,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).on('line', (text) => {
      this.lines.push(JSON.parse(text) as Line);
    });
    this.children.push(child);
    return child;
  }

  fired(pid?: number): string[] {
    return this.lines
      .filter((l) => l.event === 'schedule' && l.type === 'fired' && (pid === undefined || l.pid === pid))
      .map((l) => l.id as string);
  }

  leaders(): number[] {
    return this.lines.filter((l) => l.event === 'schedule' && l.type === 'leader').map((l) => l.pid);
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
  }
}

/** Waits as `waitFor` does; a timeout also shows what the workers printed on stderr. */
async function waitUntil(workers: Workers, condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  try {
    await waitFor(condition, { timeoutMs, what });
  } catch (error) {
    throw new Error(`${(error as Error).message}\nworkers' stderr: ${workers.stderr.slice(-2_000)}`);
  }
}

function duplicates(ids: readonly string[]): string[] {
  return ids.filter((id, i) => ids.indexOf(id) !== i);
}

async function firesOncePerSlotThroughAKill(url: string): Promise<void> {
  const workers = new Workers();
  try {
    const group = `t-${randomUUID()}`;
    const a = workers.start(url, group);
    const b = workers.start(url, group);
    await waitUntil(workers, () => workers.lines.filter((l) => l.event === 'ready').length === 2, 90_000, 'both ready');
    await waitUntil(workers, () => workers.fired().length >= 3, 60_000, '3 runs sent');
    // One leader so far: the other worker never sent a run.
    const leader = workers.leaders()[0] as number;
    expect(workers.leaders()).toEqual([leader]);
    const [victim, survivor] = leader === a.pid ? [a, b] : [b, a];
    const beforeKill = workers.fired(victim.pid);
    victim.kill('SIGKILL');
    await new Promise((resolve) => victim.once('exit', resolve));
    const sentByVictim = workers.fired(victim.pid);

    await waitUntil(
      workers,
      () => workers.fired(survivor.pid).length >= 3,
      90_000,
      '3 runs sent by the one that took over',
    );
    const all = workers.fired();
    expect(duplicates(all)).toEqual([]);
    expect(beforeKill.length).toBeGreaterThanOrEqual(3);
    // The survivor starts after the last slot the leader recorded: every slot it sends is later.
    const lastOfVictim = sentByVictim.at(-1) as string;
    for (const id of workers.fired(survivor.pid)) expect(id > lastOfVictim).toBe(true);
    // Each run reached a handler once (a redelivery of a killed worker's message is not a second run).
    const handled = (id: string) => workers.lines.some((l) => l.event === 'handled' && l.id === id);
    await waitUntil(workers, () => all.every(handled), 60_000, 'every run sent handled');
    const firstDeliveries = workers.lines
      .filter((l) => l.event === 'handled' && !l.redelivered)
      .map((l) => l.id as string);
    expect(duplicates(firstDeliveries)).toEqual([]);
    expect(workers.lines.filter((l) => l.event === 'schedule' && l.type === 'error')).toEqual([]);
  } finally {
    await workers.stopAll();
  }
}

describe('schedules: one run per slot with two worker processes', { timeout: 300_000 }, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });

  it('file:// — a SIGKILLed leader is replaced and no slot is sent twice', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-schedules-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await firesOncePerSlotThroughAKill(`file://${dir}`);
  });

  it.skipIf(amqpGate === 'skip')('RabbitMQ — a SIGKILLed leader is replaced and no slot is sent twice', async () => {
    const vhost = `wakame-schedules-${randomUUID()}`;
    const url = await createVhost(vhost);
    cleanup.push(() => deleteVhost(vhost));
    await firesOncePerSlotThroughAKill(url);
  });
});
