/**
 * Routing between kombu and Wakame through a real Redis (the peer is `kombu/kombu_redis_peer.py`):
 *
 * 1. Topic routing: a Wakame `a.#` binding is stored byte for byte as kombu stores it (kombu's regex included) and
 *    routes kombu's publishes; a kombu-bound topic queue receives Wakame's publish.
 * 2. kombu's PUB/SUB fanout: a Wakame exchange in the explicit `x-redis-fanout: pubsub` mode reaches a kombu
 *    consumer of a fanout exchange (Celery's broadcast), and stores nothing.
 * 3. `global_keyprefix`: both sides with the prefix `pfx:` exchange messages (with priorities, the rule of
 *    `kombu/mapping.ts`), and no unprefixed key is created.
 *
 * Redis databases 14 (topic routing) and 15 (`global_keyprefix`, alone there so that any unprefixed key is one of
 * its own), flushed before and after. Gated on Redis and the kombu peer (`kombu/suite.ts`).
 */
import { Exchange, Queue } from '@wakame/core';
import { redisUrl, waitFor, within } from '@wakame/testkit';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { HOOK_TIMEOUT_MS } from '../kombu-common/peer.js';
import type { WakameView } from '../kombu-common/wakame.js';
import {
  OP_TIMEOUT_MS,
  onlyViews,
  wakameConsume,
  wakameDeclare,
  wakameGetAll,
  wakamePublishAll,
  withWakame,
} from '../kombu-common/wakame.js';
import type { KombuDrain, Sent } from './kombu/peer.js';
import { dumpKeys, kombuListKey, memberHexes, queueArgs, runPeer, SEP, seqOf } from './kombu/peer.js';
import { flushAround, kombuSuite, uniqueBase } from './kombu/suite.js';

const URL = redisUrl(14);
const PREFIX_URL = redisUrl(15);
const KEYPREFIX = 'pfx:';
const WAKAME_PREFIX_URL = redisUrl(15, `keyprefix=${encodeURIComponent(KEYPREFIX)}`);
const suite = await kombuSuite('kombu ⇄ Wakame routing over Redis', 14);

/** kombu's binding member for `a.#` (its topic regex in the middle), as hex. */
function topicMemberHex(queue: string): string {
  return Buffer.from(`a.#${SEP}^a\\..*?$${SEP}${queue}`, 'utf8').toString('hex');
}

