/**
 * Priorities across the kombu ⇄ Wakame boundary through a real Redis, both directions, with the keys and the
 * consumption order (the peer is `kombu/kombu_redis_peer.py`).
 *
 * The rule (in full in `kombu/mapping.ts`): kombu consumes *lower* kombu priorities first, from one list per step
 * (`<queue>`, `<queue>\x06\x163`, `\x06\x166`, `\x06\x169`). On a queue with `maxPriority`, a Wakame priority p is
 * written as kombu priority `9 - min(p, 9)` into the list of that value's step, and a Wakame message *without* a
 * priority is priority 0 (RabbitMQ's rule: no priority is the lowest): kombu priority 9, in `<queue>\x06\x169`, with
 * `"wakame": {"priority": null}` so that Wakame reads it back as none; a kombu peer therefore consumes it after
 * kombu's own default-priority (0) messages. On a queue without `maxPriority` every message goes to the bare
 * `<queue>` with `"priority": 0` (and a `wakame.priority` entry only where 0 would not read back exactly), consumed
 * in publish order. Always, the list a message sits in is the one its envelope's kombu priority names. kombu's
 * priority 0 reads as no priority in Wakame, k > 0 as 9 - k.
 *
 * Redis database 13 (flushed before and after). Gated on Redis and the kombu peer (`kombu/suite.ts`).
 */
import { Exchange, Queue } from '@wakame/core';
import { redisUrl } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';
import type { Publish } from '../kombu-common/wakame.js';
import { onlyViews, wakameConsume, wakameDeclare, wakameGetAll, wakamePublishAll } from '../kombu-common/wakame.js';
import { ABSENT, wakamePriorityEntry, wakamePriorityOf } from './kombu/mapping.js';
import type { Envelope, KombuDrain, Sent } from './kombu/peer.js';
import { dumpKeys, kombuListKey, listItems, queueArgs, runPeer, SEP, seqOf } from './kombu/peer.js';
import { flushAround, kombuSuite, uniqueBase } from './kombu/suite.js';

const URL = redisUrl(13);
const suite = await kombuSuite('kombu ⇄ Wakame priorities over Redis', 13);

/** Indices of `published` in the order a priority consumer must deliver them (stable within a priority). */
function expectedOrder(published: readonly number[], rank: (p: number) => number): number[] {
  return published
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
    .map(({ i }) => i);
}

/**
 * Where the messages of `queue` sit: by list (keys sorted, so the bare `<queue>` first), oldest first within a list;
 * the list as its suffix in JSON (so that \x06\x16 shows), the envelope's kombu priority and `wakame.priority` entry.
 */
async function placement(queue: string) {
  const keys = await dumpKeys(URL, `${queue}*`);
  return [...keys.keys()].sort().flatMap((key) =>
    listItems(keys, key)
      .reverse()
      .map((raw) => {
        const env = JSON.parse(raw) as Envelope;
        return {
          seq: seqOf(env.headers),
          list: JSON.stringify(key.slice(queue.length)),
          kombuPriority: env.properties.priority,
          wakamePriority: wakamePriorityEntry(env.properties),
        };
      }),
  );
}

/** The list suffixes of kombu steps, as JSON. */
const BARE = JSON.stringify('');
const STEP9 = JSON.stringify(`${SEP}9`);

