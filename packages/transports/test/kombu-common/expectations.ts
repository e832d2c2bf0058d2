/**
 * What each side must make of the other's messages of kombu's catalogue (`kombu_variants.py`), whatever the transport:
 * the expectations the kombu interop suites of AMQP and Redis share. Tests that are the same on both (name and
 * expectation) are registered here, once ({@link sameKombuToWakameTests}, {@link sameWakameToKombuTests}); the others
 * are named by each suite and call the expectations here, the transport's difference (a priority, where the wire form
 * is read from) an argument.
 */
import { inflateSync } from 'node:zlib';
import { expect, it } from 'vitest';
import {
  camelProperties,
  expectedLabels,
  fromPy,
  HEADERS_OF_EVERY_TYPE,
  type Json,
  toPy,
  type Variant,
  variantOf,
  wakameProperties,
} from './mapping.js';
import { type KombuDrainOf, type KombuMessage, kombuOf, type PeerInfo, type SentVariant } from './peer.js';
import { payloadOf, viewOf, type WakameView } from './wakame.js';

type Views = ReadonlyMap<string, WakameView | Error>;
type Drains<M> = Readonly<Record<string, KombuDrainOf<M>>>;

/** The body of kombu's `json_headers_and_properties`, and its properties (priority aside), by kombu's names. */
const HEADERS_BODY = { n: 0, text: 'kombu message 0 ✓' };
const HEADERS_PROPERTIES = { delivery_mode: 2, expiration: '60000', correlation_id: 'corr-1', reply_to: 'reply.queue' };
/** The properties of kombu's `json_all_properties` (priority aside), by kombu's names. */
const ALL_PROPERTIES = {
  delivery_mode: 2,
  expiration: '120500',
  correlation_id: 'corr-5',
  reply_to: 'replies',
  message_id: 'msg-5',
  timestamp: 1_704_164_645,
  type: 'kombu.test',
  app_id: 'kombu-peer',
};
/** kombu's `yaml` body, as PyYAML's safe_load reads it. */
const YAML_BODY = { n: 8, text: 'yaml ✓', list: [1, 'two', 3.5], flag: true, none: null, word: 'yes' };
const TEXT_BODIES = [
  ['str_body', 'plain text ✓'],
  ['str_unicode', 'Grüße 🍣 日本語'],
] as const;

// ---------------------------------------------------------------------------------------------------------------
// kombu → Wakame

/** What kombu put on the wire for one message, in the terms Wakame must show it. */
export interface Wire {
  readonly contentType: Json | undefined;
  readonly contentEncoding: Json | undefined;
  /** The headers, in the peer's JSON form. */
  readonly headers: Json;
  /** Said when the headers differ. */
  readonly headersNote?: string;
  /** The properties Wakame must show, by its names. */
  readonly properties: Readonly<Record<string, Json>>;
  /** The body as it travelled (compressed, if it was). */
  readonly bodyB64: string;
}

/** Wakame's view of `variant` is what kombu sent (`sent`, on the wire as `wire`) through `exchange`. */
export function expectSeenAsSent(view: WakameView, sent: SentVariant, wire: Wire, exchange: string): void {
  expect(view.contentType).toBe(wire.contentType);
  expect(view.contentEncoding).toBe(wire.contentEncoding);
  expect(toPy(view.headers), wire.headersNote).toEqual(wire.headers);
  expect(wakameProperties(view.properties)).toEqual(wire.properties);
  expect(view.rawBody.toString('base64')).toBe(wire.bodyB64);
  expect(view.exchange).toBe(exchange);
  expect(view.routingKey).toBe(sent.routing_key);
  expect(toPy(payloadOf(view, sent.variant))).toEqual(sent.published_body);
}

/** `json_headers_and_properties`: body, labels, headers of every type, properties, kombu's 5 as Wakame `priority`. */
export function expectHeadersAndProperties(views: Views, priority: number): WakameView {
  const view = viewOf(views, 'json_headers_and_properties');
  expect(payloadOf(view, 'json_headers_and_properties')).toEqual(HEADERS_BODY);
  expect([view.contentType, view.contentEncoding]).toEqual(['application/json', 'utf-8']);
  expect(view.headers).toEqual(HEADERS_OF_EVERY_TYPE);
  expect(view.properties).toMatchObject({ ...camelProperties(HEADERS_PROPERTIES), priority });
  return view;
}

/** `json_all_properties`: every property (the timestamp in seconds), kombu's 9 as Wakame `priority`. */
export function expectAllProperties(views: Views, priority: number): void {
  const view = viewOf(views, 'json_all_properties');
  expect(view.properties).toMatchObject({ ...camelProperties(ALL_PROPERTIES), priority });
  expect(view.headers).toEqual({ 'x-kind': 'all-properties' });
}

/** str bodies arrive as text/plain utf-8 strings. */
export function expectTextBodies(views: Views): void {
  for (const [variant, text] of TEXT_BODIES) {
    const view = viewOf(views, variant);
    expect([view.contentType, view.contentEncoding]).toEqual(['text/plain', 'utf-8']);
    expect(payloadOf(view, variant)).toBe(text);
  }
}

/** A bytes body arrives as application/data binary, as a Buffer. */
export function expectBytesBody(views: Views): void {
  const view = viewOf(views, 'bytes_body');
  expect([view.contentType, view.contentEncoding]).toEqual(['application/data', 'binary']);
  const payload = payloadOf(view, 'bytes_body');
  expect(Buffer.isBuffer(payload)).toBe(true);
  expect(payload).toEqual(Buffer.from([0x00, 0x01, ...Buffer.from('binary'), 0xff]));
}

