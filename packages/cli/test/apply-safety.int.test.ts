/**
 * `wakame apply` as a deployment step on a shared broker — file, Redis and RabbitMQ — next to a
 * foreign, Celery-like application whose queue holds messages, and next to the entities a running
 * Wakame worker makes. Each case is a fault measured on an earlier main: a prune that dropped a
 * queue holding a message without --force, a prune of the worker's dead letters and delay queues
 * and of other applications' queues, drift invisible to --detailed-exitcode, a replace that lost a
 * message arriving after the plan, saved plans, and two concurrent applies.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApplyFailedError,
  applyPlan,
  Connection,
  Exchange,
  lockStack,
  planStack,
  Queue,
  type TopologyAdmin,
} from '@wakame/core';
import { freshBrokers, waitFor } from '@wakame/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { ExitError } from '../src/errors.js';
import { capture } from './capture.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const main = join(repo, 'packages/cli/src/main.ts');

/** A fresh, empty broker per test: a temporary directory, a Redis key prefix, a RabbitMQ vhost. */
const { brokers, cleanup } = await freshBrokers('apply safety', { redisDb: 10 });
afterAll(cleanup);

const dir = mkdtempSync(join(tmpdir(), 'wakame-apply-files-'));
async function topologyFile(yaml: string): Promise<string> {
  const file = join(dir, `${randomUUID()}.yaml`);
  await writeFile(file, yaml);
  return file;
}
const A =
  'name: shop\nexchanges: [{ name: tasks, type: direct }]\nqueues:\n  - { name: keep, bindings: [{ exchange: tasks, routingKey: keep }] }\n  - { name: drop, bindings: [{ exchange: tasks, routingKey: drop }] }\n';
const B =
  'name: shop\nexchanges: [{ name: tasks, type: direct }]\nqueues:\n  - { name: drop, bindings: [{ exchange: tasks, routingKey: drop }] }\n';

/** Runs the CLI in process; resolves to the exit code (0 when it returned). */
async function wakame(args: string[], jsonMode = false) {
  const out = capture({ jsonMode });
  try {
    await runCli(out.ctx, args);
    return { code: 0, ...out, error: undefined as unknown };
  } catch (error) {
    return { code: error instanceof ExitError ? error.exitCode : 1, ...out, error };
  }
}

async function depth(admin: TopologyAdmin, name: string): Promise<number> {
  return (await admin.declareQueue(new Queue(name), { passive: true })).messageCount;
}

