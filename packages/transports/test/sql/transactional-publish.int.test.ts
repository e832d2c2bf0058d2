/**
 * Publishing in the application's own database transaction, against the real databases: the message
 * exists if and only if the application commits. A message that must never arrive is proven absent by
 * an event, not a sleep: a marker published after it (outside any transaction) is consumed, and the
 * queue is FIFO, so anything committed before the marker would have come first.
 */
import { randomBytes } from 'node:crypto';
import { Connection, InvalidArgumentError, InvalidOperationError, Queue, TaskClient } from '@wakame/core';
import { brokerGate, MYSQL_URL, POSTGRES_URL } from '@wakame/testkit';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

/** The application's side: its own pool, transactions on it, and one table of its own. */
interface AppDatabase {
  /** A transaction begun on a client of the application's pool. */
  begin(): Promise<AppTransaction>;
  /** Rows of the application's table. */
  orders(): Promise<number[]>;
  /** What a publish must refuse: the pool itself, a client in no transaction, the other driver's connection. */
  wrongHandles(): Promise<{ pool: unknown; idle: unknown; foreign: unknown; release(): Promise<void> }>;
  close(): Promise<void>;
}

interface AppTransaction {
  readonly handle: unknown;
  insertOrder(id: number): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

interface Target {
  readonly name: 'postgres' | 'mysql';
  readonly gate: 'run' | 'skip';
  /** A fresh broker (its own schema or prefix), and the application's database beside it. */
  fresh(): Promise<{ url: string; app: AppDatabase; drop(): Promise<void> }>;
}

const targets: Target[] = [
  {
    name: 'postgres',
    gate: await brokerGate('postgres transactional publish', { name: 'postgres', url: POSTGRES_URL }),
    async fresh() {
      const schema = `txpub_${randomBytes(4).toString('hex')}`;
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
      await pool.query(`CREATE SCHEMA ${schema}`);
      await pool.query(`CREATE TABLE ${schema}.app_orders (id integer PRIMARY KEY)`);
      const app: AppDatabase = {
        async begin() {
          const client = await pool.connect();
          await client.query('BEGIN');
          const end = async (sql: string) => {
            await client.query(sql);
            client.release();
          };
          return {
            handle: client,
            insertOrder: async (id) => void (await client.query(`INSERT INTO ${schema}.app_orders VALUES ($1)`, [id])),
            commit: () => end('COMMIT'),
            rollback: () => end('ROLLBACK'),
          };
        },
        async orders() {
          const { rows } = await pool.query(`SELECT id FROM ${schema}.app_orders ORDER BY id`);
          return rows.map((r: { id: number }) => r.id);
        },
        async wrongHandles() {
          const idle = await pool.connect();
          const foreign = await mysql.createConnection(MYSQL_URL).catch(() => ({ query: async () => [[]] }));
          return {
            pool,
            idle,
            foreign,
            async release() {
              idle.release();
              if ('end' in foreign) await foreign.end();
            },
          };
        },
        close: () => pool.end(),
      };
      return {
        url: `${POSTGRES_URL}?schema=${schema}`,
        app,
        async drop() {
          const client = new pg.Client({ connectionString: POSTGRES_URL });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
        },
      };
    },
  },
  {
    name: 'mysql',
    gate: await brokerGate('mysql transactional publish', { name: 'mysql', url: MYSQL_URL }),
    async fresh() {
      const prefix = `txpub_${randomBytes(4).toString('hex')}_`;
      const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 });
      await pool.query(`CREATE TABLE ${prefix}app_orders (id INT PRIMARY KEY) ENGINE=InnoDB`);
      const app: AppDatabase = {
        async begin() {
          const conn = await pool.getConnection();
          await conn.beginTransaction();
          return {
            handle: conn,
            insertOrder: async (id) => void (await conn.query(`INSERT INTO ${prefix}app_orders VALUES (?)`, [id])),
            commit: () => conn.commit().finally(() => conn.release()),
            rollback: () => conn.rollback().finally(() => conn.release()),
          };
        },
        async orders() {
          const [rows] = await pool.query<mysql.RowDataPacket[]>(`SELECT id FROM ${prefix}app_orders ORDER BY id`);
          return rows.map((r) => Number(r.id));
        },
        async wrongHandles() {
          const idle = await pool.getConnection();
          const foreign = new pg.Client({ connectionString: POSTGRES_URL });
          return {
            pool,
            idle,
            foreign,
            async release() {
              idle.release();
            },
          };
        },
        close: () => pool.end(),
      };
      return {
        url: `${MYSQL_URL}?prefix=${prefix}&poll_max=50`,
        app,
        async drop() {
          const tables = ['messages', 'records', 'owners', 'consumers', 'stacks', 'schema', 'app_orders'];
          const conn = await mysql.createConnection(MYSQL_URL);
          await conn
            .query(`DROP TABLE IF EXISTS ${tables.map((t) => prefix + t).join(', ')}`)
            .finally(() => conn.end());
        },
      };
    },
  },
];

