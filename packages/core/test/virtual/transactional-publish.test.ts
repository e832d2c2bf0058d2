/**
 * Publishing in the application's own database transaction, as the virtual transport carries it to
 * a store: every copy goes to the store with the caller's transaction, nothing takes the fast paths,
 * retries are off, and transports and stores that cannot do it say so. The SQL stores' own tests
 * prove commit and rollback against the real databases; here a store that buffers puts per
 * transaction stands in for one.
 */
import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import { TaskClient } from '../../src/tasks/client.js';
import { TransportRegistry } from '../../src/transport/registry.js';
import type { TransportFactory } from '../../src/transport/spi.js';
import { MemoryStore } from '../../src/virtual/memory-store.js';
import type { PutOptions, StoredMessage, VirtualStore } from '../../src/virtual/store.js';
import { VirtualTransport } from '../../src/virtual/virtual-transport.js';

/** An application transaction: puts made in it reach the store on commit, never on rollback. */
class FakeTransaction {
  readonly pending: (() => Promise<void>)[] = [];
  async commit(): Promise<void> {
    for (const put of this.pending.splice(0)) await put();
  }
  rollback(): void {
    this.pending.length = 0;
  }
}

/** A memory store that writes puts given a {@link FakeTransaction} only when it commits. */
function transactionalStore(): VirtualStore {
  const store = new MemoryStore();
  return new Proxy(store, {
    get(target, property) {
      if (property === 'features') return { ...target.features, transactionalPut: true };
      // The accelerator would bypass `put`: a database-backed store has none.
      if (property === 'immediate') return undefined;
      if (property === 'put')
        return async (queue: string, message: StoredMessage, options?: PutOptions) => {
          if (options?.transaction instanceof FakeTransaction) {
            options.transaction.pending.push(() => target.put(queue, message));
            return;
          }
          await target.put(queue, message);
        };
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function open(store: () => VirtualStore): Promise<Connection> {
  const factory: TransportFactory = () => new VirtualTransport(store());
  const connection = await Connection.open('db://tx', {
    transports: new TransportRegistry([['db', async () => factory]]),
  });
  await connection.admin.declareExchange({
    name: 'orders',
    type: 'direct',
    durable: true,
    autoDelete: false,
    internal: false,
    arguments: {},
  });
  for (const name of ['placed', 'audit']) {
    await connection.admin.declareQueue({ name, durable: true, exclusive: false, autoDelete: false, arguments: {} });
    await connection.admin.bind({
      source: 'orders',
      destination: name,
      destinationType: 'queue',
      routingKey: 'placed',
      arguments: {},
    });
  }
  return connection;
}

describe('publishing in a database transaction', () => {
  it('writes every routed copy in the transaction: present after commit, absent after rollback', async () => {
    const connection = await open(transactionalStore);
    try {
      expect(connection.capabilities.transactionalPublish).toBe(true);
      const producer = connection.producer({ exchange: 'orders' });
      const committed = new FakeTransaction();
      await producer.publish({ order: 1 }, { routingKey: 'placed', transaction: committed });
      expect(
        await connection.admin.declareQueue(
          { name: 'placed', durable: true, exclusive: false, autoDelete: false, arguments: {} },
          { passive: true },
        ),
      ).toMatchObject({ messageCount: 0 });
      await committed.commit();
      for (const queue of ['placed', 'audit'])
        expect((await connection.getMessage(queue, { noAck: true }))?.payload).toEqual({ order: 1 });

      const rolledBack = new FakeTransaction();
      await producer.publish({ order: 2 }, { routingKey: 'placed', transaction: rolledBack });
      rolledBack.rollback();
      await rolledBack.commit();
      expect(await connection.getMessage('placed', { noAck: true })).toBeUndefined();
    } finally {
      await connection.close();
    }
  });

  it('sends a task in the transaction', async () => {
    const connection = await open(transactionalStore);
    try {
      const client = new TaskClient(connection, {
        exchanges: [{ name: 'orders', type: 'direct' }],
        queues: [{ name: 'placed', bindings: [{ exchange: 'orders', routingKey: 'placed' }] }],
        tasks: [{ name: 'order.ship' }],
        routes: [{ match: 'order.*', exchange: 'orders', routingKey: 'placed' }],
      });
      const tx = new FakeTransaction();
      await client.send('order.ship', { id: 9 }, { transaction: tx });
      expect(await connection.getMessage('placed', { noAck: true })).toBeUndefined();
      await tx.commit();
      expect((await connection.getMessage('placed', { noAck: true }))?.payload).toEqual({ id: 9 });
    } finally {
      await connection.close();
    }
  });

  it('is refused by a store without transactions, and for a queue with a length limit', async () => {
    const plain = await Connection.open('memory://tx-refused');
    try {
      await expect(
        plain.producer().publish({}, { routingKey: 'q', transaction: new FakeTransaction() }),
      ).rejects.toMatchObject({
        code: 'ERR_UNSUPPORTED_FEATURE',
        message: expect.stringContaining('publishing in a database transaction'),
      });
    } finally {
      await plain.close();
    }
    const connection = await open(transactionalStore);
    try {
      await connection.admin.declareQueue({
        name: 'capped',
        durable: true,
        exclusive: false,
        autoDelete: false,
        maxLength: 10,
        arguments: {},
      });
      await expect(
        connection.producer().publish({}, { routingKey: 'capped', transaction: new FakeTransaction() }),
      ).rejects.toThrow(/queue 'capped' has a length limit, which a transactional publish cannot keep/);
    } finally {
      await connection.close();
    }
  });
});
