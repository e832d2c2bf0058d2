/**
 * Batched probing and binding against RabbitMQ (`admin-probe.ts`): each entity's result is what a
 * lone passive + active declare finds, a missing entity is never created, conflicts are named per
 * entity, a channel the broker closes mid-batch is replaced and the rest probed, and a plan from
 * the batched path equals the plan from the lone path (differential). A vhost of its own, deleted
 * afterwards; an admin over a connection of the test's own, so its round trips can be counted.
 */
import { randomUUID } from 'node:crypto';
import { diff, NotFoundError, observe, PreconditionFailedError } from '@wakame/core';
import type { BindingSpec, ExchangeSpec, ObservedTopology, QueueSpec, TopologyAdmin } from '@wakame/core/spi';
import { AMQP_URL, brokerGate, createVhost, deleteVhost, RABBITMQ_MANAGEMENT_URL } from '@wakame/testkit';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmqpAdmin } from '../../src/amqp/admin.js';
import { PROBE_BATCH } from '../../src/amqp/admin-probe.js';

const gate = await brokerGate('amqp batched probes', { name: 'rabbitmq', url: AMQP_URL });
const managementGate = await brokerGate('amqp batched probes (vhost)', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const vhost = `wakame-probe-${randomUUID()}`;
const INCOMPLETE: ObservedTopology = { exchanges: [], queues: [], bindings: [], complete: false };

const exchange = (name: string, type: ExchangeSpec['type'] = 'direct'): ExchangeSpec => ({
  name,
  type,
  durable: true,
  autoDelete: false,
  internal: false,
  arguments: {},
});
const queue = (name: string, extra: Partial<QueueSpec> = {}): QueueSpec => ({
  name,
  durable: true,
  exclusive: false,
  autoDelete: false,
  arguments: {},
  ...extra,
});
const binding = (source: string, destination: string): BindingSpec => ({
  source,
  destination,
  destinationType: 'queue',
  routingKey: destination,
  arguments: {},
});

describe.skipIf(gate === 'skip' || managementGate === 'skip')('amqp batched probes', () => {
  let url = '';
  const connections: ChannelModel[] = [];

  /** An admin on a connection of its own (no management API: nothing can be listed). */
  async function openAdmin(): Promise<AmqpAdmin> {
    const conn = await amqp.connect(url);
    conn.on('error', () => {});
    connections.push(conn);
    return new AmqpAdmin({ connection: async () => conn, knownExchanges: new Set(), inspect: async () => INCOMPLETE });
  }

  /** Whether a queue exists, asked on a channel of its own. */
  async function exists(kind: 'queue' | 'exchange', name: string): Promise<boolean> {
    const conn = connections[0] as ChannelModel;
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    try {
      await (kind === 'queue' ? ch.checkQueue(name) : ch.checkExchange(name));
      await ch.close();
      return true;
    } catch {
      return false;
    }
  }

  beforeAll(async () => {
    url = await createVhost(vhost);
  });
  afterAll(async () => {
    for (const c of connections.splice(0)) await c.close().catch(() => {});
    await deleteVhost(vhost);
  });

  it('reports missing entities missing and never creates them, among equal ones in the same batch', async () => {
    const admin = await openAdmin();
    const p = `m-${randomUUID()}`;
    for (let i = 0; i < 10; i += 2) await admin.declareQueue(queue(`${p}.q${i}`));
    await admin.declareExchange(exchange(`${p}.x0`));
    const requests = [
      { kind: 'exchange' as const, spec: exchange(`${p}.x0`) },
      { kind: 'exchange' as const, spec: exchange(`${p}.x1`) },
      ...Array.from({ length: 10 }, (_, i) => ({ kind: 'queue' as const, spec: queue(`${p}.q${i}`) })),
    ];
    const results = await admin.probeEntities(requests);
    expect(results.map((r) => r.state)).toEqual([
      'equal',
      'missing',
      ...Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'equal' : 'missing')),
    ]);
    expect(await exists('exchange', `${p}.x1`)).toBe(false);
    for (let i = 1; i < 10; i += 2) expect(await exists('queue', `${p}.q${i}`)).toBe(false);
  });

  it('names each conflict with its difference, several in one batch, queues with their message count', async () => {
    const admin = await openAdmin();
    const p = `c-${randomUUID()}`;
    await admin.declareExchange(exchange(`${p}.x`, 'topic'));
    await admin.declareQueue(queue(`${p}.ttl`, { messageTtl: 1000 }));
    await admin.declareQueue(queue(`${p}.same`));
    await admin.declareQueue(queue(`${p}.len`, { maxLength: 5 }));
    const conn = connections[connections.length - 1] as ChannelModel;
    const ch = await conn.createConfirmChannel();
    for (let i = 0; i < 3; i++) ch.sendToQueue(`${p}.len`, Buffer.from('m'));
    await ch.waitForConfirms();
    await ch.close();
    const before = { ...admin.stats };
    const results = await admin.probeEntities([
      { kind: 'exchange', spec: exchange(`${p}.x`, 'direct') },
      { kind: 'queue', spec: queue(`${p}.ttl`, { messageTtl: 2000 }) },
      { kind: 'queue', spec: queue(`${p}.same`) },
      { kind: 'queue', spec: queue(`${p}.len`, { maxLength: 9 }) },
    ]);
    expect(results).toEqual([
      { state: 'conflict', differences: [{ property: 'type', expected: 'direct', actual: 'topic' }] },
      {
        state: 'conflict',
        differences: [{ property: 'arguments.x-message-ttl', expected: 2000, actual: 1000 }],
        messageCount: 0,
        consumerCount: 0,
      },
      { state: 'equal' },
      {
        state: 'conflict',
        differences: [{ property: 'arguments.x-max-length', expected: 9, actual: 5 }],
        messageCount: 3,
        consumerCount: 0,
      },
    ]);
    // One batch per conflict (and the last, clean one) plus one lone count for each conflicting queue.
    expect(admin.stats.roundTrips - before.roundTrips).toBe(4 + 2);
  });

  it('probes a mix of 1,000 entities in a few round trips, each as the lone path finds it', async () => {
    const admin = await openAdmin();
    const p = `k-${randomUUID()}`;
    // Every 97th missing, every 89th conflicting (ttl), the rest equal.
    const kinds = Array.from({ length: 1000 }, (_, i) =>
      i % 97 === 5 ? 'missing' : i % 89 === 7 ? 'conflict' : 'equal',
    );
    await Promise.all(
      kinds.map((kind, i) =>
        kind === 'missing'
          ? Promise.resolve()
          : admin.declareQueue(queue(`${p}.${i}`, kind === 'conflict' ? { messageTtl: 1 } : {})),
      ),
    );
    const requests = kinds.map((_, i) => ({ kind: 'queue' as const, spec: queue(`${p}.${i}`) }));
    const before = { ...admin.stats };
    let progress = 0;
    const results = await admin.probeEntities(requests, (done) => {
      progress = done;
    });
    expect(results.map((r) => r.state)).toEqual(kinds);
    expect(progress).toBe(1000);
    const missing = kinds.filter((k) => k === 'missing').length;
    const conflicts = kinds.filter((k) => k === 'conflict').length;
    const roundTrips = admin.stats.roundTrips - before.roundTrips;
    // A clean batch is one round trip; each refusal costs at most one more, and a count for each conflict.
    expect(roundTrips).toBeLessThanOrEqual(Math.ceil(1000 / PROBE_BATCH) * 8 + missing + 2 * conflicts);
    expect(roundTrips).toBeLessThan(200);
    for (const [i, kind] of kinds.entries())
      if (kind === 'missing') expect(await exists('queue', `${p}.${i}`)).toBe(false);
  });

  it('goes on with the rest on a fresh channel after the broker closes one mid-batch', async () => {
    const admin = await openAdmin();
    const p = `r-${randomUUID()}`;
    for (let i = 0; i < 50; i++) if (i !== 20) await admin.declareQueue(queue(`${p}.${i}`));
    const opened = admin.stats.channelsOpened;
    const results = await admin.probeEntities(
      Array.from({ length: 50 }, (_, i) => ({ kind: 'queue' as const, spec: queue(`${p}.${i}`) })),
    );
    expect(results.map((r) => r.state)).toEqual(Array.from({ length: 50 }, (_, i) => (i === 20 ? 'missing' : 'equal')));
    expect(admin.stats.channelsOpened).toBe(opened + 1);
    // The admin is still usable: the closed channel left the pool.
    await expect(admin.declareQueue(queue(`${p}.0`), { passive: true })).resolves.toMatchObject({ messageCount: 0 });
  });

  it('fails, as a lone probe does, on a refusal it cannot pin on one entity (an exclusive queue of another connection)', async () => {
    const admin = await openAdmin();
    const other = await openAdmin();
    const p = `l-${randomUUID()}`;
    await admin.declareQueue(queue(`${p}.a`));
    await other.declareQueue(queue(`${p}.locked`, { exclusive: true, autoDelete: true }));
    const requests = [
      { kind: 'queue' as const, spec: queue(`${p}.a`) },
      { kind: 'queue' as const, spec: queue(`${p}.locked`, { exclusive: true, autoDelete: true }) },
    ];
    const batched = await admin.probeEntities(requests).catch((e: unknown) => e);
    const lone = await observe(withoutBatches(admin), {
      exchanges: [],
      queues: requests.map((r) => r.spec),
      bindings: [],
    } as never).catch((e: unknown) => e);
    expect(batched).toBeInstanceOf(PreconditionFailedError);
    expect(lone).toBeInstanceOf(PreconditionFailedError);
    expect((batched as Error).message).toBe((lone as Error).message);
  });

  it('plans exactly what the lone path plans (differential)', async () => {
    const admin = await openAdmin();
    const p = `d-${randomUUID()}`;
    const exchanges = Array.from({ length: 6 }, (_, i) => exchange(`${p}.x${i}`, i % 2 ? 'topic' : 'direct'));
    const queues = Array.from({ length: 300 }, (_, i) => queue(`${p}.q${i}`, i % 7 === 3 ? { messageTtl: 500 } : {}));
    for (const [i, x] of exchanges.entries())
      if (i !== 4) await admin.declareExchange({ ...x, type: i === 1 ? 'fanout' : x.type });
    await Promise.all(
      queues.map((q, i) =>
        i % 11 === 0 ? Promise.resolve() : admin.declareQueue(i % 13 === 0 ? { ...q, messageTtl: 9 } : q),
      ),
    );
    const desired = { exchanges, queues, bindings: queues.map((q, i) => binding(`${p}.x${i % 6}`, q.name)) } as never;
    const batched = await observe(admin, desired);
    const lone = await observe(withoutBatches(admin), desired);
    const states = (live: typeof batched) =>
      live.kind === 'probed'
        ? [...live.exchanges, ...live.queues]
            .map(([name, r]) => [name, r.state, r.state === 'conflict' ? r.differences : []] as const)
            // The lone path fills its maps in the order its probes finish.
            .sort(([a], [b]) => a.localeCompare(b))
        : [];
    expect(states(batched)).toEqual(states(lone));
    expect(diff(desired, batched)).toEqual(diff(desired, lone));
    expect(states(batched).filter(([, s]) => s === 'conflict').length).toBeGreaterThan(2);
  });

  it('binds many per round trip and stops exactly at a binding that fails', async () => {
    const admin = await openAdmin();
    const p = `b-${randomUUID()}`;
    await admin.declareExchange(exchange(`${p}.x`));
    await Promise.all(Array.from({ length: 600 }, (_, i) => admin.declareQueue(queue(`${p}.${i}`))));
    const bindings = Array.from({ length: 600 }, (_, i) => binding(`${p}.x`, `${p}.${i}`));
    const before = admin.stats.roundTrips;
    await expect(admin.bindMany(bindings)).resolves.toEqual({ bound: 600 });
    expect(admin.stats.roundTrips - before).toBeLessThanOrEqual(2);
    const broken = [...bindings.slice(0, 450), binding(`${p}.nowhere`, `${p}.1`), ...bindings.slice(450)];
    const result = await admin.bindMany(broken);
    expect(result.bound).toBe(450);
    expect(result.error).toBeInstanceOf(NotFoundError);
  });
});

/** The admin as an admin without batches sees it: every entity probed alone. */
function withoutBatches(admin: AmqpAdmin): TopologyAdmin {
  return new Proxy(admin, {
    get(target, key) {
      if (key === 'probeEntities' || key === 'bindMany') return undefined;
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