/** Payloads a consumer received (and acked), and a wait for one. */
class Received {
  readonly payloads: unknown[] = [];
  readonly #waiters: { match: (p: unknown) => boolean; resolve: () => void }[] = [];

  add(payload: unknown): void {
    this.payloads.push(payload);
    for (const w of this.#waiters.filter((w) => w.match(payload))) w.resolve();
  }

  /** Resolves once a payload matching `match` arrived; rejects after `ms`. */
  until(match: (p: unknown) => boolean, ms = 10_000): Promise<void> {
    if (this.payloads.some(match)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`not received in ${ms} ms: ${JSON.stringify(this.payloads)}`)),
        ms,
      );
      this.#waiters.push({
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

const ORDERS = new Queue('orders', { durable: true });
const isMarker = (p: unknown) => (p as { marker?: boolean }).marker === true;

describe.each(targets)('publishing in a transaction on $name', (target) => {
  let broker: Awaited<ReturnType<Target['fresh']>>;
  let connection: Connection;
  let received: Received;

  beforeAll(async () => {
    if (target.gate === 'skip') return;
    broker = await target.fresh();
  });

  afterAll(async () => {
    if (target.gate === 'skip') return;
    await broker.app.close();
    await broker.drop();
  });

  beforeEach(async ({ skip }) => {
    if (target.gate === 'skip') skip();
    connection = await Connection.open(broker.url);
    await connection.declare(ORDERS);
    await connection.admin.purgeQueue('orders');
    received = new Received();
    await connection
      .consumer({
        queues: [ORDERS],
        prefetch: 10,
        handler: async (m) => {
          received.add(m.payload);
          await m.ack();
        },
      })
      .consume();
  });

  afterEach(async () => {
    await connection?.close();
  });

  /** Publishes a marker outside any transaction and waits for it: whatever committed before it has arrived too. */
  async function drained(): Promise<void> {
    const seen = received.payloads.filter(isMarker).length;
    await connection.producer({ routingKey: 'orders' }).publish({ marker: true });
    await received.until(() => received.payloads.filter(isMarker).length > seen);
  }

  it('delivers a message published in a committed transaction exactly once, after the commit', async () => {
    expect(connection.capabilities.transactionalPublish).toBe(true);
    const tx = await broker.app.begin();
    await connection.producer({ routingKey: 'orders' }).publish({ order: 1 }, { transaction: tx.handle });
    // Not before the commit: a marker published after it arrives alone.
    await drained();
    expect(received.payloads).toEqual([{ marker: true }]);
    await tx.commit();
    // The consumer was already waiting: on PostgreSQL the commit's NOTIFY wakes it (not the 10 s renewal).
    await received.until((p) => (p as { order?: number }).order === 1, 5_000);
    await drained();
    expect(received.payloads.filter((p) => !isMarker(p))).toEqual([{ order: 1 }]);
    expect(received.payloads).toHaveLength(3);
  });

  it('never delivers a message published in a rolled-back transaction', async () => {
    const tx = await broker.app.begin();
    await connection.producer({ routingKey: 'orders' }).publish({ order: 2 }, { transaction: tx.handle });
    await tx.rollback();
    await drained();
    expect(received.payloads).toEqual([{ marker: true }]);
  });

  it('sends a task in the transaction: delivered after commit, never after rollback', async () => {
    await connection.admin.declareExchange({
      name: 'shipping',
      type: 'direct',
      durable: true,
      autoDelete: false,
      internal: false,
      arguments: {},
    });
    await connection.admin.bind({
      source: 'shipping',
      destination: 'orders',
      destinationType: 'queue',
      routingKey: 'ship',
      arguments: {},
    });
    const client = new TaskClient(connection, {
      exchanges: [{ name: 'shipping', type: 'direct' }],
      queues: [{ name: 'orders', bindings: [{ exchange: 'shipping', routingKey: 'ship' }] }],
      tasks: [{ name: 'order.ship' }],
      routes: [{ match: 'order.*', exchange: 'shipping', routingKey: 'ship' }],
    });
    const kept = await broker.app.begin();
    await client.send('order.ship', { id: 9 }, { transaction: kept.handle });
    const dropped = await broker.app.begin();
    await client.send('order.ship', { id: 10 }, { transaction: dropped.handle });
    await dropped.rollback();
    await kept.commit();
    await drained();
    expect(JSON.stringify(received.payloads)).toContain('"id":9');
    expect(JSON.stringify(received.payloads)).not.toContain('"id":10');
    expect(received.payloads).toHaveLength(2);
  });

  it('commits the application row and the message together, or neither (the outbox use case)', async () => {
    const committed = await broker.app.begin();
    await committed.insertOrder(100);
    await connection.producer({ routingKey: 'orders' }).publish({ order: 100 }, { transaction: committed.handle });
    await committed.commit();
    const rolledBack = await broker.app.begin();
    await rolledBack.insertOrder(101);
    await connection.producer({ routingKey: 'orders' }).publish({ order: 101 }, { transaction: rolledBack.handle });
    await rolledBack.rollback();
    await drained();
    expect(await broker.app.orders()).toContain(100);
    expect(await broker.app.orders()).not.toContain(101);
    expect(received.payloads).toEqual([{ order: 100 }, { marker: true }]);
  });

  it('keeps two concurrent transactions apart: the committed one is delivered, the rolled-back one is not', async () => {
    const producer = connection.producer({ routingKey: 'orders' });
    const [a, b] = await Promise.all([broker.app.begin(), broker.app.begin()]);
    // Interleaved: each transaction writes twice, with the other's writes in between.
    await Promise.all([
      producer.publish({ order: 'a1' }, { transaction: a.handle }),
      producer.publish({ order: 'b1' }, { transaction: b.handle }),
    ]);
    await Promise.all([
      producer.publish({ order: 'a2' }, { transaction: a.handle }),
      producer.publish({ order: 'b2' }, { transaction: b.handle }),
      a.insertOrder(200),
      b.insertOrder(201),
    ]);
    await Promise.all([b.rollback(), a.commit()]);
    await drained();
    expect(received.payloads).toEqual([{ order: 'a1' }, { order: 'a2' }, { marker: true }]);
    expect(await broker.app.orders()).toContain(200);
    expect(await broker.app.orders()).not.toContain(201);
  });

  it('refuses what is not an open transaction of its driver, saying what it expected', async () => {
    const producer = connection.producer({ routingKey: 'orders' });
    const wrong = await broker.app.wrongHandles();
    try {
      const expected = target.name === 'postgres' ? /pg\.Client or pg\.PoolClient/ : /mysql2\/promise connection/;
      for (const handle of [wrong.pool, wrong.foreign, 'tx', { query: () => new Promise(() => {}) }]) {
        const publish = producer.publish({ order: 'wrong' }, { transaction: handle });
        await expect(publish).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(publish).rejects.toThrow(expected);
      }
      // A client in no transaction would commit the message at once.
      const idle = producer.publish({ order: 'idle' }, { transaction: wrong.idle });
      await expect(idle).rejects.toBeInstanceOf(InvalidOperationError);
      await expect(idle).rejects.toThrow(/in no transaction/);
    } finally {
      await wrong.release();
    }
    await drained();
    expect(received.payloads).toEqual([{ marker: true }]);
  });
});
