/**
 * The whole broker as code, end to end on the real RabbitMQ, through the CLI as a pipeline runs it:
 * examples/policies-and-migration/broker.yaml (two vhosts, two users, permissions, a topic
 * permission, a policy, an operator policy, and the queues) applies, re-plans clean, exports and
 * re-plans clean from the export; a policy change is an in-place update that touches no queue; a
 * maxPriority change is migrated with every message kept; no password appears in any output.
 * Every broker-wide name (vhosts, users) gets a per-run suffix through the example's `${ENV}`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@wakame/core';
import {
  amqpUrlForVhost,
  brokerGate,
  createVhost,
  deleteVhost,
  MANAGEMENT_ENDPOINT,
  management,
  RABBITMQ_MANAGEMENT_URL,
  waitFor,
} from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { capture } from './capture.js';

const gate = await brokerGate('broker as code on RabbitMQ', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const example = fileURLToPath(new URL('../../../examples/policies-and-migration/', import.meta.url));
const run = randomUUID().slice(0, 8);
const vhost = `wakame-test-bac-${run}`;
const url = amqpUrlForVhost(vhost);
const env = {
  ORDERS_VHOST: `wakame-test-orders-${run}`,
  BILLING_VHOST: `wakame-test-billing-${run}`,
  ORDERS_USER: `wakame-test-orders-svc-${run}`,
  BILLING_USER: `wakame-test-billing-svc-${run}`,
  ORDERS_PASSWORD: `pw-orders-${randomUUID()}`,
  BILLING_PASSWORD: `pw-billing-${randomUUID()}`,
};
const secrets = [env.ORDERS_PASSWORD, env.BILLING_PASSWORD];

/** Runs the CLI in-process; returns everything it wrote, and checks that no password is in it. */
async function wakame(argv: string[], extraEnv: Record<string, string> = {}) {
  const c = capture({ env: { ...env, ...extraEnv }, jsonMode: argv.includes('--json') });
  let failure: unknown;
  try {
    await runCli(c.ctx, argv);
  } catch (error) {
    failure = error;
  }
  const everything = [...c.out, ...c.err, JSON.stringify(c.json), String(failure ?? '')].join('\n');
  for (const secret of secrets) expect(everything).not.toContain(secret);
  if (failure) throw failure;
  return c;
}

