/**
 * kombu → Wakame through a real Redis: Python kombu 5.2 (its Redis transport, redis-py 4.3) publishes a fixed
 * catalogue of message variants (`kombu/kombu_redis_peer.py`), each in a queue of its own, and Wakame must see what
 * kombu sent: body, content type and encoding, headers, properties (kombu priority k as Wakame 9 - k, kombu's default
 * 0 as none; see `kombu/mapping.ts`); zlib bodies (kombu's `zlib` and its `gzip` alias), bzip2 and lzma (xz)
 * decompress. Wakame's direct bindings are kombu's bytes, so kombu re-declaring adds nothing.
 *
 * Redis database 11 (flushed before and after). Gated on Redis and the kombu peer (`kombu/suite.ts`).
 */
import { redisUrl } from '@wakame/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { consumedOnceTest, kombuSeenByWakameTests, peerVersionsTest } from '../kombu-common/interop-tests.js';
import { HOOK_TIMEOUT_MS } from '../kombu-common/peer.js';
import { viewOf, type WakameView, wakameDeclare, wakameReceive } from '../kombu-common/wakame.js';
import { expectedWakameProperties } from './kombu/mapping.js';
import { bytesOf, dumpKeys, kombuListKey, runPeer, SEP, type Sent } from './kombu/peer.js';
import { flushAround, kombuSuite, variantRoutes } from './kombu/suite.js';

const URL = redisUrl(11);
const suite = await kombuSuite('kombu → Wakame over Redis', 11);
const { catalogue } = suite;

describe.skipIf(!suite.run)('kombu → Wakame over Redis', () => {
  const routes = variantRoutes(URL);
  const { exchange } = routes;
  const sent = new Map<string, Sent>();
  const views = new Map<string, WakameView | Error>();
  let bindingMembers: Buffer[] = [];
  const queues = catalogue.map((v) => routes.queue('k2w', v.variant));

  flushAround(URL);

  beforeAll(async () => {
    // Wakame declares first; kombu then declares the same entities: the same binding bytes must not add members.
    await wakameDeclare(URL, exchange, ...queues);
    for (const entry of await runPeer<Sent[]>(['publish', ...routes.peerArgs('k2w')])) sent.set(entry.variant, entry);
    const keys = await dumpKeys(URL, `_kombu.binding.${exchange.name}`);
    bindingMembers = (keys.get(`_kombu.binding.${exchange.name}`)?.members ?? []).map(bytesOf);
    for (const [i, queue] of queues.entries()) {
      views.set(catalogue[i]?.variant ?? '', await wakameReceive(URL, queue));
    }
  }, HOOK_TIMEOUT_MS);

  peerVersionsTest(suite, {});

  it('Wakame stores direct bindings as kombu does: kombu re-declaring them adds no member', () => {
    const want = queues.map((q) => Buffer.from(`${q.name}${SEP}${SEP}${q.name}`, 'utf8'));
    const sort = (list: Buffer[]) => list.map((b) => b.toString('base64')).sort();
    expect(sort(bindingMembers)).toEqual(sort(want));
  });

  it('kombu pushed each variant to the list of its priority step', () => {
    expect(sent.size).toBe(catalogue.length);
    for (const [variant, out] of sent) {
      const priority = out.envelope?.properties.priority ?? 0;
      expect(
        out.pushed.map((p) => p.key),
        variant,
      ).toEqual([kombuListKey(out.queue, priority)]);
    }
  });

  kombuSeenByWakameTests({
    ...suite,
    sent,
    views,
    routes: () => routes,
    wakameProperties: expectedWakameProperties,
    wakamePriorities: { of5: 4, of9: 0 },
  });

  it('kombu’s default priority 0 (and an explicit 0) reads as no priority', () => {
    expect(viewOf(views, 'str_body').properties.priority).toBeUndefined();
    expect(viewOf(views, 'priority_0').properties.priority).toBeUndefined();
    expect(viewOf(views, 'priority_3').properties.priority).toBe(6);
  });

  consumedOnceTest({
    title: 'a Wakame consumer receives kombu’s message once, without connection trouble',
    runPeer,
    routes: () => routes,
    wakameUrl: () => URL,
    priority: 4,
    afterwards: async (queueName) => {
      const left = await dumpKeys(URL, `${queueName}*`);
      expect([...left.keys()], 'lists left behind by the consumed queue').toEqual([]);
    },
  });
});
