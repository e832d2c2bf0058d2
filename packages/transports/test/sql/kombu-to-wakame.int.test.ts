/**
 * kombu → Wakame through kombu's own tables, on PostgreSQL and on MariaDB: Python kombu 5.2 on its SQLAlchemy
 * transport (`sqla+postgresql://`, `sqla+mysql+pymysql://`) publishes the shared catalogue of message variants
 * (`kombu/kombu_sql_peer.py`), each in a queue of its own, and Wakame on `?layout=kombu` must see what kombu sent:
 * body, content type and encoding, headers, properties (kombu's priority k > 0 as Wakame k, its default 0 as none),
 * zlib bodies (kombu's `zlib` and its `gzip` alias) decompressed, bzip2 (which Wakame does not have) refused.
 *
 * A fresh schema (PostgreSQL) or database (MariaDB) per suite, dropped afterwards (`kombu/peer.ts`). Gated on the
 * database and the kombu peer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as expectations from '../kombu-common/expectations.js';
import { camelProperties, HEADERS_OF_EVERY_TYPE, type Json } from '../kombu-common/mapping.js';
import { HOOK_TIMEOUT_MS, VariantRoutes } from '../kombu-common/peer.js';
import { viewOf, type WakameView, wakameConsume, wakameDeclare, wakameReceive } from '../kombu-common/wakame.js';
import { freshTables, kombuRows, kombuSqlSuite, runPeer, type Sent, TARGETS } from './kombu/peer.js';

/** kombu's SQL transport passes the priority through: k > 0 is Wakame k, kombu's default 0 is none. */
const sqlPriority = (kombu: Json | undefined): Json | undefined =>
  typeof kombu === 'number' && kombu > 0 ? kombu : undefined;

const suites = await Promise.all(TARGETS.map((target) => kombuSqlSuite('kombu → Wakame', target)));

for (const [i, target] of TARGETS.entries()) {
  const suite = suites[i];
  if (suite === undefined) continue;
  const { catalogue, peer, variantNames } = suite;

  describe.skipIf(!suite.run)(`kombu → Wakame on ${target.name} (kombu's SQLAlchemy tables)`, () => {
    const tables = freshTables(target, suite.run);
    let routes: VariantRoutes;
    const sent = new Map<string, Sent>();
    const views = new Map<string, WakameView | Error>();

    beforeAll(async () => {
      const t = tables();
      routes = new VariantRoutes(`k-${Math.random().toString(36).slice(2, 8)}`, t.kombuUrl);
      const queues = catalogue.map((v) => routes.queue('k2w', v.variant));
      // Wakame declares first (its records, kombu's queue rows); kombu then declares the same queues.
      await wakameDeclare(t.wakameUrl, routes.exchange, ...queues);
      for (const entry of await runPeer<Sent[]>(['publish', ...routes.peerArgs('k2w')])) sent.set(entry.variant, entry);
      for (const [n, queue] of queues.entries()) {
        views.set(catalogue[n]?.variant ?? '', await wakameReceive(t.wakameUrl, queue));
      }
    }, HOOK_TIMEOUT_MS);

    it('peer versions', () => {
      expect(peer.kombu).toMatch(/^5\./);
      expect(peer.sqlalchemy).toMatch(/^1\.4|^2\./);
      expect(peer.variants).toEqual(variantNames);
    });

    it.each(variantNames)('%s: what kombu sent is what Wakame sees', (variant) => {
      const out = sent.get(variant);
      if (out?.envelope == null) throw new Error(`kombu did not publish ${variant}`);
      const env = out.envelope;
      expectations.expectSeenAsSent(
        viewOf(views, variant),
        out,
        {
          contentType: env['content-type'],
          contentEncoding: env['content-encoding'],
          headers: env.headers,
          properties: camelProperties(env.properties, sqlPriority),
          bodyB64: env.body,
        },
        routes.exchange.name,
      );
    });

    it('json: headers of every type, kombu priority 5 (Wakame 5), expiration, correlation_id, reply_to', () => {
      expectations.expectHeadersAndProperties(views, 5);
    });

    it('json: message_id, timestamp (seconds), type, app_id, kombu priority 9 (Wakame 9), fractional expiration', () => {
      expectations.expectAllProperties(views, 9);
    });

    it('kombu’s default priority 0 reads as no priority', () => {
      expect(viewOf(views, 'str_body').properties.priority).toBeUndefined();
    });

    expectations.sameKombuToWakameTests(views, sent, peer);

    it('str bodies arrive as text/plain utf-8 strings, a bytes body as application/data binary', () => {
      expectations.expectTextBodies(views);
      expectations.expectBytesBody(views);
    });

    it('Wakame’s acks delete kombu’s rows (kombu’s own consumers leave theirs, invisible)', async () => {
      const rows = await kombuRows(tables());
      const ours = rows.filter((r) => r.queue?.startsWith(routes.name('k2w', '')));
      expect(ours).toEqual([]);
    });

    it('a Wakame consumer receives kombu’s message once, without connection trouble', async () => {
      const t = tables();
      const queue = routes.queue('k2wc', 'json_headers_and_properties');
      await wakameDeclare(t.wakameUrl, routes.exchange, queue);
      await runPeer(['publish', ...routes.peerArgs('k2wc'), '--variants', 'json_headers_and_properties']);
      const { views: got, lostOrRevived } = await wakameConsume(t.wakameUrl, queue, 1);
      expect({
        delivered: got.map((v) => ({ headers: v.headers, payload: v.payload, priority: v.properties.priority })),
        lostOrRevived,
      }).toEqual({
        delivered: [{ headers: HEADERS_OF_EVERY_TYPE, payload: { n: 0, text: 'kombu message 0 ✓' }, priority: 5 }],
        lostOrRevived: 0,
      });
    });
  });
}