// ---------------------------------------------------------------------------------------------------------------
// Wakame → kombu

/** kombu decodes Wakame's message of `entry` (`ours`) as it decodes its own (`theirs`): payload and labels. */
export function expectDecodedAsOwn(ours: KombuMessage, theirs: KombuMessage, entry: Variant): void {
  expect(ours.decode_error, 'kombu decode error').toBeUndefined();
  expect(ours.payload).toEqual(entry.published_body);
  expect([ours.content_type, ours.content_encoding]).toEqual(expectedLabels(entry));
  expect([ours.content_type, ours.content_encoding]).toEqual([theirs.content_type, theirs.content_encoding]);
}

/**
 * kombu reads Wakame's `json_headers_and_properties` (its headers of every type; `headersNote` is said when they
 * differ), `json_all_properties` and `json_transient` with all their properties.
 */
export function expectKombuReadsProperties<M extends KombuMessage>(
  received: Drains<M>,
  headersNote?: (message: M) => string,
): void {
  const ours = kombuOf(received, 'json_headers_and_properties', 'Wakame');
  expect(ours.payload).toEqual(HEADERS_BODY);
  expect(ours.headers, headersNote?.(ours)).toEqual(HEADERS_OF_EVERY_TYPE);
  expect(ours.properties).toMatchObject({ ...HEADERS_PROPERTIES, priority: 5 });
  const all = kombuOf(received, 'json_all_properties', 'Wakame');
  expect(all.properties).toMatchObject({ ...ALL_PROPERTIES, priority: 9 });
  expect(kombuOf(received, 'json_transient', 'Wakame').properties.delivery_mode).toBe(1);
}

// ---------------------------------------------------------------------------------------------------------------
// Tests the same on every transport

/** Registers, in the enclosing `describe`, the kombu → Wakame tests that are the same on every transport. */
export function sameKombuToWakameTests(views: Views, sent: ReadonlyMap<string, SentVariant>, peer: PeerInfo): void {
  it('json: delivery_mode=1 arrives as a transient message', () => {
    expect(viewOf(views, 'json_transient').properties.deliveryMode).toBe(1);
  });

  it.each(['json_zlib', 'json_gzip_alias'])('%s: the zlib body is decompressed to the original', (variant) => {
    const view = viewOf(views, variant);
    expect(view.headers.compression).toBe('application/x-gzip');
    expect([...view.rawBody.subarray(0, 2)]).toEqual([0x78, 0x9c]);
    expect(view.body).toEqual(inflateSync(view.rawBody));
    expect(payloadOf(view, variant)).toEqual(fromPy(sent.get(variant)?.published_body ?? null));
  });

  it('json: non-ASCII text, an astral character and escapes survive kombu’s \\u-escaped JSON', () => {
    expect(payloadOf(viewOf(views, 'json_unicode'), 'json_unicode')).toEqual({
      n: 9,
      text: '日本語 ✓ émoji 🍣 \u0000 "quoted" \\ back',
      'key ✓': 'value',
    });
  });

  it.skipIf(!peer.yaml)('yaml: decoded like PyYAML safe_load', () => {
    const view = viewOf(views, 'yaml');
    expect([view.contentType, view.contentEncoding]).toEqual(['application/x-yaml', 'utf-8']);
    expect(payloadOf(view, 'yaml')).toEqual(YAML_BODY);
  });

  it.each([
    ['json_bzip2', 'application/x-bz2'],
    ['json_lzma', 'application/x-lzma'],
  ])('%s: kombu’s body (%s) is decompressed to the original', (variant, header) => {
    const view = viewOf(views, variant);
    expect(view.headers.compression).toBe(header);
    expect(view.decodeError).toBeUndefined();
    expect(payloadOf(view, variant)).toEqual(fromPy(sent.get(variant)?.published_body ?? null));
  });
}

/**
 * Registers, in the enclosing `describe`, the Wakame → kombu tests that are the same on every transport: `received()`
 * is kombu's view of Wakame's messages (once the suite's hooks ran), `bodyB64` where the peer reports the body of a
 * message as it travelled.
 */
export function sameWakameToKombuTests<M extends KombuMessage>(
  received: () => Drains<M>,
  options: {
    readonly catalogue: readonly Variant[];
    readonly peer: PeerInfo;
    readonly bodyB64: (message: M) => string;
  },
): void {
  it.each(['json_zlib', 'json_gzip_alias'])(
    '%s: Wakame’s zlib is what kombu calls application/x-gzip, and kombu decompresses it',
    (variant) => {
      const ours = kombuOf(received(), variant, 'Wakame');
      expect(ours.headers.compression).toBe('application/x-gzip');
      expect([...Buffer.from(options.bodyB64(ours), 'base64').subarray(0, 2)]).toEqual([0x78, 0x9c]);
      expect(ours.decode_error).toBeUndefined();
      expect(ours.payload).toEqual(variantOf(options.catalogue, variant).published_body);
    },
  );

  it('text, a raw Buffer and yaml get kombu’s content types and encodings', () => {
    const labels = (variant: string) => {
      const m = kombuOf(received(), variant, 'Wakame');
      return [m.content_type, m.content_encoding, m.payload];
    };
    for (const [variant, text] of TEXT_BODIES) expect(labels(variant)).toEqual(['text/plain', 'utf-8', text]);
    expect(labels('bytes_body')).toEqual(['application/data', 'binary', { $base64: 'AAFiaW5hcnn/' }]);
    if (options.peer.yaml) expect(labels('yaml')).toEqual(['application/x-yaml', 'utf-8', YAML_BODY]);
  });
}
