import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnsupportedFeatureError } from '../../src/errors.js';
import type { PolicySpec } from '../../src/model/broker-entities.js';
import { MemoryStore } from '../../src/virtual/memory-store.js';
import { VirtualTransport } from '../../src/virtual/virtual-transport.js';

function policy(definition: Record<string, unknown>, extra: Partial<PolicySpec> = {}): PolicySpec {
  return { name: 'p', operator: false, pattern: '.*', applyTo: 'queues', priority: 0, definition, ...extra };
}

async function open(vhost?: string): Promise<VirtualTransport> {
  const transport = new VirtualTransport(new MemoryStore(), vhost === undefined ? {} : { vhost });
  await transport.connect();
  return transport;
}

describe('virtual transport: policies', () => {
  it('declares policies, operator policies and the policy keys its store supports, and queue migration', async () => {
    const transport = await open();
    const caps = transport.capabilities;
    expect(caps.brokerEntities).toEqual(new Set(['policy', 'operator-policy']));
    expect(caps.policyKeys).toEqual(
      new Set([
        'message-ttl',
        'max-length',
        'max-length-bytes',
        'overflow',
        'dead-letter-exchange',
        'dead-letter-routing-key',
      ]),
    );
    expect(caps.queueMigration).toBe(true);
    await transport.close();
  });

  it("gives the URL's vhost to its broker admin, and to the policies it lists", async () => {
    const transport = await open('orders');
    const broker = transport.admin.broker;
    expect(broker?.vhost).toBe('orders');
    await broker?.put({ kind: 'policy', spec: policy({ 'max-length': 1 }) });
    expect((await broker?.list())?.policies).toEqual([policy({ 'max-length': 1 }, { vhost: 'orders' })]);
    expect(await broker?.list()).toMatchObject({ vhosts: [], users: [], permissions: [], topicPermissions: [] });
    await transport.close();
  });

  it('refuses entity kinds other than policies, keys it cannot honour and patterns that are no regex', async () => {
    const transport = await open();
    const broker = transport.admin.broker;
    await expect(broker?.put({ kind: 'vhost', spec: { name: 'v', tags: [] } })).rejects.toBeInstanceOf(
      UnsupportedFeatureError,
    );
    await expect(broker?.delete({ kind: 'user', spec: { name: 'u', tags: [] } })).rejects.toBeInstanceOf(
      UnsupportedFeatureError,
    );
    // Queue expiry is not the memory store's: a policy setting it would be a limit silently ignored.
    await expect(broker?.put({ kind: 'policy', spec: policy({ expires: 1000 }) })).rejects.toBeInstanceOf(
      UnsupportedFeatureError,
    );
    await expect(
      broker?.put({ kind: 'operator-policy', spec: policy({ overflow: 'drop-head' }, { operator: true }) }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(broker?.put({ kind: 'policy', spec: policy({}, { pattern: '(' }) })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect((await broker?.list())?.policies).toEqual([]);
    await transport.close();
  });

  it('keeps a policy and an operator policy of the same name apart', async () => {
    const transport = await open();
    const broker = transport.admin.broker;
    await broker?.put({ kind: 'policy', spec: policy({ 'max-length': 5 }) });
    await broker?.put({ kind: 'operator-policy', spec: policy({ 'max-length': 2 }, { operator: true }) });
    expect((await broker?.list())?.policies.map((p) => p.operator).sort()).toEqual([false, true]);
    await broker?.delete({ kind: 'operator-policy', spec: policy({}, { operator: true }) });
    expect((await broker?.list())?.policies.map((p) => p.operator)).toEqual([false]);
    await transport.close();
  });

  it('re-files ready messages under a new maxPriority in place (what the old one clamped comes first now)', async () => {
    const transport = await open();
    const spec = {
      name: 'q',
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
      maxPriority: 2,
    } as const;
    await transport.admin.declareQueue(spec);
    for (const priority of [0, 5, 1, 9]) {
      await transport.publish(
        { body: Buffer.from(String(priority)), properties: { priority } },
        { exchange: '', routingKey: 'q' },
      );
    }
    const journal = { read: async () => undefined, write: async () => {}, clear: async () => {} };
    const report = await transport.admin.migrateQueue({
      from: spec,
      to: { ...spec, maxPriority: 10 },
      bindings: [],
      journal,
    });
    expect(report).toEqual({ queue: 'q', inPlace: true, moved: 0, duplicatesDropped: 0, resumed: false });
    const order: string[] = [];
    for (let m = await transport.get('q', { noAck: true }); m; m = await transport.get('q', { noAck: true })) {
      order.push(m.body.toString());
    }
    expect(order).toEqual(['9', '5', '1', '0']);
    await transport.close();
  });
});
