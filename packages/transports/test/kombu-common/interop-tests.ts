/**
 * Tests the kombu interop suites of the brokers without server-side exchanges (Redis, the SQL tables, ZooKeeper)
 * register the same way, with the broker's difference (a priority mapping, where a stored message is read from) as
 * an argument. The expectations themselves are in `expectations.ts`; this file only names and registers tests, so
 * that each broker's suite declares what is its own and nothing twice.
 */
import { expect, it } from 'vitest';
import * as expectations from './expectations.js';
import { camelProperties, HEADERS_OF_EVERY_TYPE, type Json, type Variant, variantOf } from './mapping.js';
import {
  type KombuDrainOf,
  type KombuEnvelope,
  type KombuMessage,
  kombuOf,
  type PeerInfo,
  type PeerRunner,
  type SentVariant,
  type VariantRoutes,
} from './peer.js';
import { viewOf, type WakameView, wakameConsume, wakameDeclare, wakameReceive } from './wakame.js';

type Views = ReadonlyMap<string, WakameView | Error>;
type Drains<M> = Readonly<Record<string, KombuDrainOf<M>>>;

/** A published variant as the peers of the virtual transports report it: with kombu's envelope as stored. */
interface SentWithEnvelope extends SentVariant {
  readonly envelope: KombuEnvelope | null;
}

// ---------------------------------------------------------------------------------------------------------------
// kombu → Wakame

/**
 * The kombu publish (`publish --per-variant`) of the whole catalogue, the kombu → kombu reference of a Wakame → kombu
 * suite: what kombu's channel stored per variant, and what kombu's own consumer made of it. Call it in `beforeAll`.
 */
export async function kombuReferenceRun<S extends SentVariant, M>(
  runPeer: PeerRunner,
  routes: VariantRoutes,
  variantNames: readonly string[],
): Promise<{ readonly kombuSent: Map<string, S>; readonly reference: Drains<M> }> {
  const kombuSent = new Map<string, S>();
  for (const entry of await runPeer<S[]>(['publish', ...routes.peerArgs('ref')])) kombuSent.set(entry.variant, entry);
  const reference = await runPeer<Drains<M>>(routes.consumeArgs('ref', variantNames));
  return { kombuSent, reference };
}

/**
 * The kombu → Wakame run of a suite, in `beforeAll`: Wakame declares the catalogue's queues first (its records, and
 * kombu's queues where the broker keeps them), kombu publishes every variant to its queue (`sent`), and Wakame gets
 * each one (`views`).
 */
export async function kombuToWakameRun<S extends SentVariant>(c: {
  readonly runPeer: PeerRunner;
  readonly routes: VariantRoutes;
  readonly catalogue: readonly Variant[];
  readonly wakameUrl: string;
  readonly sent: Map<string, S>;
  readonly views: Map<string, WakameView | Error>;
}): Promise<void> {
  const queues = c.catalogue.map((v) => c.routes.queue('k2w', v.variant));
  await wakameDeclare(c.wakameUrl, c.routes.exchange, ...queues);
  for (const entry of await c.runPeer<S[]>(['publish', ...c.routes.peerArgs('k2w')])) c.sent.set(entry.variant, entry);
  for (const [n, queue] of queues.entries()) {
    c.views.set(c.catalogue[n]?.variant ?? '', await wakameReceive(c.wakameUrl, queue));
  }
}

/**
 * The priority rule of kombu's SQL and ZooKeeper transports, which keep the publisher's priority in the envelope as it
 * is: kombu's k > 0 is Wakame's k, kombu's default 0 is none.
 */
export const ENVELOPE_PRIORITY = {
  wakameProperties: (kombu: Readonly<Record<string, Json>>) =>
    camelProperties(kombu, (p) => (typeof p === 'number' && p > 0 ? p : undefined)),
  wakamePriorities: { of5: 5, of9: 9 },
} as const;

/** Registers the test of the peer's `probe`: kombu 5, the transport's `libraries` (name: version), the catalogue. */
export function peerVersionsTest(
  suite: { readonly peer: PeerInfo; readonly variantNames: readonly string[] },
  libraries: Readonly<Record<string, RegExp>>,
): void {
  it('peer versions', () => {
    expect(suite.peer.kombu).toMatch(/^5\./);
    const peer = suite.peer as unknown as Readonly<Record<string, unknown>>;
    for (const [name, version] of Object.entries(libraries)) expect(peer[name], name).toMatch(version);
    expect(suite.peer.variants).toEqual(suite.variantNames);
  });
}

