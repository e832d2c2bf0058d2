/**
 * The RabbitMQ broker admin against the broker: every entity kind put, listed, updated in place and
 * deleted through the management API, as the transport wires it (`admin.broker` of a connection).
 *
 * Two fresh vhosts (A is the connection's, B another) and fresh user names; whatever a test makes is
 * deleted afterwards (users one by one, policies and permissions with their vhosts).
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { Connection } from '@wakame/core';
import {
  AccessRefusedError,
  type BrokerEntities,
  type BrokerEntity,
  type BrokerEntityAdmin,
  InvalidArgumentError,
  type PolicySpec,
  Sensitive,
  type TopicPermissionSpec,
  UnsupportedFeatureError,
  type UserSpec,
} from '@wakame/core/spi';
import {
  AMQP_URL,
  amqpUrlForVhost,
  brokerGate,
  createVhost,
  deleteVhost,
  MANAGEMENT_ENDPOINT,
  management,
  RABBITMQ_MANAGEMENT_URL,
  waitFor,
} from '@wakame/testkit';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RABBIT_HASHING_ALGORITHMS, rabbitPasswordHash } from '../../src/amqp/password-hash.js';

const gate = await brokerGate('amqp broker admin', { name: 'rabbitmq', url: AMQP_URL });
const managementGate = await brokerGate('amqp broker admin (management)', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const suffix = randomUUID().slice(0, 8);
const vhostA = `wakame-broker-a-${suffix}`;
const vhostB = `wakame-broker-b-${suffix}`;

/** Whether `password` logs `user` in to the management API (the broker checks its own stored hash). */
async function logsIn(user: string, password: string): Promise<boolean> {
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const response = await fetch(`${MANAGEMENT_ENDPOINT}/api/whoami`, { headers: { authorization } });
  await response.body?.cancel();
  return response.ok;
}

/** Every way an error can be shown, as one string. */
function shown(error: unknown): string {
  return [String(error), (error as Error).message, JSON.stringify(error), inspect(error, { depth: 5 })].join('\n');
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error as Error,
  );
}