describe.each(brokers)('apply on a shared $name broker', (broker) => {
  const { skip } = broker;
  const fresh = () => broker.fresh();
  const opened: Connection[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    for (const c of opened.splice(0)) await c.close();
  });

  /** The broker with a foreign Celery-like app (2 messages waiting) and a running worker's own queues. */
  async function sharedBroker(): Promise<{ url: string; c: Connection }> {
    const url = await fresh();
    const c = await Connection.open(url);
    opened.push(c);
    const celery = new Exchange('celery', { type: 'direct' });
    await c.declare(celery, new Queue('celery', { exchange: celery, routingKey: 'celery' }));
    for (const n of [1, 2])
      await c.producer().publish({ task: 'proj.add', n }, { exchange: 'celery', routingKey: 'celery' });
    await c.declare(new Queue('wakame.dead-letter'), new Queue('wakame.delay.1000ms.tasks.keep', { messageTtl: 1000 }));
    await c.producer().publish('dead', { exchange: '', routingKey: 'wakame.dead-letter' });
    return { url, c };
  }

  it.skipIf(skip)('prunes only what the stack owns, never a queue holding messages without --force', async () => {
    const { url, c } = await sharedBroker();
    const [a, b] = [await topologyFile(A), await topologyFile(B)];
    expect((await wakame(['apply', a, '--url', url, '--yes'])).code).toBe(0);
    await c.producer().publish('precious', { exchange: 'tasks', routingKey: 'keep' });

    const plan = await wakame(['plan', b, '--url', url], true);
    expect(plan.json[0]).toMatchObject({
      stack: 'shop',
      noChanges: false,
      counts: { 'extraneous-queue': 1, 'extraneous-binding': 1 },
      foreignCount: expect.any(Number),
    });
    const extraneous = (plan.json[0] as { changes: { kind: string; queue?: { name: string } }[] }).changes.filter(
      (x) => x.kind === 'extraneous-queue',
    );
    expect(extraneous.map((x) => x.queue?.name)).toEqual(['keep']);

    const refused = await wakame(['apply', b, '--url', url, '--prune', '--yes']);
    expect(refused.error).toMatchObject({ code: 'ERR_PLAN_REFUSED' });
    expect(String((refused.error as Error).message)).toContain('queue keep holding 1 message(s)');
    expect(await depth(c.admin, 'keep')).toBe(1);

    const forced = await wakame(['apply', b, '--url', url, '--prune', '--force', '--yes']);
    expect(forced.code).toBe(0);
    expect(forced.err).toContain('warning: --force: queue keep will be deleted with 1 message(s)');
    await expect(depth(c.admin, 'keep')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    // Foreign and run-time entities were never touched.
    expect(await depth(c.admin, 'celery')).toBe(2);
    expect(await depth(c.admin, 'wakame.dead-letter')).toBe(1);
    expect(await depth(c.admin, 'wakame.delay.1000ms.tasks.keep')).toBe(0);
  });

  it.skipIf(skip)(
    'shows drift to CI: --detailed-exitcode is 2 for drift, 0 with only foreign entities, 64 for a bad flag',
    async () => {
      const { url } = await sharedBroker();
      const [a, b] = [await topologyFile(A), await topologyFile(B)];
      expect((await wakame(['plan', a, '--url', url, '--detailed-exitcode'])).code).toBe(2);
      await wakame(['apply', a, '--url', url, '--yes']);
      const clean = await wakame(['plan', a, '--url', url, '--detailed-exitcode', '--show-foreign']);
      expect(clean.code).toBe(0);
      expect(clean.out.join('\n')).toMatch(/Foreign \(other owners; never changed or pruned\):\n {2}.*celery/);
      expect(clean.out.join('\n')).not.toContain('wakame.dead-letter');
      expect((await wakame(['plan', b, '--url', url, '--detailed-exitcode'])).code).toBe(2);
      const usage = await wakame(['apply', a, '--url', url, '--concurrency', 'abc']);
      expect(usage.code).toBe(64);
      expect(String((usage.error as Error).message)).toContain('--concurrency');
    },
  );

  it.skipIf(skip)('loses no message that arrives between plan and apply', async () => {
    const { url, c } = await sharedBroker();
    await wakame(['apply', await topologyFile(A), '--url', url, '--yes']);
    const changed = await topologyFile(A.replace('{ name: keep,', '{ name: keep, maxPriority: 4,'));
    const { checkTopology } = await import('@wakame/core');
    const desired = (await checkTopology(changed)).desired;
    if (!desired) throw new Error('topology invalid');
    const planned = await planStack(c.admin, desired, 'shop');
    await c.producer().publish('late', { exchange: 'tasks', routingKey: 'keep' });
    await expect(applyPlan(planned.plan, c.admin, { allowDestructive: true })).rejects.toBeInstanceOf(ApplyFailedError);
    expect(await depth(c.admin, 'keep')).toBe(1);
  });

  it.skipIf(skip)('applies a saved plan exactly, and refuses it once the broker changed', async () => {
    const { url, c } = await sharedBroker();
    const a = await topologyFile(A);
    const saved = join(dir, `${randomUUID()}.plan.json`);
    expect((await wakame(['plan', a, '--url', url, '-o', saved])).code).toBe(0);
    const document = JSON.parse(await readFile(saved, 'utf8'));
    expect(document).toMatchObject({ format: 'wakame-plan', version: 1, stack: 'shop' });
    expect(JSON.stringify(document)).not.toContain('guest:guest');
    expect((await wakame(['apply', saved, '--url', url])).code).toBe(0);
    expect(await depth(c.admin, 'keep')).toBe(0);

    await wakame(['plan', await topologyFile(B), '--url', url, '-o', saved]);
    await c.admin.unbind({
      source: 'tasks',
      destination: 'drop',
      destinationType: 'queue',
      routingKey: 'drop',
      arguments: {},
    });
    const stale = await wakame(['apply', saved, '--url', url, '--prune', '--force']);
    expect(stale.error).toMatchObject({ code: 'ERR_PLAN_STALE' });
    expect(await depth(c.admin, 'keep')).toBe(0); // not pruned: nothing was applied
  });

  it.skipIf(skip)(
    'lets one apply hold the stack: a second process fails clearly, or waits with --lock-timeout',
    async () => {
      const { url, c } = await sharedBroker();
      const a = await topologyFile(A);
      const held = await lockStack(c.admin, 'shop', { timeoutMs: 0, operation: 'apply (test)' });
      const cli = (args: string[]) => {
        const child = spawn(process.execPath, ['--conditions=@wakame/source', '--import', 'tsx', main, ...args], {
          cwd: repo,
          env: { ...process.env, NO_COLOR: '1' },
        });
        children.push(child);
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        return { exited, out: () => stdout, err: () => stderr };
      };
      const refused = cli(['apply', a, '--url', url, '--yes', '--json']);
      expect(await refused.exited).toBe(1);
      expect(JSON.parse(refused.out())).toMatchObject({
        ok: false,
        error: {
          code: 'ERR_LOCKED',
          message: expect.stringContaining("stack 'shop' is locked by wakame apply (test)"),
        },
      });

      const waiting = cli(['apply', a, '--url', url, '--yes', '--lock-timeout', '120']);
      await waitFor(() => waiting.err().includes("waiting up to 120 s for the lock of stack 'shop'"), {
        timeoutMs: 30_000,
        what: 'the second apply to wait for the lock',
      });
      await held?.release();
      expect(await waiting.exited).toBe(0);
      expect(waiting.out()).toMatch(/Applied \d+ change/);
      expect(await depth(c.admin, 'keep')).toBe(0);
    },
    60_000,
  );
});
