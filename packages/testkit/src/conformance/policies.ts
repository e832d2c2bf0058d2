/**
 * Policies and operator policies (RabbitMQ's precedence: highest-priority matching policy; the queue's
 * own argument wins, except for limits, where the lowest of argument, policy and operator policy
 * wins), and loss-free queue migration. Gated on `brokerEntities` / `policyKeys` / `queueMigration`,
 * and written against the transport's own `admin.broker` and `admin.migrateQueue`, never a store.
 *
 * Every policy a test puts matches only that test's queue (its pattern is the queue's name) and is
 * deleted after the test, so the suite can run against a shared broker.
 *
 * @module
 */
import { type Capabilities, type Connection, PublishRejectedError, type Queue } from '@wakame/core';
import type { BindingSpec, BrokerEntity, BrokerEntityAdmin, MigrationJournal, QueueSpec } from '@wakame/core/spi';
import { afterEach, describe, expect } from 'vitest';
import { expectRejection, type Harness, idOf, must } from './harness.js';

/** A policy or operator policy entity. */
type PolicyEntity = Extract<BrokerEntity, { kind: 'policy' | 'operator-policy' }>;

/** The policy keys a test needs, beside the `policy` entity kind. */
function policies(...keys: string[]): { needs: (c: Capabilities) => boolean } {
  return {
    needs: (c) => (c.brokerEntities?.has('policy') ?? false) && keys.every((k) => c.policyKeys?.has(k) ?? false),
  };
}

