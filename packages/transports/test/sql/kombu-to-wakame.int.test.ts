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
import {
  consumedOnceTest,
  ENVELOPE_PRIORITY,
  kombuSeenByWakameTests,
  kombuToWakameRun,
  peerVersionsTest,
} from '../kombu-common/interop-tests.js';
import { HOOK_TIMEOUT_MS, VariantRoutes } from '../kombu-common/peer.js';
import { viewOf, type WakameView } from '../kombu-common/wakame.js';
import { freshTables, kombuRows, kombuSqlSuite, runPeer, type Sent, TARGETS } from './kombu/peer.js';

const suites = await Promise.all(TARGETS.map((target) => kombuSqlSuite('kombu → Wakame', target)));

for (const [i, target] of TARGETS.entries()) {
  const suite = suites[i];
  if (suite === undefined) continue;
  const { catalogue } = suite;

  describe.skipIf(!suite.run)(`kombu → Wakame on ${target.name} (kombu's SQLAlchemy tables)`, () => {
    const tables = freshTables(target, suite.run);
    let routes: VariantRoutes;
    const sent = new Map<string, Sent>();
    const views = new Map<string, WakameView | Error>();

    beforeAll(async () => {
      const t = tables();
      routes = new VariantRoutes(`k-${Math.random().toString(36).slice(2, 8)}`, t.kombuUrl);
      await kombuToWakameRun({ runPeer, routes, catalogue, wakameUrl: t.wakameUrl, sent, views });
    }, HOOK_TIMEOUT_MS);

    peerVersionsTest(suite, { sqlalchemy: /^1\.4|^2\./ });
    // kombu's SQL transport passes the priority through: k > 0 is Wakame k, kombu's default 0 is none.
    kombuSeenByWakameTests({ ...suite, sent, views, routes: () => routes, ...ENVELOPE_PRIORITY });

    it('kombu’s default priority 0 reads as no priority', () => {
      expect(viewOf(views, 'str_body').properties.priority).toBeUndefined();
    });

    it('Wakame’s acks delete kombu’s rows (kombu’s own consumers leave theirs, invisible)', async () => {
      const rows = await kombuRows(tables());
      const ours = rows.filter((r) => r.queue?.startsWith(routes.name('k2w', '')));
      expect(ours).toEqual([]);
    });

    consumedOnceTest({
      title: 'a Wakame consumer receives kombu’s message once, without connection trouble',
      runPeer,
      routes: () => routes,
      wakameUrl: () => tables().wakameUrl,
      priority: 5,
    });
  });
}
