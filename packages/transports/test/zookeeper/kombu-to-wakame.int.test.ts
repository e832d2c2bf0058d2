/**
 * kombu → Wakame through kombu's ZooKeeper layout: Python kombu 5.2 on its `zookeeper://` transport (kazoo's `Queue`
 * recipe) publishes the shared catalogue of message variants (`kombu/kombu_zk_peer.py`), each in a queue of its own,
 * and Wakame on `?layout=kombu` must see what kombu sent: body, content type and encoding, headers, properties
 * (kombu's priority k > 0 as Wakame k, its default 0 as none), zlib bodies decompressed, bzip2 refused. Then
 * priorities: kombu's messages of priorities 0, 9, 5, 3 reach a Wakame consumer highest first.
 *
 * A fresh root znode per suite, removed afterwards. Gated on ZooKeeper and the kombu peer.
 */
import { Connection } from '@wakame/core';
import { waitFor } from '@wakame/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  consumedOnceTest,
  ENVELOPE_PRIORITY,
  kombuSeenByWakameTests,
  kombuToWakameRun,
  peerVersionsTest,
} from '../kombu-common/interop-tests.js';
import { HOOK_TIMEOUT_MS, VariantRoutes } from '../kombu-common/peer.js';
import { viewOf, type WakameView, wakameDeclare } from '../kombu-common/wakame.js';
import { freshShared, kombuNodes, kombuZkSuite, runPeer, type Sent, type SentPriority } from './kombu/peer.js';

const suite = await kombuZkSuite('kombu → Wakame on ZooKeeper');
const { catalogue, variantNames } = suite;

describe.skipIf(!suite.run)("kombu → Wakame on ZooKeeper (kombu's layout)", () => {
  const shared = freshShared('kombu-to-wakame', suite.run);
  let routes: VariantRoutes;
  const sent = new Map<string, Sent>();
  const views = new Map<string, WakameView | Error>();

  beforeAll(async () => {
    const { kombuUrl, wakameUrl } = shared();
    routes = new VariantRoutes(`k-${Math.random().toString(36).slice(2, 8)}`, kombuUrl);
    await kombuToWakameRun({ runPeer, routes, catalogue, wakameUrl, sent, views });
  }, HOOK_TIMEOUT_MS);

  peerVersionsTest(suite, { kazoo: /^2\./ });
  // kombu's ZooKeeper transport keeps the publisher's priority in the envelope: k > 0 is Wakame k, 0 is none.
  kombuSeenByWakameTests({ ...suite, sent, views, routes: () => routes, ...ENVELOPE_PRIORITY });

  it('kombu’s default priority 0 reads as no priority', () => {
    expect(viewOf(views, 'str_body').properties.priority).toBeUndefined();
  });

  it('Wakame’s gets took kombu’s entries: their queues are empty', async () => {
    const left = await Promise.all(variantNames.map((v) => kombuNodes(shared().kombuUrl, routes.name('k2w', v))));
    expect(left.flat()).toEqual([]);
  });

  consumedOnceTest({
    title: 'a Wakame consumer receives kombu’s message once, headers and priority intact',
    runPeer,
    routes: () => routes,
    wakameUrl: () => shared().wakameUrl,
    priority: 5,
  });

  it('kombu’s priorities 0, 9, 5, 3 (entries entry-009, -000, -004, -006) reach a Wakame consumer highest first', async () => {
    const { kombuUrl, wakameUrl } = shared();
    const queue = routes.queue('k2wp', 'priorities');
    await wakameDeclare(wakameUrl, routes.exchange, queue);
    const published = await runPeer<SentPriority[]>(['publish', ...routes.peerArgs('k2wp'), '--priorities', '0,9,5,3']);
    expect(published.map((p) => p.stored[0]?.node_priority)).toEqual([9, 0, 4, 6]);
    const names = (await kombuNodes(kombuUrl, queue.name)).map((n) => n.name.slice(0, 'entry-000'.length));
    expect(names).toEqual(['entry-000', 'entry-004', 'entry-006', 'entry-009']);

    const conn = await Connection.open(wakameUrl);
    try {
      const order: unknown[] = [];
      const consumer = conn.consumer({
        queues: [queue.attach(conn)],
        prefetch: 1,
        handler: async (m) => {
          order.push([(m.payload as { p: number }).p, m.properties.priority]);
          await m.ack();
        },
      });
      await consumer.consume();
      await waitFor(() => order.length === 4, { timeoutMs: 20_000, what: 'four messages' });
      await consumer.close();
      expect(order).toEqual([
        [9, 9],
        [5, 5],
        [3, 3],
        [0, undefined],
      ]);
    } finally {
      await conn.close();
    }
  });
});
