/**
 * Wakame → kombu through kombu's ZooKeeper layout: Wakame on `?layout=kombu` publishes kombu's catalogue of variants
 * (kombu's publish arguments translated), each in a queue of its own, and kombu on its `zookeeper://` transport must
 * decode them as it decodes its own messages (a kombu → kombu reference run), from entries with kombu's names and
 * bytes. kombu's ZooKeeper transport keeps the publisher's priority in the envelope and orders by the entry's name
 * (`entry-<9 - priority>-`), so Wakame's priority p is kombu's p, and Wakame's messages of priorities 0, 9, 5, 3 reach
 * a kombu consumer highest first.
 *
 * A fresh root znode per suite, removed afterwards. Gated on ZooKeeper and the kombu peer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodedAsOwnTests,
  kombuReadsWakameTests,
  kombuReferenceRun,
  sameBytesAsKombuTests,
} from '../kombu-common/interop-tests.js';
import { HOOK_TIMEOUT_MS, kombuOf, VariantRoutes } from '../kombu-common/peer.js';
import { wakamePublishAll } from '../kombu-common/wakame.js';
import { envelopeShape } from '../redis/kombu/mapping.js';
import {
  freshShared,
  type KombuDrain,
  type KombuReceived,
  kombuNodes,
  kombuZkSuite,
  type Node,
  runPeer,
  type Sent,
} from './kombu/peer.js';

const suite = await kombuZkSuite('Wakame → kombu on ZooKeeper');
const { catalogue, peer, variantNames, wakameVariants } = suite;

describe.skipIf(!suite.run)("Wakame → kombu on ZooKeeper (kombu's layout)", () => {
  const shared = freshShared('kombu-from-wakame', suite.run);
  let routes: VariantRoutes;
  /** kombu's view of its own messages, and its own entries' data. */
  let reference: Record<string, KombuDrain> = {};
  let kombuSent = new Map<string, Sent>();
  /** kombu's view of Wakame's messages, and Wakame's entries as stored (before kombu consumed them). */
  let received: Record<string, KombuDrain> = {};
  const stored = new Map<string, Node[]>();
  const published = [...wakameVariants, 'wakame_priority_0'];

  beforeAll(async () => {
    const { kombuUrl, wakameUrl } = shared();
    routes = new VariantRoutes(`w-${Math.random().toString(36).slice(2, 8)}`, kombuUrl);
    ({ kombuSent, reference } = await kombuReferenceRun<Sent, KombuReceived>(runPeer, routes, variantNames));

    const messages = routes.wakamePublishes('w2k', wakameVariants, catalogue);
    messages.push({ body: { n: 21 }, options: { priority: 0, routingKey: routes.name('w2k', 'wakame_priority_0') } });
    const queues = published.map((variant) => routes.queue('w2k', variant));
    await wakamePublishAll(wakameUrl, routes.exchange, [routes.exchange, ...queues], messages);
    for (const variant of published) stored.set(variant, await kombuNodes(kombuUrl, routes.name('w2k', variant)));
    received = await runPeer(routes.consumeArgs('w2k', published));
  }, HOOK_TIMEOUT_MS);

  decodedAsOwnTests({ ...suite, reference: () => reference, received: () => received, routes: () => routes });

  it('Wakame writes each message as one persistent entry named as kazoo’s Queue.put names it', () => {
    for (const variant of wakameVariants) {
      const nodes = stored.get(variant) ?? [];
      const theirs = kombuSent.get(variant)?.stored[0]?.node_priority;
      const name = `entry-${String(theirs).padStart(3, '0')}-`;
      expect(
        nodes.map((n) => [n.name.slice(0, name.length), /^entry-\d{3}-\d{10}$/.test(n.name), n.ephemeral]),
        variant,
      ).toEqual([[name, true, false]]);
    }
  });

  sameBytesAsKombuTests({
    title: '%s: Wakame’s entry has kombu’s bytes (delivery tag and JSON body spacing aside)',
    catalogue,
    wakameVariants,
    base: () => routes.base,
    stored: (variant) => ({ theirs: kombuSent.get(variant)?.stored[0]?.raw, ours: stored.get(variant)?.[0]?.data }),
    envelopeShape,
  });

  kombuReadsWakameTests(() => received, { catalogue, peer });

  it('an explicit Wakame priority 0 is kombu’s 0 (entry-009), and rides in `wakame.priority` for Wakame', () => {
    const ours = kombuOf(received, 'wakame_priority_0', 'Wakame');
    expect(ours.properties.priority).toBe(0);
    const node = stored.get('wakame_priority_0')?.[0];
    expect(node?.name.startsWith('entry-009-')).toBe(true);
    expect(JSON.parse(node?.data ?? '{}').properties.wakame).toEqual({ priority: 0 });
  });

  it('Wakame’s priorities 0, 9, 5, 3 reach a kombu consumer highest first', async () => {
    const { wakameUrl } = shared();
    const queue = routes.queue('w2kp', 'priorities');
    const messages = [0, 9, 5, 3].map((p) => ({ body: { p }, options: { priority: p, routingKey: queue.name } }));
    await wakamePublishAll(wakameUrl, routes.exchange, [routes.exchange, queue], messages);
    const drain = await runPeer<KombuDrain>([
      'consume',
      ...routes.peerArgs('w2kp').filter((a) => a !== '--per-variant'),
      '--queue',
      queue.name,
      '--routing-key',
      queue.name,
      '--count',
      '4',
      '--timeout',
      '10',
    ]);
    expect(drain.errors).toEqual([]);
    expect(drain.messages.map((m) => [m.payload, m.properties.priority])).toEqual([
      [{ p: 9 }, 9],
      [{ p: 5 }, 5],
      [{ p: 3 }, 3],
      [{ p: 0 }, 0],
    ]);
  });
});