describe.skipIf(!suite.run)('kombu ⇄ Wakame routing over Redis', () => {
  const base = uniqueBase();

  flushAround(URL, PREFIX_URL);

  describe('topic routing', () => {
    /** The peer's arguments for a topic exchange and an `a.#` queue without priorities. */
    function topicArgs(exchange: string, queue: string, extra: readonly string[]): string[] {
      const topic = ['--exchange-type', 'topic', ...extra];
      return queueArgs(URL, exchange, queue, { routingKey: 'a.#', maxPriority: 0, extra: topic });
    }

    it('a Wakame `a.#` binding is kombu’s member byte for byte, and routes kombu’s a.b.c publish to Wakame', async () => {
      const topic = new Exchange(`${base}.topic.w`, { type: 'topic' });
      const queue = new Queue(`${base}.topic.wq`, { exchange: topic, routingKey: 'a.#' });
      await wakameDeclare(URL, topic, queue);

      const bindingKey = `_kombu.binding.${topic.name}`;
      const keys = await dumpKeys(URL, bindingKey);
      expect(keys.get(bindingKey)?.type, `TYPE ${bindingKey}`).toBe('set');
      expect(memberHexes(keys, bindingKey)).toEqual([topicMemberHex(queue.name)]);

      // kombu declares the exchange as topic (its exchange types live in the declaring connection only) but not the
      // queue: it routes with the member Wakame stored.
      const common = topicArgs(topic.name, queue.name, ['--declare', 'exchange']);
      const hit = await runPeer<Sent[]>(['publish', ...common, '--publish-key', 'a.b.c', '--variants', 'str_body']);
      const miss = await runPeer<Sent[]>(['publish', ...common, '--publish-key', 'b.c', '--variants', 'json_zlib']);
      expect(hit[0]?.pushed.map((p) => p.key)).toEqual([queue.name]);
      expect(miss[0]?.pushed).toEqual([]);

      const { views } = await wakameConsume(URL, queue, 1);
      expect(views.map((v) => [v.exchange, v.routingKey, v.payload])).toEqual([[topic.name, 'a.b.c', 'plain text ✓']]);
      const after = await dumpKeys(URL, bindingKey);
      expect(after.get(bindingKey)?.members?.length, 'binding members after kombu used the exchange').toBe(1);
    });

    it('a kombu-bound `a.#` queue receives Wakame’s a.x.y publish (and not b.c)', async () => {
      const topic = new Exchange(`${base}.topic.k`, { type: 'topic' });
      const queueName = `${base}.topic.kq`;
      await runPeer(['declare', ...topicArgs(topic.name, queueName, [])]);
      const bindingKey = `_kombu.binding.${topic.name}`;
      expect(memberHexes(await dumpKeys(URL, bindingKey), bindingKey)).toEqual([topicMemberHex(queueName)]);

      // Wakame learns the exchange's type from its own declaration; the binding is kombu's.
      await wakamePublishAll(
        URL,
        topic,
        [],
        [
          { body: { routed: 'a.x.y' }, options: { routingKey: 'a.x.y' } },
          { body: { routed: 'b.c' }, options: { routingKey: 'b.c' } },
        ],
      );
      expect(
        memberHexes(await dumpKeys(URL, bindingKey), bindingKey),
        'Wakame declaring the exchange leaves kombu’s bindings as they were',
      ).toEqual([topicMemberHex(queueName)]);

      const consume = topicArgs(topic.name, queueName, ['--declare', 'none', '--count', '2', '--timeout', '3']);
      const drained = await runPeer<KombuDrain>(['consume', ...consume]);
      expect(drained.errors).toEqual([]);
      expect(drained.messages.map((m) => [m.delivery_info.exchange, m.delivery_info.routing_key, m.payload])).toEqual([
        [topic.name, 'a.x.y', { routed: 'a.x.y' }],
      ]);
    });
  });

  describe("kombu's PUB/SUB fanout (the explicit ephemeral mode)", () => {
    it('a kombu consumer of a fanout exchange receives Wakame’s publish to it in x-redis-fanout: pubsub mode', async () => {
      const fanout = new Exchange(`${base}.bcast`, { type: 'fanout', arguments: { 'x-redis-fanout': 'pubsub' } });
      const queueName = `${base}.bcast.kq`;
      const args = queueArgs(URL, fanout.name, queueName, {
        routingKey: '',
        maxPriority: 0,
        extra: ['--exchange-type', 'fanout'],
      });
      await runPeer(['declare', ...args]);
      const raw = new Redis(URL);
      try {
        const before = Number(await raw.call('PUBSUB', 'NUMPAT'));
        // kombu subscribes (PSUBSCRIBE) at its first drain, and only for a fanout exchange its own connection
        // declared: publish once it listens, as PUB/SUB requires.
        const drained = runPeer<KombuDrain>(['consume', ...args, '--count', '1', '--timeout', '8']);
        await waitFor(async () => Number(await raw.call('PUBSUB', 'NUMPAT')) > before, {
          timeoutMs: 8_000,
          what: 'kombu to subscribe to the fanout channel',
        });
        await wakamePublishAll(URL, fanout, [fanout], [{ body: { to: 'everyone' }, options: { routingKey: '' } }]);
        const { messages, errors } = await drained;
        expect(errors).toEqual([]);
        expect(messages.map((m) => [m.delivery_info.exchange, m.payload])).toEqual([[fanout.name, { to: 'everyone' }]]);
        // Ephemeral: nothing was stored in the bound queue's list.
        expect(await raw.exists(queueName)).toBe(0);
      } finally {
        raw.disconnect();
      }
    });
  });

  describe('global_keyprefix', () => {
    const px = new Exchange(`${base}.kp.x`, { type: 'direct' });
    const toWakame = new Queue(`${base}.kp.k2w`, { exchange: px, routingKey: `${base}.kp.k2w`, maxPriority: 9 });
    const toKombu = new Queue(`${base}.kp.w2k`, { exchange: px, routingKey: `${base}.kp.w2k`, maxPriority: 9 });
    const topic = new Exchange(`${base}.kp.t`, { type: 'topic' });
    const topicQueue = new Queue(`${base}.kp.tq`, { exchange: topic, routingKey: 'a.#' });
    const snapshots: { when: string; keys: string[] }[] = [];
    let fromKombu: (WakameView | Error)[] = [];
    let kombuSent: Sent[] = [];
    let fromWakame: KombuDrain = { messages: [], errors: [] };
    let topicViews: WakameView[] = [];

    /** The peer's arguments for `queue` under the prefix. */
    function kombuArgs(queue: Queue, exchangeName: string, maxPriority: number, extra: readonly string[]): string[] {
      const routingKey = queue.bindings[0]?.routingKey ?? queue.name;
      const options = { routingKey, maxPriority, extra: ['--keyprefix', KEYPREFIX, ...extra] };
      return queueArgs(PREFIX_URL, exchangeName, queue.name, options);
    }

    async function snapshot(when: string): Promise<void> {
      const keys = await dumpKeys(PREFIX_URL);
      snapshots.push({ when, keys: [...keys.keys()] });
    }

    beforeAll(async () => {
      await withWakame(WAKAME_PREFIX_URL, async (conn) => {
        await within(OP_TIMEOUT_MS, 'declare', conn.declare(px, toWakame, toKombu, topic, topicQueue));
        await snapshot('after Wakame declared (connection open)');
        // kombu → Wakame, with priorities.
        const variants = 'json_headers_and_properties,priority_9,str_body,priority_0,json_zlib';
        const extra = ['--seq', '--variants', variants];
        kombuSent = await runPeer<Sent[]>(['publish', ...kombuArgs(toWakame, px.name, 9, extra)]);
        // Wakame → kombu.
        const producer = conn.producer({ exchange: px, routingKey: toKombu.name });
        await within(OP_TIMEOUT_MS, 'publish', producer.publish({ n: 1 }, { headers: { 'x-seq': 0 }, priority: 0 }));
        await within(OP_TIMEOUT_MS, 'publish', producer.publish('two ✓', { headers: { 'x-seq': 1 }, priority: 9 }));
        const zlib = { headers: { 'x-seq': 2 }, compression: 'zlib', priority: 5 } as const;
        await within(OP_TIMEOUT_MS, 'publish', producer.publish({ n: 3 }, zlib));
        // kombu → Wakame through a topic binding Wakame stored under the prefix.
        const topicExtra = ['--exchange-type', 'topic', '--declare', 'exchange'];
        const publishKey = ['--publish-key', 'a.kp', '--variants', 'str_unicode'];
        await runPeer(['publish', ...kombuArgs(topicQueue, topic.name, 0, [...topicExtra, ...publishKey])]);
        await snapshot('after both published (Wakame connection open)');
      });
      fromKombu = await wakameGetAll(WAKAME_PREFIX_URL, toWakame, 5);
      // `--count 3` ends it as soon as the three are in; the timeout only bounds a failure (a busy machine is slow to
      // start the peer and connect, which the timeout also covers).
      const consume = ['--count', '3', '--timeout', '20'];
      fromWakame = await runPeer<KombuDrain>(['consume', ...kombuArgs(toKombu, px.name, 9, consume)]);
      topicViews = (await wakameConsume(WAKAME_PREFIX_URL, topicQueue, 1)).views;
      await snapshot('after both consumed');
    }, HOOK_TIMEOUT_MS);

    it('kombu’s prefixed messages reach Wakame, in kombu’s priority order', () => {
      expect(kombuSent.flatMap((s) => s.pushed.map((p) => p.key))).toEqual(
        [5, 9, 0, 0, 0].map((k) => kombuListKey(toWakame.name, k, KEYPREFIX)),
      );
      const views = onlyViews(fromKombu);
      // kombu priority 0 (str_body, priority_0, json_zlib: seq 2, 3, 4) first, then 5 (seq 0), then 9 (seq 1).
      expect(views.map((v) => seqOf(v.headers))).toEqual([2, 3, 4, 0, 1]);
      expect(views.map((v) => v.payload)).toEqual([
        'plain text ✓',
        { n: 100, priority: 0 },
        { n: 1, text: 'kombu message 1 ✓' },
        { n: 0, text: 'kombu message 0 ✓' },
        { n: 109, priority: 9 },
      ]);
      expect(views.map((v) => v.properties.priority)).toEqual([undefined, undefined, undefined, 4, 0]);
    });

    it('Wakame’s prefixed messages reach kombu (BRPOP on the prefixed lists), in priority order 9, 5, 0', () => {
      expect(fromWakame.errors).toEqual([]);
      expect(fromWakame.messages.map((m) => [seqOf(m.headers), m.payload, m.properties.priority])).toEqual([
        [1, 'two ✓', 0],
        [2, { n: 3 }, 4],
        [0, { n: 1 }, 9],
      ]);
    });

    it('a Wakame topic binding under the prefix routes kombu’s publish', () => {
      expect(topicViews.map((v) => [v.routingKey, v.payload])).toEqual([['a.kp', 'Grüße 🍣 日本語']]);
    });

    it('no key without the prefix is created, by either side', () => {
      expect(snapshots.map((s) => s.when)).toHaveLength(3);
      for (const { when, keys } of snapshots) {
        expect(
          keys.filter((k) => !k.startsWith(KEYPREFIX)),
          when,
        ).toEqual([]);
      }
      const during = snapshots[1]?.keys ?? [];
      expect(during).toEqual(
        expect.arrayContaining([
          `${KEYPREFIX}_kombu.binding.${px.name}`,
          `${KEYPREFIX}_kombu.binding.${topic.name}`,
          `${KEYPREFIX}${toWakame.name}`,
          `${KEYPREFIX}${toWakame.name}${SEP}3`,
          `${KEYPREFIX}${toWakame.name}${SEP}9`,
          `${KEYPREFIX}${toKombu.name}`,
          `${KEYPREFIX}${toKombu.name}${SEP}3`,
          `${KEYPREFIX}${toKombu.name}${SEP}9`,
        ]),
      );
    });
  });
});