/** How a broker's kombu → Wakame suite differs: where things are, and kombu's priorities 5 and 9 as Wakame's. */
export interface KombuToWakameCase {
  readonly peer: PeerInfo;
  readonly variantNames: readonly string[];
  readonly sent: ReadonlyMap<string, SentWithEnvelope>;
  readonly views: Views;
  /** The routes every variant was published by (read once the hooks ran). */
  readonly routes: () => VariantRoutes;
  /** The properties Wakame must show for kombu's (by kombu's names): the broker's priority rule. */
  readonly wakameProperties: (kombu: Readonly<Record<string, Json>>) => Readonly<Record<string, Json>>;
  /** Wakame's priority for kombu's 5 (`json_headers_and_properties`) and 9 (`json_all_properties`). */
  readonly wakamePriorities: { readonly of5: number; readonly of9: number };
}

/**
 * Registers the kombu → Wakame tests every broker without exchanges runs on the suite's `views` (what Wakame
 * received per variant): each variant seen as sent, the properties, the catalogue's shared cases, the text bodies.
 */
export function kombuSeenByWakameTests(c: KombuToWakameCase): void {
  it.each(c.variantNames)('%s: what kombu sent is what Wakame sees', (variant) => {
    const out = c.sent.get(variant);
    if (out?.envelope == null) throw new Error(`kombu did not publish ${variant}`);
    const env = out.envelope;
    expectations.expectSeenAsSent(
      viewOf(c.views, variant),
      out,
      {
        contentType: env['content-type'],
        contentEncoding: env['content-encoding'],
        headers: env.headers,
        properties: c.wakameProperties(env.properties),
        bodyB64: env.body,
      },
      c.routes().exchange.name,
    );
  });

  const { of5, of9 } = c.wakamePriorities;
  it(`json: headers of every type, kombu priority 5 (Wakame ${of5}), expiration, correlation_id, reply_to`, () => {
    expectations.expectHeadersAndProperties(c.views, of5);
  });

  it(`json: message_id, timestamp (seconds), type, app_id, kombu priority 9 (Wakame ${of9}), fractional expiration`, () => {
    expectations.expectAllProperties(c.views, of9);
  });

  expectations.sameKombuToWakameTests(c.views, c.sent, c.peer);

  it('str bodies arrive as text/plain utf-8 strings, a bytes body as application/data binary', () => {
    expectations.expectTextBodies(c.views);
    expectations.expectBytesBody(c.views);
  });
}

/** How a broker's "a Wakame consumer receives kombu's message once" differs. */
export interface ConsumedOnceCase {
  readonly title: string;
  readonly runPeer: PeerRunner;
  /** Read inside the test: the suite's routes and Wakame's URL are made by its hooks. */
  readonly routes: () => VariantRoutes;
  readonly wakameUrl: () => string;
  /** Wakame's priority for kombu's 5. */
  readonly priority: number;
  /** The broker's own check once the queue is consumed (what must be left of it). */
  readonly afterwards?: (queueName: string) => Promise<void>;
}

/**
 * Registers the test that a Wakame consumer (not only a get) receives kombu's `json_headers_and_properties` once,
 * headers and priority intact, with no connection lost or message revived on the way.
 */
