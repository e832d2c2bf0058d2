/**
 * Wire interoperability with Python kombu 5.2 (py-amqp 5.1) through a real RabbitMQ.
 *
 * `kombu/kombu_peer.py`, run by the system interpreter (`/usr/bin/python3`, which has Debian's python3-kombu),
 * publishes a fixed catalogue of message variants with kombu and reports what kombu decodes from a queue. Each
 * variant travels in a queue of its own, so one message that a side cannot parse does not hide the others.
 *
 * - kombu → Wakame: kombu publishes every variant, Wakame `get()`s each and must see what kombu sent.
 * - Wakame → kombu: Wakame publishes the same variants (kombu's publish arguments translated to Wakame's), and kombu
 *   must decode them exactly as it decodes its own messages (a kombu → kombu reference run).
 * - The recorded fixture (`kombu/kombu_amqp_wire_format.json`, a copy of the shared one) pins what kombu 5.2 puts
 *   on the wire; the peer must still produce it byte for byte, and both directions are compared with it.
 *
 * The catalogue, the mapping between kombu's and Wakame's terms and what the Redis kombu suites expect alike are
 * shared with them (`../kombu-common/`); the AMQP peer and fixture are in `kombu/peer.ts`.
 *
 * Gated on RabbitMQ and on kombu being importable by /usr/bin/python3: without them the file is skipped with a
 * notice, or fails when brokers are required (CI installs python3-kombu).
 */
import { withConnection } from '@wakame/core';
import { AMQP_URL, randomName, within } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as expectations from '../kombu-common/expectations.js';
import { camelProperties, HEADERS_OF_EVERY_TYPE, toPy, variantOf, wakameProperties } from '../kombu-common/mapping.js';
import { HOOK_TIMEOUT_MS, kombuOf, kombuSuite, VariantRoutes } from '../kombu-common/peer.js';
import {
  payloadOf,
  viewOf,
  type WakameView,
  wakameConsume,
  wakameDeclare,
  wakamePublishAll,
  wakameReceive,
} from '../kombu-common/wakame.js';
import {
  type AmqpPeerInfo,
  asPyAmqpReadsOurs,
  inflateIfCompressed,
  type KombuDrain,
  readFixture,
  runPeer,
  type Sent,
  withDefaultPriority,
} from './kombu/peer.js';

const suite = await kombuSuite<AmqpPeerInfo>({
  suite: 'kombu interop',
  broker: { name: 'rabbitmq', url: AMQP_URL },
  runPeer,
  probe: ['probe'],
  packages: ['python3-kombu'],
  cannot: 'cannot import kombu',
  none: { kombu: '', amqp: '', python: '', msgpack: false, yaml: false, variants: [] },
});
const { catalogue, peer, variantNames, wakameVariants } = suite;
const fixture = readFixture();
const fixtureByVariant = new Map(fixture.messages.map((m) => [m.variant, m]));