describe.skipIf(!suite.run)('kombu ⇄ Wakame priorities over Redis', () => {
  const base = uniqueBase();
  const exchange = new Exchange(`${base}.x`, { type: 'direct' });

  /** A queue bound with its name, with `maxPriority` 9 unless `flat`. */
  function priorityQueue(name: string, flat = false): Queue {
    return new Queue(name, { exchange, routingKey: name, ...(flat ? {} : { maxPriority: 9 }) });
  }

  /** Publishes, in order, one message per Wakame priority (`undefined`: none), with `x-seq` its index. */
  async function publishSeq(queue: Queue, priorities: readonly (number | undefined)[]): Promise<void> {
    const messages: Publish[] = priorities.map((priority, seq) => ({
      body: { seq, priority: priority ?? null },
      options: { routingKey: queue.name, headers: { 'x-seq': seq }, ...(priority === undefined ? {} : { priority }) },
    }));
    await wakamePublishAll(URL, exchange, [exchange, queue], messages);
  }

  function kombuDrain(queue: string, count: number, extra: readonly string[] = [], maxPriority = 9) {
    // `--count` ends the drain once all are in; the timeout only bounds a failure (and a slow peer start).
    const args = ['--count', String(count), '--timeout', '20', ...extra];
    return runPeer<KombuDrain>(['consume', ...queueArgs(URL, exchange.name, queue, { maxPriority, extra: args })]);
  }

  flushAround(URL);

  /** Wakame priorities, interleaved; Wakame 9 → bare list, 5 → step 3, 1 → step 6, 0 → step 9. */
  const WAKAME_ORDER = [0, 1, 5, 9, 1, 0, 9, 5, 5, 9, 0, 1];
  const STEP_OF_WAKAME: Readonly<Record<number, string>> = { 9: '', 5: `${SEP}3`, 1: `${SEP}6`, 0: `${SEP}9` };

  it.each(['drain', 'get'] as const)(
    'Wakame publishes 9/5/1/0 interleaved: stored with kombu priority 9 - p, kombu (%s) consumes 9s, 5s, 1s, 0s',
    async (mode) => {
      const name = `${base}.prio.w2k.${mode}`;
      await publishSeq(priorityQueue(name), WAKAME_ORDER);
      const layout = await placement(name);
      expect(
        layout.map(({ seq, list, kombuPriority }) => ({ seq, list, kombuPriority })),
        'by list, oldest first',
      ).toEqual(
        [9, 5, 1, 0].flatMap((p) =>
          WAKAME_ORDER.flatMap((q, seq) =>
            q === p ? [{ seq, list: JSON.stringify(STEP_OF_WAKAME[p]), kombuPriority: 9 - p }] : [],
          ),
        ),
      );

      const drained = await kombuDrain(name, WAKAME_ORDER.length, ['--mode', mode]);
      expect(drained.errors).toEqual([]);
      const order = expectedOrder(WAKAME_ORDER, (p) => [9, 5, 1, 0].indexOf(p));
      expect(drained.messages.map((m) => seqOf(m.headers))).toEqual(order);
      expect(drained.messages.map((m) => m.properties.priority)).toEqual(order.map((i) => 9 - (WAKAME_ORDER[i] ?? 0)));
    },
  );

  it('a Wakame message without a priority is priority 0: kombu priority 9 in <queue>\\x06\\x169, read back as none', async () => {
    const queue = priorityQueue(`${base}.prio.unset`);
    await publishSeq(queue, [undefined, 9, 0]);
    const placed = await placement(queue.name);
    expect(placed).toEqual([
      { seq: 1, list: BARE, kombuPriority: 0, wakamePriority: 9 },
      { seq: 0, list: STEP9, kombuPriority: 9, wakamePriority: null },
      { seq: 2, list: STEP9, kombuPriority: 9, wakamePriority: ABSENT },
    ]);
    // kombu's invariant, whatever the rule: each sits in the list its envelope's kombu priority names.
    expect(placed.map((p) => p.list)).toEqual(
      placed.map((p) =>
        p.kombuPriority === undefined ? 'no priority' : JSON.stringify(kombuListKey('', p.kombuPriority)),
      ),
    );
    // Wakame: the 9 first, then the unset one (read as none) and the 0, in publish order.
    const views = onlyViews(await wakameGetAll(URL, queue, 3));
    expect(views.map((v) => [seqOf(v.headers), v.properties.priority])).toEqual([
      [1, 9],
      [0, undefined],
      [2, 0],
    ]);
  });

  it.each(['kombu', 'Wakame'] as const)(
    'kombu’s default-priority message is consumed (by %s) before an earlier Wakame message without a priority',
    async (consumer) => {
      const queue = priorityQueue(`${base}.prio.mixed.${consumer}`);
      await publishSeq(queue, [undefined]);
      await runPeer<Sent[]>([
        'publish',
        ...queueArgs(URL, exchange.name, queue.name, { extra: ['--variants', 'str_body,priority_9'] }),
      ]);
      const want = [
        ['plain text ✓', 0, undefined],
        [{ seq: 0, priority: null }, 9, undefined],
        [{ n: 109, priority: 9 }, 9, 0],
      ];
      if (consumer === 'kombu') {
        const drained = await kombuDrain(queue.name, 3);
        expect(drained.errors).toEqual([]);
        expect(drained.messages.map((m) => [m.payload, m.properties.priority])).toEqual(want.map(([p, k]) => [p, k]));
      } else {
        const views = onlyViews(await wakameGetAll(URL, queue, 3));
        expect(views.map((v) => [v.payload, v.properties.priority])).toEqual(want.map(([p, , w]) => [p, w]));
      }
    },
  );

  it.each(['kombu', 'Wakame'] as const)(
    'a queue without maxPriority: every Wakame message in the bare list with kombu priority 0, %s consumes in order',
    async (consumer) => {
      const queue = priorityQueue(`${base}.prio.flat.${consumer}`, true);
      const priorities = [undefined, 9, 5, 0, 1];
      await publishSeq(queue, priorities);
      expect(await placement(queue.name)).toEqual(
        priorities.map((p, seq) => ({ seq, list: BARE, kombuPriority: 0, wakamePriority: p ?? ABSENT })),
      );
      if (consumer === 'kombu') {
        const drained = await kombuDrain(queue.name, priorities.length, [], 0);
        expect(drained.errors).toEqual([]);
        expect(drained.messages.map((m) => [seqOf(m.headers), m.properties.priority])).toEqual(
          priorities.map((_, seq) => [seq, 0]),
        );
      } else {
        const views = onlyViews(await wakameGetAll(URL, queue, priorities.length));
        expect(views.map((v) => [seqOf(v.headers), v.properties.priority])).toEqual(
          priorities.map((p, seq) => [seq, p]),
        );
      }
    },
  );

  /** kombu priorities, interleaved. */
  const KOMBU_ORDER = [9, 0, 6, 3, 3, 9, 0, 6, 6, 3, 9, 0];

  it.each(['get', 'consumer'] as const)(
    'kombu publishes 0/3/6/9 interleaved: Wakame (%s) consumes 0s (priority undefined), 3s (6), 6s (3), 9s (0)',
    async (how) => {
      const queue = priorityQueue(`${base}.prio.k2w.${how}`);
      await wakameDeclare(URL, exchange, queue);
      const variants = KOMBU_ORDER.map((k) => `priority_${k}`).join(',');
      const extra = ['--seq', '--variants', variants];
      const sent = await runPeer<Sent[]>(['publish', ...queueArgs(URL, exchange.name, queue.name, { extra })]);
      expect(sent.map((s) => s.pushed.map((p) => p.key))).toEqual(
        KOMBU_ORDER.map((k) => [kombuListKey(queue.name, k)]),
      );
      const views =
        how === 'get'
          ? onlyViews(await wakameGetAll(URL, queue, KOMBU_ORDER.length))
          : (await wakameConsume(URL, queue, KOMBU_ORDER.length, { prefetch: 1 })).views;
      const order = expectedOrder(KOMBU_ORDER, (k) => k);
      expect(views.map((v) => seqOf(v.headers))).toEqual(order);
      expect(views.map((v) => v.properties.priority)).toEqual(order.map((i) => wakamePriorityOf(KOMBU_ORDER[i] ?? 0)));
      expect(views.map((v) => v.payload)).toEqual(
        order.map((i) => ({ n: 100 + (KOMBU_ORDER[i] ?? 0), priority: KOMBU_ORDER[i] })),
      );
    },
  );
});