/** A regular expression matching exactly `name`. */
function only(name: string): string {
  return `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

/** A journal in memory: enough for a migration that runs to its end in one process. */
function memoryJournal(): MigrationJournal & { readonly writes: Record<string, unknown>[] } {
  let state: Readonly<Record<string, unknown>> | undefined;
  const writes: Record<string, unknown>[] = [];
  return {
    writes,
    read: async () => state,
    write: async (next) => {
      state = next;
      writes.push({ ...next });
    },
    clear: async () => {
      state = undefined;
    },
  };
}

/** The live record of queue `name` as a plain spec (no counts). */
async function liveQueue(connection: Connection, name: string): Promise<QueueSpec> {
  const observed = must(
    (await connection.admin.inspect()).queues.find((q) => q.name === name),
    `queue ${name}`,
  ) as QueueSpec & { messageCount?: number; consumerCount?: number };
  const { messageCount: _m, consumerCount: _c, ...spec } = observed;
  return spec;
}

/** Policies, operator policies and queue migration. */
export function policiesSuite(h: Harness): void {
  describe('policies and queue migration', () => {
    const cleanup: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      for (const undo of cleanup.splice(0).reverse()) await undo().catch(() => undefined);
    });

    /** The transport's broker admin of `connection`. */
    function brokerOf(connection: Connection): BrokerEntityAdmin {
      return must(connection.transport.admin.broker, 'admin.broker');
    }

    /** Puts a policy (or operator policy) matching only `queue`; deleted after the test. */
    async function putPolicy(
      connection: Connection,
      queue: Queue | string,
      definition: Record<string, unknown>,
      options: { operator?: boolean; priority?: number; name?: string; vhost?: string } = {},
    ): Promise<PolicyEntity> {
      const broker = brokerOf(connection);
      const entity: PolicyEntity = {
        kind: options.operator ? 'operator-policy' : 'policy',
        spec: {
          name: options.name ?? h.name('policy'),
          operator: options.operator ?? false,
          pattern: only(typeof queue === 'string' ? queue : queue.name),
          applyTo: 'queues',
          priority: options.priority ?? 0,
          definition,
          ...(options.vhost !== undefined ? { vhost: options.vhost } : {}),
        },
      };
      await broker.put(entity);
      cleanup.push(() => broker.delete(entity));
      return entity;
    }

    /** Publishes `{ id }` for each id, in order, to `queue` by the default exchange. */
    async function publish(connection: Connection, queue: Queue, ids: readonly number[]): Promise<void> {
      const producer = connection.producer();
      for (const id of ids) await producer.publish({ id }, { routingKey: queue.name });
    }

    h.test(
      'lists a policy it was given, with its vhost, and forgets it once deleted',
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn);
        const broker = brokerOf(conn);
        const entity = await putPolicy(conn, queue, { 'max-length': 4 }, { priority: 3 });
        const listed = (await broker.list()).policies.find((p) => p.name === entity.spec.name);
        expect(listed).toMatchObject({ ...entity.spec, vhost: broker.vhost });
        await broker.delete(entity);
        expect((await broker.list()).policies.some((p) => p.name === entity.spec.name)).toBe(false);
      },
      policies('max-length'),
    );

    h.test(
      "expires messages by a policy's message-ttl and dead-letters them by its dead-letter keys",
      async () => {
        const conn = await h.open();
        const { dlq, deadLetter } = await h.deadLetterQueue(conn);
        const queue = await h.queue(conn);
        await putPolicy(conn, queue, {
          'message-ttl': 5,
          'dead-letter-exchange': deadLetter.exchange,
          'dead-letter-routing-key': deadLetter.routingKey,
        });
        await publish(conn, queue, [1]);
        const dead = await h.collect(conn, dlq);
        const [message] = await dead.waitForCount(1);
        expect(idOf(must(message))).toBe(1);
        expect(must(message).headers['x-first-death-reason']).toBe('expired');
        expect(must(message).headers['x-first-death-queue']).toBe(queue.name);
      },
      policies('message-ttl', 'dead-letter-exchange', 'dead-letter-routing-key'),
    );

    h.test(
      "drops the oldest messages beyond a policy's max-length",
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn);
        await putPolicy(conn, queue, { 'max-length': 2 });
        await publish(conn, queue, [1, 2, 3, 4]);
        expect((await h.drain(queue)).map(idOf)).toEqual([3, 4]);
      },
      policies('max-length'),
    );

    h.test(
      "refuses publishes beyond a policy's max-length with its overflow 'reject-publish'",
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn);
        await putPolicy(conn, queue, { 'max-length': 1, overflow: 'reject-publish' });
        await publish(conn, queue, [1]);
        await expectRejection(
          conn.producer().publish({ id: 2 }, { routingKey: queue.name }),
          PublishRejectedError,
          'ERR_PUBLISH_REJECTED',
        );
        expect((await h.drain(queue)).map(idOf)).toEqual([1]);
      },
      { needs: (c) => policies('max-length', 'overflow').needs(c) && c.confirms },
    );

    h.test(
      'lets the lower of argument and policy win for a limit, either way round',
      async () => {
        const conn = await h.open();
        const lowerArgument = await h.queue(conn, { maxLength: 1 });
        const lowerPolicy = await h.queue(conn, { maxLength: 5 });
        await putPolicy(conn, lowerArgument, { 'max-length': 3 });
        await putPolicy(conn, lowerPolicy, { 'max-length': 2 });
        await publish(conn, lowerArgument, [1, 2, 3, 4]);
        await publish(conn, lowerPolicy, [1, 2, 3, 4]);
        expect((await h.drain(lowerArgument)).map(idOf)).toEqual([4]);
        expect((await h.drain(lowerPolicy)).map(idOf)).toEqual([3, 4]);
      },
      policies('max-length'),
    );

    h.test(
      "lets the queue's own argument win over the policy for overflow",
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn, { maxLength: 1, overflow: 'reject-publish' });
        await putPolicy(conn, queue, { overflow: 'drop-head' });
        await publish(conn, queue, [1]);
        await expectRejection(
          conn.producer().publish({ id: 2 }, { routingKey: queue.name }),
          PublishRejectedError,
          'ERR_PUBLISH_REJECTED',
        );
        expect((await h.drain(queue)).map(idOf)).toEqual([1]);
      },
      { needs: (c) => policies('overflow').needs(c) && c.maxLength && c.confirms },
    );

    h.test(
      'caps argument and policy with an operator policy (the lowest limit wins)',
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn, { maxLength: 10 });
        await putPolicy(conn, queue, { 'max-length': 8 });
        await putPolicy(conn, queue, { 'max-length': 2 }, { operator: true });
        await publish(conn, queue, [1, 2, 3, 4]);
        expect((await h.drain(queue)).map(idOf)).toEqual([3, 4]);
      },
      {
        needs: (c) => policies('max-length').needs(c) && (c.brokerEntities?.has('operator-policy') ?? false),
      },
    );

    h.test(
      'applies the matching policy of highest priority when several overlap',
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn);
        await putPolicy(conn, queue, { 'max-length': 1 }, { priority: 1 });
        await putPolicy(conn, queue, { 'max-length': 3 }, { priority: 2 });
        await publish(conn, queue, [1, 2, 3, 4]);
        expect((await h.drain(queue)).map(idOf)).toEqual([2, 3, 4]);
      },
      policies('max-length'),
    );

    h.test(
      'applies a policy put, changed or deleted after the queue was declared, without redeclaring it',
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn);
        const entity = await putPolicy(conn, queue, { 'max-length': 1 });
        await publish(conn, queue, [1, 2]);
        expect((await h.drain(queue)).map(idOf)).toEqual([2]);
        await brokerOf(conn).put({ ...entity, spec: { ...entity.spec, definition: { 'max-length': 2 } } });
        await publish(conn, queue, [3, 4, 5]);
        expect((await h.drain(queue)).map(idOf)).toEqual([4, 5]);
        await brokerOf(conn).delete(entity);
        await publish(conn, queue, [6, 7, 8]);
        expect((await h.drain(queue)).map(idOf)).toEqual([6, 7, 8]);
      },
      policies('max-length'),
    );

    h.test(
      'ignores a policy of another vhost',
      async () => {
        const conn = await h.open();
        const queue = await h.queue(conn);
        const broker = brokerOf(conn);
        const vhost = h.name('vhost');
        if (h.caps.brokerEntities?.has('vhost')) {
          // A broker with real vhosts wants the vhost to exist before a policy names it.
          const entity: BrokerEntity = { kind: 'vhost', spec: { name: vhost, tags: [] } };
          await broker.put(entity);
          cleanup.unshift(() => broker.delete(entity));
        }
        await putPolicy(conn, queue, { 'max-length': 1 }, { vhost });
        await publish(conn, queue, [1, 2, 3]);
        expect((await h.drain(queue)).map(idOf)).toEqual([1, 2, 3]);
      },
      policies('max-length'),
    );

    migrationCases(h);
  });
}

/** How many messages the migration test holds in the queue, and how many a publisher adds meanwhile. */
const HELD = 10_000;
const DURING = 500;

function migrationCases(h: Harness): void {
  h.test(
    'migrates a queue of 10,000 messages to a new maxPriority while a publisher publishes: every message exactly once, the new settings live everywhere',
    async () => {
      const conn = await h.open();
      const exchange = await h.exchange(conn, { type: 'direct' });
      const queue = await h.queue(conn, { maxPriority: 5, exchange, routingKey: 'old' });
      const producer = conn.producer();
      const publishBatch = async (prefix: string, from: number, to: number) => {
        const sends: Promise<void>[] = [];
        for (let i = from; i < to; i++) {
          sends.push(
            producer.publish({ id: i }, { routingKey: queue.name, messageId: `${prefix}${i}`, priority: i % 11 }),
          );
        }
        await Promise.all(sends);
      };
      for (let i = 0; i < HELD; i += 1000) await publishBatch('held-', i, i + 1000);
      await h.waitForMessageCount(queue, HELD, 60_000);

      const from = await liveQueue(conn, queue.name);
      const to: QueueSpec = { ...from, maxPriority: 10 };
      const binding: BindingSpec = {
        source: exchange.name,
        destination: queue.name,
        destinationType: 'queue',
        routingKey: 'new',
        arguments: {},
      };
      // A second connection publishes one by one (a bounded count), started together with the migration.
      const publisher = await h.open();
      const journal = memoryJournal();
      const migrate = must(conn.transport.admin.migrateQueue, 'admin.migrateQueue');
      const migrating = migrate.call(conn.transport.admin, { from, to, bindings: [binding], journal });
      const during = (async () => {
        const other = publisher.producer();
        for (let i = 0; i < DURING; i++) {
          await other.publish({ id: i }, { routingKey: queue.name, messageId: `during-${i}`, priority: i % 11 });
        }
      })();
      const [report] = await Promise.all([migrating, during]);
      expect(report).toMatchObject({ queue: queue.name, resumed: false });
      expect(journal.writes.length).toBeGreaterThan(0);
      expect(await journal.read()).toBeUndefined();

      // The new settings, seen by this connection and by another one sharing the broker.
      const observer = await h.open();
      for (const c of [conn, observer]) {
        const topology = await c.admin.inspect();
        expect(topology.queues.find((q) => q.name === queue.name)?.maxPriority).toBe(10);
        expect(
          topology.bindings
            .filter((b) => b.destination === queue.name && b.source === exchange.name)
            .map((b) => b.routingKey),
        ).toEqual(['new']);
      }

      const total = HELD + DURING;
      await h.waitForMessageCount(queue, total, 60_000);
      // By name: the Queue object still declares maxPriority 5, and a consumer of it would redeclare that.
      const collector = await h.collect(conn, queue.name, { prefetch: 500 });
      const messages = await collector.waitForCount(total, 60_000);
      const ids = messages.map((m) => must(m.properties.messageId, 'messageId'));
      expect(ids).toHaveLength(total);
      expect(new Set(ids).size).toBe(total);
      // Re-filed under the new maximum: what the old one clamped to 5 now comes first.
      expect(must(messages[0]).properties.priority).toBeGreaterThan(5);
      await collector.consumer.cancel();
      expect(await queue.messageCount()).toBe(0);
    },
    { needs: (c) => (c.queueMigration ?? false) && c.priority, timeout: 180_000 },
  );
}
