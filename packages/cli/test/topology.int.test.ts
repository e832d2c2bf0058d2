import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { amqpUrlForVhost, brokerGate, createVhost, deleteVhost, RABBITMQ_MANAGEMENT_URL } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { capture } from './capture.js';

const gate = await brokerGate('topology CLI on RabbitMQ', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
/** Each run gets a fresh vhost, so plans see exactly what the test applied. */
const vhost = `wakame-test-${randomUUID()}`;
const url = amqpUrlForVhost(vhost);

describe.skipIf(gate === 'skip')('wakame plan/apply/export against RabbitMQ', () => {
  beforeAll(() => createVhost(vhost));
  afterAll(() => deleteVhost(vhost));

  it.each(['priority-tasks', 'media', 'topic', 'retry-dead-letter'])(
    'applies examples/%s, then plan says no changes',
    async (name) => {
      const file = join(examples, name, 'topology.yaml');
      const applied = capture();
      await runCli(applied.ctx, ['apply', file, '--url', url, '--yes', '--stack', name]);
      expect(applied.out.at(-1)).toMatch(/^(Applied \d+ change|Nothing to do)/);
      const after = capture();
      await runCli(after.ctx, ['plan', file, '--url', url, '--detailed-exitcode', '--stack', name]);
      expect(after.out.at(-1)).toMatch(/^No changes/);
    },
    30_000,
  );

  it('refuses a destructive change before touching anything, and makes it with --allow-destructive', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-'));
    const { writeFile } = await import('node:fs/promises');
    const v1 = join(dir, 'v1.yaml');
    const v2 = join(dir, 'v2.yaml');
    await writeFile(v1, 'name: changing\nqueues:\n  - { name: changing, maxPriority: 5 }\n');
    await writeFile(v2, 'name: changing\nqueues:\n  - { name: changing, maxPriority: 9 }\n  - { name: added }\n');
    await runCli(capture().ctx, ['apply', v1, '--url', url, '--yes']);
    const refused = capture();
    await expect(runCli(refused.ctx, ['apply', v2, '--url', url, '--yes'])).rejects.toMatchObject({
      code: 'ERR_PLAN_REFUSED',
    });
    const plan = capture({ jsonMode: true });
    await runCli(plan.ctx, ['plan', v2, '--url', url]);
    expect(plan.json[0]).toMatchObject({ destructive: true, counts: { 'create-queue': 1, 'replace-queue': 1 } });
    await runCli(capture().ctx, ['apply', v2, '--url', url, '--allow-destructive', '--yes']);
    const after = capture();
    await runCli(after.ctx, ['plan', v2, '--url', url]);
    expect(after.out.at(-1)).toMatch(/^No changes/);
  }, 30_000);

  it('plans by AMQP probes when the management API is unreachable, creating nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-'));
    const { writeFile } = await import('node:fs/promises');
    const file = join(dir, 'probe.yaml');
    const name = `probe-${randomUUID()}`;
    await writeFile(
      file,
      `exchanges:\n  - { name: ${name}, type: topic }\nqueues:\n  - name: ${name}\n    bindings: [{ exchange: ${name}, routingKey: 'a.#' }]\n`,
    );
    const noManagement = ['--url', url, '--management-url', 'http://127.0.0.1:1'];
    const before = capture({ jsonMode: true });
    await runCli(before.ctx, ['plan', file, ...noManagement]);
    expect(before.json[0]).toMatchObject({
      complete: false,
      counts: { 'create-exchange': 1, 'create-queue': 1, bind: 1 },
    });
    // Planning created nothing: the same plan again still wants to create everything.
    const still = capture({ jsonMode: true });
    await runCli(still.ctx, ['plan', file, ...noManagement]);
    expect(still.json[0]).toMatchObject({ counts: { 'create-exchange': 1, 'create-queue': 1 } });
    await runCli(capture().ctx, ['apply', file, ...noManagement, '--yes']);
    const after = capture({ jsonMode: true });
    await runCli(after.ctx, ['plan', file, ...noManagement]);
    expect(after.json[0]).toMatchObject({ noChanges: true, counts: { unchanged: 2, unverifiable: 1 } });
  }, 30_000);

  it('exports the live vhost as a topology that plans to no changes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-'));
    const exported = join(dir, 'live.yaml');
    await runCli(capture().ctx, ['export', '--url', url, '-o', exported]);
    const after = capture();
    await runCli(after.ctx, ['plan', exported, '--url', url]);
    expect(after.out.at(-1)).toMatch(/^No changes/);
  }, 30_000);
});