export function consumedOnceTest(c: ConsumedOnceCase): void {
  it(c.title, async () => {
    const routes = c.routes();
    const queue = routes.queue('k2wc', 'json_headers_and_properties');
    await wakameDeclare(c.wakameUrl(), routes.exchange, queue);
    await c.runPeer(['publish', ...routes.peerArgs('k2wc'), '--variants', 'json_headers_and_properties']);
    const { views: got, lostOrRevived } = await wakameConsume(c.wakameUrl(), queue, 1);
    expect({
      delivered: got.map((v) => ({ headers: v.headers, payload: v.payload, priority: v.properties.priority })),
      lostOrRevived,
    }).toEqual({
      delivered: [
        { headers: HEADERS_OF_EVERY_TYPE, payload: { n: 0, text: 'kombu message 0 ✓' }, priority: c.priority },
      ],
      lostOrRevived: 0,
    });
    await c.afterwards?.(queue.name);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Wakame → kombu

/** A message kombu received, as the peers of the brokers without exchanges report it (with the stored envelope). */
interface KombuReceivedWithEnvelope extends KombuMessage {
  readonly envelope: { readonly body: string } | null;
}

/**
 * Registers the test that kombu decodes each of Wakame's variants exactly as its own (headers, properties and the
 * delivery info included): for the brokers whose priority rule is the identity (the SQL tables, ZooKeeper).
 */
export function decodedAsOwnTests<M extends KombuMessage & { readonly delivery_info: unknown }>(c: {
  readonly catalogue: readonly Variant[];
  readonly wakameVariants: readonly string[];
  /** kombu's view of its own messages, and of Wakame's (read once the hooks ran). */
  readonly reference: () => Drains<M>;
  readonly received: () => Drains<M>;
  readonly routes: () => VariantRoutes;
}): void {
  it.each(c.wakameVariants)('%s: kombu decodes Wakame’s message as it decodes its own', (variant) => {
    const entry = variantOf(c.catalogue, variant);
    const theirs = kombuOf(c.reference(), variant, 'kombu');
    const ours = kombuOf(c.received(), variant, 'Wakame');
    expectations.expectDecodedAsOwn(ours, theirs, entry);
    expect(ours.headers).toEqual(theirs.headers);
    expect(ours.properties).toEqual(theirs.properties);
    expect(ours.delivery_info).toEqual({
      exchange: c.routes().exchange.name,
      routing_key: c.routes().name('w2k', variant),
      redelivered: null,
    });
  });
}

/**
 * Registers the test that Wakame stores each variant with kombu's bytes: `stored(variant)` gives kombu's stored form
 * of its own message (`theirs`, published under `ref`) and Wakame's (`ours`, under `w2k`); `want` is what Wakame's
 * must be given kombu's (by default kombu's itself), `also` the broker's further check of Wakame's.
 */
export function sameBytesAsKombuTests(c: {
  readonly title: string;
  readonly catalogue: readonly Variant[];
  readonly wakameVariants: readonly string[];
  readonly base: () => string;
  readonly stored: (variant: string) => { readonly theirs: string | undefined; readonly ours: string | undefined };
  readonly envelopeShape: (raw: string, blankBody: boolean) => string;
  readonly want?: (theirs: string, variant: string) => string;
  readonly also?: (ours: string) => void;
}): void {
  /** kombu writes message_id, type, app_id, timestamp… in its caller's keyword order: no one byte order to match. */
  const fixedOrderVariants = c.wakameVariants.filter((v) => v !== 'json_all_properties');

  it.each(fixedOrderVariants)(c.title, (variant) => {
    const { theirs, ours } = c.stored(variant);
    if (theirs === undefined || ours === undefined) throw new Error(`nothing stored for ${variant}`);
    const blankBody = variantOf(c.catalogue, variant).publish_kwargs.serializer !== undefined;
    // Both name the queue they were routed to: compare with the same routing key.
    const normalised = ours.replaceAll(`${c.base()}.w2k.`, `${c.base()}.ref.`);
    const want = c.want?.(theirs, variant) ?? theirs;
    expect(c.envelopeShape(normalised, blankBody)).toBe(c.envelopeShape(want, blankBody));
    c.also?.(ours);
  });
}

/**
 * Registers the Wakame → kombu tests every broker without exchanges runs on `received()` (kombu's view of Wakame's
 * messages): the properties kombu reads, and the catalogue's shared cases.
 */
export function kombuReadsWakameTests<M extends KombuReceivedWithEnvelope>(
  received: () => Drains<M>,
  options: { readonly catalogue: readonly Variant[]; readonly peer: PeerInfo },
): void {
  it('json: kombu reads the headers and all the properties', () => {
    expectations.expectKombuReadsProperties(received());
  });

  expectations.sameWakameToKombuTests(received, { ...options, bodyB64: (ours) => ours.envelope?.body ?? '' });
}
