/**
 * How Wakame's claims on kombu's tables meet kombu's own consumers, on PostgreSQL and on MariaDB: Wakame marks a
 * message invisible when it claims it (with a row in its own `<prefix>kombu_claims` naming its owner), deletes it on
 * ack, and makes it visible again in its original place on requeue or when its owner's lease lapsed; kombu consumers
 * take what Wakame put back. Wakame consumers and a kombu consumer draining one queue at once deliver every message
 * exactly once. kombu's own consumers leave their consumed rows behind, invisible, and Wakame never touches them.
 *
 * A fresh schema (PostgreSQL) or database (MariaDB) per suite, dropped afterwards (`kombu/peer.ts`). Gated on the
 * database and the kombu peer.
 */
import { Exchange, Queue } from '@wakame/core';
import { within } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';
import { HOOK_TIMEOUT_MS } from '../kombu-common/peer.js';
import { OP_TIMEOUT_MS, wakameConsume, wakamePublishAll, withWakame } from '../kombu-common/wakame.js';
import { freshTables, type KombuDrain, kombuRows, kombuSqlSuite, runPeer, TARGETS } from './kombu/peer.js';

const suites = await Promise.all(TARGETS.map((target) => kombuSqlSuite('kombu claims', target)));

for (const [i, target] of TARGETS.entries()) {
  const suite = suites[i];
  if (suite === undefined) continue;

  describe.skipIf(!suite.run)(`Wakame’s claims on kombu’s tables, ${target.name}`, () => {
    const tables = freshTables(target, suite.run);
    const exchange = new Exchange('claims.x', { type: 'direct' });
    let n = 0;
    const fresh = () => {
      const name = `claims.q${++n}`;
      return new Queue(name, { exchange, routingKey: name });
    };
    const publish = (queue: Queue, count: number) =>
      wakamePublishAll(
        tables().wakameUrl,
        exchange,
        [exchange, queue],
        Array.from({ length: count }, (_, seq) => ({
          body: { seq },
          options: { routingKey: queue.name, headers: { 'x-seq': seq } },
        })),
      );
    const kombuDrain = (queue: Queue, mode = 'drain', timeout = '3') =>
      runPeer<KombuDrain>(
        ['consume', '--url', tables().kombuUrl, '--exchange', exchange.name, '--queue', queue.name].concat([
          '--routing-key',
          queue.name,
          '--mode',
          mode,
          '--timeout',
          timeout,
        ]),
        90_000,
      );
    const rowsOf = async (queue: Queue) => (await kombuRows(tables())).filter((r) => r.queue === queue.name);

    it(
      'a claim makes the row invisible and records its owner; an ack deletes both',
      async () => {
        const queue = fresh();
        await publish(queue, 1);
        await withWakame(tables().wakameUrl, async (conn) => {
          const message = await within(OP_TIMEOUT_MS, 'get', queue.attach(conn).get());
          if (message === undefined) throw new Error('no message');
          const [row] = await rowsOf(queue);
          expect([row?.visible, row?.timestamp === null, row?.version]).toEqual([false, false, 2]);
          const claims = await tables().query('SELECT message_id, owner FROM %s.wakame_kombu_claims');
          expect(claims.map((c) => Number(c.message_id))).toEqual([row?.id]);
          await message.ack();
        });
        expect(await rowsOf(queue)).toEqual([]);
        expect(await tables().query('SELECT message_id FROM %s.wakame_kombu_claims')).toEqual([]);
      },
      HOOK_TIMEOUT_MS,
    );

    it(
      'a Wakame requeue puts the row back in its place, marked redelivered, and kombu takes it first',
      async () => {
        const queue = fresh();
        await publish(queue, 3);
        await withWakame(tables().wakameUrl, async (conn) => {
          const message = await within(OP_TIMEOUT_MS, 'get', queue.attach(conn).get());
          expect(message?.headers['x-seq']).toBe(0);
          await message?.reject({ requeue: true });
        });
        const rows = await rowsOf(queue);
        expect(rows.map((r) => [r.visible, r.timestamp])).toEqual([
          [true, null],
          [true, null],
          [true, null],
        ]);
        const drained = await kombuDrain(queue, 'get');
        expect(drained.errors).toEqual([]);
        expect(drained.messages.map((m) => m.headers['x-seq'])).toEqual([0, 1, 2]);
        expect(drained.messages.map((m) => m.delivery_info.redelivered ?? null)).toEqual([true, null, null]);
      },
      HOOK_TIMEOUT_MS,
    );

    it(
      'a claim whose owner’s lease lapsed comes back (redelivered); rows kombu consumed are left alone',
      async () => {
        const queue = fresh();
        await publish(queue, 2);
        const [first, second] = await rowsOf(queue);
        // A dead Wakame process's claim (an owner with no row in wakame_owners), and a row kombu consumed.
        await tables().query('UPDATE %s.kombu_message SET visible = FALSE WHERE id IN (?, ?)', [first?.id, second?.id]);
        await tables().query("INSERT INTO %s.wakame_kombu_claims (message_id, owner) VALUES (?, 'dead-owner')", [
          first?.id,
        ]);
        // Opening sweeps lapsed claims; the message is back in its place, marked redelivered.
        await withWakame(tables().wakameUrl, async (conn) => {
          const message = await within(OP_TIMEOUT_MS, 'get', queue.attach(conn).get());
          expect([message?.headers['x-seq'], message?.redelivered]).toEqual([0, true]);
          await message?.ack();
          expect(await within(OP_TIMEOUT_MS, 'get', queue.attach(conn).get())).toBeUndefined();
        });
        expect((await rowsOf(queue)).map((r) => [r.id, r.visible])).toEqual([[second?.id, false]]);
      },
      HOOK_TIMEOUT_MS,
    );

    it(
      'three Wakame consumers and a kombu consumer on one queue deliver each of 150 messages exactly once',
      async () => {
        const queue = fresh();
        await publish(queue, 150);
        const [kombu, ...wakame] = await Promise.all([
          kombuDrain(queue, 'drain', '6'),
          ...[1, 2, 3].map(() => wakameConsume(tables().wakameUrl, queue, 150, { prefetch: 5, waitMs: 5_000 })),
        ]);
        const seqs = [
          ...(kombu?.messages ?? []).map((m) => Number(m.headers['x-seq'])),
          ...wakame.flatMap((w) => w.views.map((v) => Number(v.headers['x-seq']))),
        ].sort((a, b) => a - b);
        expect(seqs).toEqual(Array.from({ length: 150 }, (_, k) => k));
        // Wakame's acks deleted its rows; kombu's consumed rows stay, invisible (kombu never deletes them).
        const left = await rowsOf(queue);
        expect(left.every((r) => r.visible === false)).toBe(true);
        expect(left).toHaveLength(kombu?.messages.length ?? 0);
      },
      HOOK_TIMEOUT_MS,
    );
  });
}