describe.skipIf(!suite.run)('kombu interop over AMQP', () => {
  const base = randomName('kombu-interop');
  const routes = new VariantRoutes(base, AMQP_URL, { exchange: randomName('kombu-interop') });
  const { exchange } = routes;

  afterAll(async () => {
    await within(
      30_000,
      'cleanup',
      withConnection(AMQP_URL, async (conn) => {
        for (const name of routes.names) await conn.admin.deleteQueue(name).catch(() => undefined);
        await conn.admin.deleteExchange(exchange.name).catch(() => undefined);
      }),
    );
  }, HOOK_TIMEOUT_MS);

  describe('kombu → Wakame', () => {
    const sent = new Map<string, Sent>();
    const views = new Map<string, WakameView | Error>();

    beforeAll(async () => {
      const queues = catalogue.map((v) => routes.queue('k2w', v.variant));
      // Wakame declares first; kombu then declares the same entities, which fails on any mismatch.
      await wakameDeclare(AMQP_URL, exchange, ...queues);
      for (const entry of await runPeer<Sent[]>(['publish', ...routes.peerArgs('k2w')])) sent.set(entry.variant, entry);
      for (const [i, queue] of queues.entries()) {
        views.set(catalogue[i]?.variant ?? '', await wakameReceive(AMQP_URL, queue));
      }
    }, HOOK_TIMEOUT_MS);

    it.each(variantNames)('%s: what kombu sent is what Wakame sees', (variant) => {
      const out = sent.get(variant);
      if (out === undefined) throw new Error(`kombu did not publish ${variant}`);
      const props = out.properties;
      expectations.expectSeenAsSent(
        viewOf(views, variant),
        out,
        {
          contentType: props.content_type,
          contentEncoding: props.content_encoding,
          headers: props.application_headers ?? {},
          headersNote: `headers (kombu's wire tags: ${JSON.stringify(out.header_type_tags)})`,
          properties: camelProperties(props),
          bodyB64: out.body_b64,
        },
        exchange.name,
      );
    });

    it('json: headers of every AMQP field type, priority, expiration, correlation_id, reply_to', () => {
      const view = expectations.expectHeadersAndProperties(views, 5);
      expect(view.headers['x-big']).toBe(1_099_511_627_776);
    });

    it('json: integer headers at the int32/int64 edges and nested tables', () => {
      const view = viewOf(views, 'json_edge_ints');
      expect(view.headers).toEqual({
        'x-zero': 0,
        'x-short': 1000,
        'x-neg-short': -1000,
        'x-int32-max': 2 ** 31 - 1,
        'x-int32-min': -(2 ** 31) + 1,
        'x-int32-over': 2 ** 31,
        'x-neg-big': -(2 ** 40),
        'x-int53-max': Number.MAX_SAFE_INTEGER,
        'x-nested': { a: { b: [1, { c: null }], d: -2.25 }, e: [[true, false], []] },
      });
    });

    it('json: message_id, timestamp (seconds), type, app_id, priority 9 and a fractional expiration', () => {
      expectations.expectAllProperties(views, 9);
    });

    expectations.sameKombuToWakameTests(views, sent, peer);

    it('str bodies arrive as text/plain utf-8 strings', () => {
      expectations.expectTextBodies(views);
    });

    it('a bytes body arrives as application/data binary, as a Buffer', () => {
      expectations.expectBytesBody(views);
    });

    it.skipIf(!peer.msgpack)('msgpack: decoded, bin values as Buffers', () => {
      const view = viewOf(views, 'msgpack');
      expect([view.contentType, view.contentEncoding]).toEqual(['application/x-msgpack', 'binary']);
      expect(toPy(payloadOf(view, 'msgpack'))).toEqual(sent.get('msgpack')?.published_body);
    });

    it('a consumer receives kombu’s int64 header once, on one connection', async () => {
      // py-amqp writes ints beyond int32 with the 'L' tag; a reader that cannot parse it loses the connection, and a
      // consumer then gets the message redelivered on every reconnect.
      const queue = routes.queue('k2wc', 'json_headers_and_properties');
      await wakameDeclare(AMQP_URL, exchange, queue);
      await runPeer(['publish', ...routes.peerArgs('k2wc'), '--variants', 'json_headers_and_properties']);
      const { views: got, lostOrRevived } = await wakameConsume(AMQP_URL, queue.name, 1, { waitMs: 3_000 });
      expect({ delivered: got.map((v) => v.headers), connectionLossesAndRevivals: lostOrRevived }).toEqual({
        delivered: [HEADERS_OF_EVERY_TYPE],
        connectionLossesAndRevivals: 0,
      });
    });

    it('kombu here still frames the recorded fixture variants byte for byte', () => {
      expect(peer.kombu).toBe(fixture.kombu);
      let compared = 0;
      for (const [variant, recorded] of fixtureByVariant) {
        const out = sent.get(variant);
        if (out === undefined) continue; // msgpack_bzip2 needs python msgpack
        compared++;
        expect(out.raw_properties_b64, variant).toBe(recorded['raw_properties_b64 (flags + property list)']);
        expect(out.properties, variant).toEqual(recorded.properties);
        expect(out.header_type_tags, variant).toEqual(recorded.header_type_tags);
        expect(inflateIfCompressed(out.body_b64, out.properties), variant).toEqual(
          inflateIfCompressed(recorded.body_b64, recorded.properties),
        );
      }
      expect(compared).toBeGreaterThanOrEqual(5);
    });

    it('Wakame reads the fixture variants as kombu recorded them', () => {
      for (const [variant, recorded] of fixtureByVariant) {
        if (!views.has(variant)) continue;
        const view = viewOf(views, variant);
        expect(view.contentType, variant).toBe(recorded.properties.content_type);
        expect(view.contentEncoding, variant).toBe(recorded.properties.content_encoding);
        expect(toPy(view.headers), variant).toEqual(recorded.properties.application_headers);
        expect(wakameProperties(view.properties), variant).toEqual(camelProperties(recorded.properties));
        expect(toPy(payloadOf(view, variant)), variant).toEqual(recorded.kombu_decoded);
      }
    });
  });

  describe('Wakame → kombu', () => {
    /** kombu's view of its own messages: the reference Wakame's messages are held to. */
    let reference: Record<string, KombuDrain> = {};
    /** kombu's view of Wakame's messages. */
    let received: Record<string, KombuDrain> = {};
    /** Variants published by Wakame only (msgpack when the peer cannot publish it). */
    const extra = peer.msgpack ? [] : ['msgpack'];
    const msgpackBody = { n: 10, text: 'msgpack ✓', big: 2 ** 40, list: [1, -2, 3.5] };

    beforeAll(async () => {
      const refArgs = routes.peerArgs('ref');
      for (const v of catalogue) routes.names.add(routes.name('ref', v.variant));
      await runPeer(['publish', ...refArgs]);
      reference = await runPeer(routes.consumeArgs('ref', variantNames));

      const messages = routes.wakamePublishes('w2k', wakameVariants, catalogue);
      if (extra.includes('msgpack')) {
        messages.push({
          body: msgpackBody,
          options: { serializer: 'msgpack', routingKey: routes.name('w2k', 'msgpack') },
        });
      }
      const queues = [...wakameVariants, ...extra].map((variant) => routes.queue('w2k', variant));
      await wakamePublishAll(AMQP_URL, exchange, [exchange, ...queues], messages);
      received = await runPeer(routes.consumeArgs('w2k', [...wakameVariants, ...extra]));
    }, HOOK_TIMEOUT_MS);

    it.each(wakameVariants)('%s: kombu decodes Wakame’s message as it decodes its own', (variant) => {
      const theirs = kombuOf(reference, variant, 'kombu');
      const ours = kombuOf(received, variant, 'Wakame');
      expectations.expectDecodedAsOwn(ours, theirs, variantOf(catalogue, variant));
      expect(
        ours.headers,
        `headers as kombu reads them (wire tags: Wakame ${JSON.stringify(ours.header_type_tags)}, kombu ${JSON.stringify(theirs.header_type_tags)})`,
      ).toEqual(asPyAmqpReadsOurs(theirs.headers));
      expect(withDefaultPriority(ours.properties)).toEqual(withDefaultPriority(theirs.properties));
      expect(ours.delivery_info.exchange).toBe(exchange.name);
      expect(ours.delivery_info.routing_key).toBe(routes.name('w2k', variant));
    });

    it('json: kombu reads headers of every type and all the properties', () => {
      expectations.expectKombuReadsProperties(
        received,
        (ours) => `Wakame's wire tags: ${JSON.stringify(ours.header_type_tags)}`,
      );
    });

    it('json: integer headers at the int32/int64 edges reach kombu unchanged', () => {
      const ours = kombuOf(received, 'json_edge_ints', 'Wakame');
      expect(ours.headers, `Wakame's wire tags: ${JSON.stringify(ours.header_type_tags)}`).toEqual(
        asPyAmqpReadsOurs(kombuOf(reference, 'json_edge_ints', 'kombu').headers),
      );
    });

    expectations.sameWakameToKombuTests(() => received, { catalogue, peer, bodyB64: (ours) => ours.body_b64 });

    it.skipIf(peer.msgpack)('msgpack: kombu routes it to its msgpack decoder (python msgpack is missing here)', () => {
      const ours = kombuOf(received, 'msgpack', 'Wakame');
      expect([ours.content_type, ours.content_encoding]).toEqual(['application/x-msgpack', 'binary']);
      // kombu registers a stub for msgpack when the library is missing: reaching it proves the labels matched.
      expect(ours.decode_error).toMatch(/^SerializerNotInstalled/);
    });

    it('Wakame publishes the fixture variants the way kombu recorded them', () => {
      let compared = 0;
      for (const [variant, recorded] of fixtureByVariant) {
        if (!wakameVariants.includes(variant)) continue; // msgpack_bzip2: no bzip2 in Wakame
        compared++;
        const ours = kombuOf(received, variant, 'Wakame');
        const want = recorded.properties;
        expect([ours.content_type, ours.content_encoding], variant).toEqual([want.content_type, want.content_encoding]);
        expect(ours.headers, `${variant} (Wakame's wire tags: ${JSON.stringify(ours.header_type_tags)})`).toEqual(
          want.application_headers,
        );
        expect(withDefaultPriority(camelProperties(ours.properties)), variant).toEqual(
          withDefaultPriority(camelProperties(want)),
        );
        expect(ours.payload, variant).toEqual(recorded.kombu_decoded);
      }
      expect(compared).toBeGreaterThanOrEqual(5);
    });
  });
});