describe.skipIf(gate === 'skip' || managementGate === 'skip')('RabbitMQ broker admin', () => {
  const connections: Connection[] = [];
  const users = new Set<string>();
  const vhosts = new Set([vhostA, vhostB]);
  let admin: BrokerEntityAdmin;
  let version = '';

  async function brokerOf(url: string, managementUrl?: string): Promise<BrokerEntityAdmin> {
    const connection = await Connection.open(url, managementUrl ? { transportOptions: { managementUrl } } : {});
    connections.push(connection);
    const broker = (await connection.ready()).admin.broker;
    if (!broker) throw new Error('the amqp transport has no broker admin');
    return broker;
  }

  function user(role: string): string {
    const name = `wakame-${role}-${suffix}`;
    users.add(name);
    return name;
  }

  /** The listed entity of `entity`'s kind and identity, if any. */
  async function listed<K extends keyof BrokerEntities>(
    kind: K,
    match: (e: BrokerEntities[K][number]) => boolean,
  ): Promise<BrokerEntities[K][number][]> {
    const all = (await admin.list())[kind] as readonly BrokerEntities[K][number][];
    return all.filter(match);
  }

  beforeAll(async () => {
    const url = await createVhost(vhostA);
    await createVhost(vhostB);
    admin = await brokerOf(url);
    version = ((await management<{ rabbitmq_version?: string }>('GET', 'overview'))?.rabbitmq_version ?? '').trim();
  });
  afterAll(async () => {
    for (const c of connections) await c.close();
    for (const name of users) await management('DELETE', `users/${encodeURIComponent(name)}`);
    for (const vhost of vhosts) await deleteVhost(vhost);
  });

  it('is the connection vhost, and lists what the broker has', async () => {
    expect(admin.vhost).toBe(vhostA);
    const all = await admin.list();
    expect(all.vhosts.map((v) => v.name)).toEqual(expect.arrayContaining([vhostA, vhostB]));
    expect(all.users.find((u) => u.name === 'guest')?.credential).toMatchObject({ kind: 'hash' });
  });

  it('puts, lists, updates and deletes a vhost', async () => {
    const name = `wakame-broker-c-${suffix}`;
    vhosts.add(name);
    const spec = { name, description: 'orders', tags: ['team-a', 'prod'], defaultQueueType: 'quorum' as const };
    await admin.put({ kind: 'vhost', spec });
    expect(await listed('vhosts', (v) => v.name === name)).toEqual([spec]);
    const updated = { ...spec, description: 'orders, v2', tags: ['team-b'] };
    await admin.put({ kind: 'vhost', spec: updated });
    expect(await listed('vhosts', (v) => v.name === name)).toEqual([updated]);
    if (/^3\.(\d|10)\./.test(version)) {
      // 3.10 sets a default queue type at creation only: a change is refused, not silently dropped.
      const change = admin.put({ kind: 'vhost', spec: { ...updated, defaultQueueType: 'stream' } });
      expect(await failure(change)).toBeInstanceOf(UnsupportedFeatureError);
    }
    await admin.delete({ kind: 'vhost', spec });
    expect(await listed('vhosts', (v) => v.name === name)).toEqual([]);
    await admin.delete({ kind: 'vhost', spec }); // already gone: fine
  });

  it('puts a user with a password, checks it, keeps it through a tag change, replaces it with a hash', async () => {
    const name = user('svc');
    await admin.put({
      kind: 'user',
      spec: { name, tags: ['management'], credential: { kind: 'password', password: new Sensitive('pw-1') } },
    });
    const [created] = await listed('users', (u) => u.name === name);
    expect(created).toMatchObject({
      name,
      tags: ['management'],
      credential: { kind: 'hash', algorithm: 'rabbit_password_hashing_sha256' },
    });
    const stored = (created as UserSpec).credential;
    if (!stored) throw new Error('no credential listed');
    expect(admin.passwordMatches?.('pw-1', stored)).toBe(true);
    expect(admin.passwordMatches?.('pw-2', stored)).toBe(false);
    expect(await logsIn(name, 'pw-1')).toBe(true);

    // No credential declared: tags change, the password stays.
    await admin.put({ kind: 'user', spec: { name, tags: ['management', 'monitoring'] } });
    expect(await listed('users', (u) => u.name === name)).toEqual([
      { name, tags: ['management', 'monitoring'], credential: stored },
    ]);
    expect(await logsIn(name, 'pw-1')).toBe(true);

    const hash = rabbitPasswordHash('pw-3', 'rabbit_password_hashing_sha512');
    const hashed: UserSpec = {
      name,
      tags: ['management'],
      credential: { kind: 'hash', hash, algorithm: 'rabbit_password_hashing_sha512' },
    };
    await admin.put({ kind: 'user', spec: hashed });
    expect(await listed('users', (u) => u.name === name)).toEqual([hashed]);
    expect(await logsIn(name, 'pw-3')).toBe(true);
    expect(await logsIn(name, 'pw-1')).toBe(false);

    await admin.delete({ kind: 'user', spec: hashed });
    expect(await listed('users', (u) => u.name === name)).toEqual([]);
  });

  it.each(Object.keys(RABBIT_HASHING_ALGORITHMS))('hashes as the broker does with %s', async (algorithm) => {
    const name = user(`hash-${algorithm.replace(/^rabbit_password_hashing_/, '')}`);
    const password = 'pä$$wörd ✓';
    const hash = rabbitPasswordHash(password, algorithm);
    await admin.put({
      kind: 'user',
      spec: { name, tags: ['management'], credential: { kind: 'hash', hash, algorithm } },
    });
    expect(await logsIn(name, password)).toBe(true);
    expect(await logsIn(name, `${password}!`)).toBe(false);
  });

  it('puts, updates and deletes a permission in another vhost', async () => {
    const name = user('perm');
    await admin.put({ kind: 'user', spec: { name, tags: [] } });
    const spec = { user: name, vhost: vhostB, configure: '^orders\\.', write: '.*', read: '' };
    await admin.put({ kind: 'permission', spec });
    const mine = (p: { user: string; vhost: string }) => p.user === name;
    expect(await listed('permissions', mine)).toEqual([spec]);
    await admin.put({ kind: 'permission', spec: { ...spec, read: '.*' } });
    expect(await listed('permissions', mine)).toEqual([{ ...spec, read: '.*' }]);
    await admin.delete({ kind: 'permission', spec });
    expect(await listed('permissions', mine)).toEqual([]);
  });

  it("deletes one exchange's topic permission and keeps the other's", async () => {
    const name = user('topic');
    await admin.put({ kind: 'user', spec: { name, tags: [] } });
    const a: TopicPermissionSpec = {
      user: name,
      vhost: vhostB,
      exchange: 'amq.topic',
      write: '^orders\\.',
      read: '.*',
    };
    const b: TopicPermissionSpec = { user: name, vhost: vhostB, exchange: 'events', write: '^audit\\.', read: '^x' };
    await admin.put({ kind: 'topic-permission', spec: a });
    await admin.put({ kind: 'topic-permission', spec: b });
    const mine = (p: TopicPermissionSpec) => p.user === name;
    const byExchange = (x: TopicPermissionSpec, y: TopicPermissionSpec) => x.exchange.localeCompare(y.exchange);
    expect((await listed('topicPermissions', mine)).sort(byExchange)).toEqual([a, b]);
    await admin.put({ kind: 'topic-permission', spec: { ...b, read: '.*' } });
    expect((await listed('topicPermissions', mine)).sort(byExchange)).toEqual([a, { ...b, read: '.*' }]);
    await admin.delete({ kind: 'topic-permission', spec: a });
    expect(await listed('topicPermissions', mine)).toEqual([{ ...b, read: '.*' }]);
    await admin.delete({ kind: 'topic-permission', spec: a }); // already gone: fine
    await admin.delete({ kind: 'topic-permission', spec: b });
    expect(await listed('topicPermissions', mine)).toEqual([]);
  });

  it('changes a policy in place: the queue keeps its messages and arguments, its effective policy changes', async () => {
    const queue = `orders-${suffix}`;
    const conn = await amqplib.connect(amqpUrlForVhost(vhostA));
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue(queue, { durable: true, arguments: { 'x-max-priority': 3 } });
      for (let i = 0; i < 5; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`));
      await ch.waitForConfirms();

      const spec: PolicySpec = {
        name: `cap-${suffix}`,
        operator: false,
        pattern: `^${queue}$`,
        applyTo: 'queues',
        priority: 1,
        definition: { 'max-length': 1000 },
      };
      await admin.put({ kind: 'policy', spec }); // no vhost: the connection's
      expect(await listed('policies', (p) => p.name === spec.name)).toEqual([{ ...spec, vhost: vhostA }]);
      type ApiQueue = { policy?: string; effective_policy_definition?: unknown; arguments?: unknown };
      const path = `queues/${encodeURIComponent(vhostA)}/${encodeURIComponent(queue)}`;
      const effective = (definition: unknown) =>
        waitFor(
          async () => {
            const q = await management<ApiQueue>('GET', path);
            return q?.policy === spec.name &&
              JSON.stringify(q.effective_policy_definition) === JSON.stringify(definition)
              ? q
              : undefined;
          },
          { timeoutMs: 20_000, intervalMs: 200, what: `the policy of ${queue} to be ${JSON.stringify(definition)}` },
        );
      const before = await effective({ 'max-length': 1000 });

      const changed = { ...spec, definition: { 'max-length': 500, 'message-ttl': 3_600_000 } };
      await admin.put({ kind: 'policy', spec: changed });
      expect(await listed('policies', (p) => p.name === spec.name)).toEqual([{ ...changed, vhost: vhostA }]);
      const after = await effective(changed.definition);
      expect(after.arguments).toEqual(before.arguments);
      expect(after.arguments).toEqual({ 'x-max-priority': 3 });
      expect((await ch.checkQueue(queue)).messageCount).toBe(5);

      await admin.delete({ kind: 'policy', spec });
      expect(await listed('policies', (p) => p.name === spec.name)).toEqual([]);
      expect((await ch.checkQueue(queue)).messageCount).toBe(5);
      await ch.deleteQueue(queue);
    } finally {
      await conn.close();
    }
    // The management API shows a queue's policy from its statistics, refreshed every 5 s: two waits.
  }, 45_000);

  it('round-trips an operator policy with queue-only keys in another vhost', async () => {
    const spec: PolicySpec = {
      name: `op-cap-${suffix}`,
      operator: true,
      vhost: vhostB,
      pattern: '^orders\\.',
      applyTo: 'queues',
      priority: 3,
      definition: { 'max-length': 10, expires: 60_000 },
    };
    const entity: BrokerEntity = { kind: 'operator-policy', spec };
    await admin.put(entity);
    const mine = (p: PolicySpec) => p.name === spec.name;
    expect(await listed('policies', mine)).toEqual([spec]);
    await admin.put({ kind: 'operator-policy', spec: { ...spec, definition: { 'max-length': 20 } } });
    expect(await listed('policies', mine)).toEqual([{ ...spec, definition: { 'max-length': 20 } }]);
    await admin.delete(entity);
    expect(await listed('policies', mine)).toEqual([]);
  });

  it("refuses what RabbitMQ refuses with its reason, and never shows a password, a hash or the login's", async () => {
    const bad = admin.put({
      kind: 'policy',
      spec: {
        name: 'bad',
        operator: false,
        pattern: '.*',
        applyTo: 'queues',
        priority: 0,
        definition: { 'message-ttl': 'x' },
      },
    });
    const invalid = await failure(bad);
    expect(invalid).toBeInstanceOf(InvalidArgumentError);
    expect(invalid.message).toMatch(/^cannot put policy bad: RabbitMQ answered HTTP 400: .*is not a valid message TTL/);

    // RabbitMQ echoes a malformed hash in its reason.
    const hash = `not-base64!!${suffix}`;
    const name = user('bad-hash');
    const echoed = await failure(
      admin.put({ kind: 'user', spec: { name, tags: [], credential: { kind: 'hash', hash, algorithm: 'x' } } }),
    );
    expect(echoed).toBeInstanceOf(InvalidArgumentError);
    expect(echoed.message).toContain('not_base64');
    expect(shown(echoed)).not.toContain(hash);

    // A management user that is not an administrator may not create users.
    const low = user('low');
    const lowPassword = `low-pw-${randomUUID()}`;
    await admin.put({
      kind: 'user',
      spec: { name: low, tags: ['management'], credential: { kind: 'password', password: new Sensitive(lowPassword) } },
    });
    const managementUrl = MANAGEMENT_ENDPOINT.replace('://', `://${low}:${encodeURIComponent(lowPassword)}@`);
    const lowAdmin = await brokerOf(amqpUrlForVhost(vhostA), managementUrl);
    const victim = `victim-pw-${randomUUID()}`;
    const refused = await failure(
      lowAdmin.put({
        kind: 'user',
        spec: { name: user('victim'), tags: [], credential: { kind: 'password', password: new Sensitive(victim) } },
      }),
    );
    expect(refused).toBeInstanceOf(AccessRefusedError);
    expect(refused.message).toContain(`refused user '${low}'`);
    const authorization = Buffer.from(`${low}:${lowPassword}`).toString('base64');
    for (const secret of [victim, lowPassword, authorization]) expect(shown(refused)).not.toContain(secret);
  });
});