describe.skipIf(gate === 'skip')('the broker as code on RabbitMQ', () => {
  beforeAll(() => createVhost(vhost));
  afterAll(async () => {
    for (const v of [vhost, env.ORDERS_VHOST, env.BILLING_VHOST]) await deleteVhost(v);
    for (const u of [env.ORDERS_USER, env.BILLING_USER]) await management('DELETE', `users/${encodeURIComponent(u)}`);
  });

  it('applies vhosts, users, permissions and policies, re-plans clean, exports and re-plans clean', async () => {
    const file = join(example, 'broker.yaml');
    const applied = await wakame(['apply', file, '--url', url, '--yes', '--json']);
    const kinds = (applied.json[0] as { applied: { kind: string; entity?: { kind: string } }[] }).applied
      .filter((c) => c.kind === 'create-entity')
      .map((c) => c.entity?.kind)
      .sort();
    expect(kinds).toEqual([
      'operator-policy',
      'permission',
      'permission',
      'policy',
      'topic-permission',
      'user',
      'user',
      'vhost',
      'vhost',
    ]);

    const replanned = await wakame(['plan', file, '--url', url, '--detailed-exitcode']);
    expect(replanned.out.at(-1)).toMatch(/^No changes/);

    // The declared password is the one RabbitMQ now checks.
    const login = await fetch(`${MANAGEMENT_ENDPOINT}/api/whoami`, {
      headers: {
        authorization: `Basic ${Buffer.from(`${env.BILLING_USER}:${env.BILLING_PASSWORD}`).toString('base64')}`,
      },
    });
    expect(login.status).toBe(200);

    const exported = await wakame(['export', '--url', url, '--stack', 'orders']);
    const text = exported.out.join('\n');
    for (const name of [env.ORDERS_VHOST, env.BILLING_VHOST, env.ORDERS_USER, env.BILLING_USER, 'lopri-expiry'])
      expect(text).toContain(name);
    const dir = await mkdtemp(join(tmpdir(), 'wakame-export-'));
    await writeFile(join(dir, 'live.yaml'), `${text}\n`);
    const fromExport = await wakame(['plan', join(dir, 'live.yaml'), '--url', url, '--stack', 'orders']);
    expect(fromExport.out.at(-1)).toMatch(/^No changes/);
  }, 60_000);

  it('changes a policy in place without touching the queue it shapes', async () => {
    const file = join(example, 'broker.yaml');
    await wakame(['apply', file, '--url', url, '--yes']);
    const c = await Connection.open(url);
    try {
      const producer = c.producer();
      for (let i = 0; i < 5; i++) await producer.publish({ i }, { exchange: 'tasks', routingKey: 'lopri' });
    } finally {
      await c.close();
    }
    const before = await queueInfo('lopri');
    const planned = await wakame(['plan', file, '--url', url], { LOPRI_TTL: '600000' });
    expect(planned.out).toContain(
      '~ policy lopri-expiry updated in place: definition: declared {"dead-letter-exchange":"dlx","message-ttl":600000}, exists as {"dead-letter-exchange":"dlx","message-ttl":3600000}',
    );
    await wakame(['apply', file, '--url', url, '--yes'], { LOPRI_TTL: '600000' });
    // The management API refreshes a queue's effective policy with its statistics (every few seconds).
    const after = await waitFor(
      async () => {
        const info = await queueInfo('lopri');
        return info.effective_policy_definition?.['message-ttl'] === 600_000 ? info : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the new policy on queue lopri' },
    );
    expect(after.arguments).toEqual(before.arguments);
    expect(after.messages).toBe(5);
  }, 60_000);

  it('migrates a queue to a new maxPriority with --migrate, every message kept', async () => {
    const file = join(example, 'broker.yaml');
    await wakame(['apply', file, '--url', url, '--yes']);
    const c = await Connection.open(url);
    try {
      await c.admin.purgeQueue('lopri');
      const producer = c.producer();
      for (let i = 0; i < 200; i++)
        await producer.publish({ i }, { exchange: 'tasks', routingKey: 'lopri', messageId: `m-${i}` });
    } finally {
      await c.close();
    }
    await expect(wakame(['apply', file, '--url', url, '--yes'], { LOPRI_LEVELS: '10' })).rejects.toMatchObject({
      code: 'ERR_PLAN_REFUSED',
    });
    const planned = await wakame(['plan', file, '--url', url, '--migrate'], {
      LOPRI_LEVELS: '10',
    });
    expect(planned.out.some((l) => l.startsWith('» queue lopri holding 200 message(s) will be MIGRATED'))).toBe(true);
    const migrated = await wakame(['apply', file, '--url', url, '--yes', '--migrate'], {
      LOPRI_LEVELS: '10',
    });
    expect(migrated.out.some((l) => /^Migrated queue lopri/.test(l))).toBe(true);
    const after = await queueInfo('lopri');
    expect(after.arguments['x-max-priority']).toBe(10);
    const ids = await drainIds('lopri');
    expect(ids.length).toBe(200);
    expect(new Set(ids).size).toBe(200);
    const clean = await wakame(['plan', file, '--url', url, '--detailed-exitcode'], {
      LOPRI_LEVELS: '10',
    });
    expect(clean.out.at(-1)).toMatch(/^No changes/);
  }, 90_000);
});

interface QueueInfo {
  readonly arguments: Record<string, unknown>;
  readonly messages: number;
  readonly effective_policy_definition?: Record<string, unknown>;
}

/** The queue as the management API sees it, once its message count has caught up with the broker's. */
async function queueInfo(name: string): Promise<QueueInfo> {
  const c = await Connection.open(url);
  try {
    const { messageCount } = await c.admin.declareQueue(
      { name, durable: true, exclusive: false, autoDelete: false, arguments: {} },
      { passive: true },
    );
    const path = `queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`;
    // The management API's counts lag behind the broker by its stats interval: wait for them.
    return await waitFor(
      async () => {
        const info = await management<QueueInfo>('GET', path);
        return info?.messages === messageCount ? info : undefined;
      },
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: `the management API to report ${messageCount} message(s) in ${name}`,
      },
    );
  } finally {
    await c.close();
  }
}

async function drainIds(queue: string): Promise<string[]> {
  const c = await Connection.open(url);
  try {
    const ids: string[] = [];
    for (;;) {
      const m = await c.getMessage(queue, { noAck: true });
      if (!m) return ids;
      ids.push(String(m.properties.messageId));
    }
  } finally {
    await c.close();
  }
}
