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
 * Gated on RabbitMQ and on kombu being importable by /usr/bin/python3: without them the file is skipped with a
 * notice, or fails when brokers are required (CI installs python3-kombu).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { Connection, Exchange, type Message, type PublishOptions, Queue, withConnection } from '@wakame/core';
import { AMQP_URL, brokerGate, brokersRequired, randomName } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PYTHON = '/usr/bin/python3';

/**
 * The one known loss from Wakame to kombu, pinned so a change on either side shows: Wakame sends
 * integers beyond int32 with RabbitMQ's signed 64-bit tag `l`, which py-amqp 5.1 decodes as
 * *unsigned*, so a negative one below -2^31 reaches Python as 2^64 + value. (kombu itself writes
 * py-amqp's own tag `L`, which amqplib cannot encode.) Documented in the AMQP transport's README row.
 */
function asPyAmqpReadsOurs(headers: Json): Json {
  if (typeof headers === 'number')
    return Number.isInteger(headers) && headers < -(2 ** 31) ? 2 ** 64 + headers : headers;
  if (Array.isArray(headers)) return headers.map(asPyAmqpReadsOurs);
  if (headers !== null && typeof headers === 'object') {
    return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, asPyAmqpReadsOurs(v)]));
  }
  return headers;
}
const PEER = fileURLToPath(new URL('./kombu/kombu_peer.py', import.meta.url));
const FIXTURE_FILE = new URL('./kombu/kombu_amqp_wire_format.json', import.meta.url);
/** Everything Wakame can decode, like the peer's accept list. */
const ACCEPT = ['json', 'yaml', 'msgpack', 'text', 'raw'];
/** Bound on one Wakame broker operation, so that a transport wedged by a bad frame fails a test instead of hanging. */
const OP_TIMEOUT_MS = 8_000;
const HOOK_TIMEOUT_MS = 120_000;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** `kombu_peer.py probe`. */
interface PeerInfo {
  readonly kombu: string;
  readonly amqp: string;
  readonly python: string;
  readonly msgpack: boolean;
  readonly yaml: boolean;
  readonly variants: readonly string[];
}

/** One entry of `kombu_peer.py variants`: a body and kombu `Producer.publish` keyword arguments. */
interface Variant {
  readonly variant: string;
  readonly published_body: Json;
  readonly publish_kwargs: JsonObject;
}

/** One entry of `kombu_peer.py publish`: the variant plus what py-amqp framed. */
interface Sent extends Variant {
  readonly queue: string;
  readonly routing_key: string;
  /** py-amqp's basic properties (snake_case; `application_headers` holds the headers). */
  readonly properties: JsonObject;
  readonly raw_properties_b64: string;
  readonly header_type_tags: Readonly<Record<string, string>>;
  readonly body_b64: string;
}

/** What kombu made of one message (`kombu_peer.py consume`). */
interface KombuReceived {
  readonly content_type: string | null;
  readonly content_encoding: string | null;
  readonly headers: JsonObject;
  readonly delivery_info: { readonly exchange: string; readonly routing_key: string; readonly redelivered: boolean };
  readonly properties: Readonly<Record<string, Json>>;
  readonly raw_properties_b64: string | null;
  readonly header_type_tags: Readonly<Record<string, string>>;
  readonly body_b64: string;
  readonly payload?: Json;
  readonly decode_error?: string;
}

interface KombuDrain {
  readonly messages: readonly KombuReceived[];
  readonly errors: readonly string[];
}

/** One message of the recorded fixture. */
interface FixtureMessage {
  readonly variant: string;
  readonly published_body: Json;
  readonly properties: JsonObject;
  readonly 'raw_properties_b64 (flags + property list)': string;
  readonly header_type_tags: Readonly<Record<string, string>>;
  readonly body_b64: string;
  readonly kombu_decoded: Json;
}

/** What Wakame made of one message, captured while its connection was open. */
interface WakameView {
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly exchange: string;
  readonly routingKey: string;
  readonly rawBody: Buffer;
  readonly body?: Buffer;
  readonly payload?: unknown;
  /** Why `payload` (or `body`) could not be read. */
  readonly decodeError?: unknown;
}

// ---------------------------------------------------------------------------------------------------------------
// The Python peer

function peerEnv(): NodeJS.ProcessEnv {
  // The system interpreter must not pick up a pyenv/virtualenv's modules.
  const { PYTHONPATH: _path, PYTHONHOME: _home, ...env } = process.env;
  return { ...env, PYTHONDONTWRITEBYTECODE: '1', PYTHONIOENCODING: 'utf-8' };
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .at(-1) ?? ''
  );
}

/** Runs `kombu_peer.py <args>` and parses the JSON it prints. */
function runPeer<T>(args: readonly string[], timeoutMs = 60_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    execFile(
      PYTHON,
      [PEER, ...args],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: peerEnv() },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`kombu_peer.py ${args[0]} failed: ${lastLine(stderr) || error.message}`, { cause: error }));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as T);
        } catch (parseError) {
          reject(
            new Error(`kombu_peer.py ${args[0]} printed no JSON: ${stdout.slice(0, 300)} ${lastLine(stderr)}`, {
              cause: parseError,
            }),
          );
        }
      },
    );
  });
}

/** Whether kombu can run here: the peer's probe, or `undefined` (after a notice) when the suite is skipped. */
async function kombuGate(): Promise<PeerInfo | undefined> {
  try {
    return await runPeer<PeerInfo>(['probe'], 20_000);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    if (brokersRequired()) {
      throw new Error(
        `[wakame] kombu interop: ${PYTHON} cannot run the kombu peer (${why}), and brokers are required; ` +
          'CI installs python3-kombu (apt-get install python3-kombu)',
      );
    }
    process.stderr.write(`[wakame] skipping kombu interop: ${PYTHON} cannot import kombu (${why})\n`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Value mapping between the peer's JSON (bytes as {"$base64": ...}) and Wakame's values

function isBase64Marker(value: Json): value is { $base64: string } {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    typeof value.$base64 === 'string'
  );
}

/** The peer's JSON as a Wakame value: `{"$base64": ...}` becomes a Buffer. */
function fromPy(value: Json): unknown {
  if (isBase64Marker(value)) return Buffer.from(value.$base64, 'base64');
  if (Array.isArray(value)) return value.map(fromPy);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, fromPy(v)]));
  }
  return value;
}

/** A Wakame value in the peer's JSON form, for comparison: bytes become `{"$base64": ...}`. */
function toPy(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return { $base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(toPy);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, toPy(v)]));
  }
  return value;
}

/** py-amqp property names and Wakame's. */
const PROPERTY_NAMES: readonly (readonly [string, string])[] = [
  ['delivery_mode', 'deliveryMode'],
  ['priority', 'priority'],
  ['expiration', 'expiration'],
  ['correlation_id', 'correlationId'],
  ['reply_to', 'replyTo'],
  ['message_id', 'messageId'],
  ['timestamp', 'timestamp'],
  ['type', 'type'],
  ['app_id', 'appId'],
  ['user_id', 'userId'],
];

/** The non-content basic properties of a py-amqp property dict, keyed by Wakame's names (absent ones left out). */
function camelProperties(props: Readonly<Record<string, Json>>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [snake, camel] of PROPERTY_NAMES) {
    const value = props[snake];
    if (value !== undefined && value !== null) out[camel] = value;
  }
  return out;
}

/** The same selection of a Wakame message's properties. */
function wakameProperties(props: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [, camel] of PROPERTY_NAMES) {
    const value = props[camel];
    if (value !== undefined && value !== null) out[camel] = value;
  }
  return out;
}

/** kombu always sends `priority` (0 by default); Wakame sends it only when asked. Absent means 0 to a broker. */
function withDefaultPriority(props: Readonly<Record<string, Json>>): Record<string, Json> {
  return { ...props, priority: props.priority ?? 0 };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function asString(key: string, value: Json): string {
  if (typeof value !== 'string') throw new Error(`kombu argument ${key} is not a string: ${JSON.stringify(value)}`);
  return value;
}

function asNumber(key: string, value: Json): number {
  if (typeof value !== 'number') throw new Error(`kombu argument ${key} is not a number: ${JSON.stringify(value)}`);
  return value;
}

/**
 * kombu's publish arguments as Wakame publish options, or `undefined` when Wakame has no equivalent (bzip2).
 * kombu's `gzip` compression alias is zlib data under `application/x-gzip`, which is Wakame's `zlib` (Wakame's own
 * `gzip` is real gzip under `application/gzip`).
 */
function wakamePublish(variant: Variant): { body: unknown; options: PublishOptions } | undefined {
  const options: Mutable<PublishOptions> = {};
  for (const [key, value] of Object.entries(variant.publish_kwargs)) {
    switch (key) {
      case 'serializer':
        options.serializer = asString(key, value);
        break;
      case 'compression': {
        const name = asString(key, value);
        if (name !== 'zlib' && name !== 'gzip') return undefined;
        options.compression = 'zlib';
        break;
      }
      case 'headers':
        options.headers = fromPy(value) as Record<string, unknown>;
        break;
      case 'priority':
        options.priority = asNumber(key, value);
        break;
      case 'expiration':
        // kombu: str(int(expiration * 1000)).
        options.expiration = Math.trunc(asNumber(key, value) * 1000);
        break;
      case 'correlation_id':
        options.correlationId = asString(key, value);
        break;
      case 'reply_to':
        options.replyTo = asString(key, value);
        break;
      case 'message_id':
        options.messageId = asString(key, value);
        break;
      case 'timestamp':
        options.timestamp = new Date(asNumber(key, value) * 1000);
        break;
      case 'type':
        options.type = asString(key, value);
        break;
      case 'app_id':
        options.appId = asString(key, value);
        break;
      case 'delivery_mode':
        options.persistent = asNumber(key, value) !== 1;
        break;
      default:
        throw new Error(`no Wakame equivalent known for kombu's publish argument '${key}'`);
    }
  }
  return { body: fromPy(variant.published_body), options };
}

/** The content type and encoding kombu gives a variant, by its rules (§1.9 of the kombu reference). */
function expectedLabels(variant: Variant): readonly [string, string] {
  const serializer = variant.publish_kwargs.serializer;
  if (serializer === 'json') return ['application/json', 'utf-8'];
  if (serializer === 'yaml') return ['application/x-yaml', 'utf-8'];
  if (serializer === 'msgpack') return ['application/x-msgpack', 'binary'];
  if (typeof variant.published_body === 'string') return ['text/plain', 'utf-8'];
  if (isBase64Marker(variant.published_body)) return ['application/data', 'binary'];
  throw new Error(`variant ${variant.variant}: no expected content type`);
}

// ---------------------------------------------------------------------------------------------------------------
// Wakame side

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function capture(message: Message): WakameView {
  let body: Buffer | undefined;
  let payload: unknown;
  let decodeError: unknown;
  try {
    body = message.body;
    payload = message.payload;
  } catch (error) {
    decodeError = error;
  }
  return {
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    headers: message.headers,
    properties: message.properties,
    exchange: message.exchange,
    routingKey: message.routingKey,
    rawBody: message.rawBody,
    ...(body === undefined ? {} : { body }),
    ...(decodeError === undefined ? { payload } : { decodeError }),
  };
}

/** Gets, captures and acks the one message of `queue`, on a connection of its own; a failure is returned. */
async function wakameReceive(queue: Queue): Promise<WakameView | Error> {
  let conn: Connection | undefined;
  try {
    conn = await within(OP_TIMEOUT_MS, 'Connection.open', Connection.open(AMQP_URL));
    const attached = queue.attach(conn);
    const deadline = Date.now() + OP_TIMEOUT_MS;
    for (;;) {
      const message = await within(OP_TIMEOUT_MS, `get from ${queue.name}`, attached.get({ accept: ACCEPT }));
      if (message !== undefined) {
        const view = capture(message);
        await within(OP_TIMEOUT_MS, 'ack', message.ack());
        return view;
      }
      if (Date.now() > deadline) return new Error(`no message arrived in ${queue.name}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    await within(OP_TIMEOUT_MS, 'close', conn?.close() ?? Promise.resolve()).catch(() => undefined);
  }
}

function viewOf(views: ReadonlyMap<string, WakameView | Error>, variant: string): WakameView {
  const view = views.get(variant);
  if (view === undefined) throw new Error(`variant ${variant} was not received`);
  if (view instanceof Error) throw new Error(`Wakame could not receive kombu's ${variant}: ${view.message}`);
  return view;
}

function payloadOf(view: WakameView, variant: string): unknown {
  if (view.decodeError !== undefined) {
    const why = view.decodeError instanceof Error ? view.decodeError.message : String(view.decodeError);
    throw new Error(`Wakame could not decode kombu's ${variant}: ${why}`);
  }
  return view.payload;
}

function kombuOf(drains: Readonly<Record<string, KombuDrain>>, variant: string, who: string): KombuReceived {
  const drain = drains[variant];
  if (drain === undefined) throw new Error(`kombu reported nothing for ${variant}`);
  const message = drain.messages[0];
  if (message === undefined) {
    throw new Error(`kombu received no ${who} message for ${variant}: ${drain.errors.join('; ') || 'queue empty'}`);
  }
  expect(drain.errors, `kombu errors after ${who}'s ${variant}`).toEqual([]);
  return message;
}

// ---------------------------------------------------------------------------------------------------------------

const gate = await brokerGate('kombu interop', { name: 'rabbitmq', url: AMQP_URL });
const peerInfo = gate === 'run' ? await kombuGate() : undefined;
const catalogue: readonly Variant[] = peerInfo ? await runPeer<Variant[]>(['variants']) : [];
const variantNames = catalogue.map((v) => v.variant);
/** Variants Wakame can publish too (all but bzip2). */
const wakameVariants = catalogue.filter((v) => wakamePublish(v) !== undefined).map((v) => v.variant);
const fixture = JSON.parse(readFileSync(FIXTURE_FILE, 'utf8')) as { kombu: string; messages: FixtureMessage[] };
const fixtureByVariant = new Map(fixture.messages.map((m) => [m.variant, m]));
const HEADERS_OF_EVERY_TYPE = {
  'x-str': 'héllo',
  'x-int': 42,
  'x-big': 2 ** 40,
  'x-neg': -7,
  'x-float': 1.5,
  'x-bool': true,
  'x-none': null,
  'x-list': [1, 'two'],
  'x-table': { k: 'v' },
};

describe.skipIf(peerInfo === undefined)('kombu interop over AMQP', () => {
  const peer: PeerInfo = peerInfo ?? { kombu: '', amqp: '', python: '', msgpack: false, yaml: false, variants: [] };
  const exchange = new Exchange(randomName('kombu-interop'), { type: 'direct' });
  const base = randomName('kombu-interop');
  const queueNames = new Set<string>();

  /** The queue of one variant in one direction; the peer derives the same name with --per-variant. */
  function variantQueue(direction: string, variant: string): Queue {
    const name = `${base}.${direction}.${variant}`;
    queueNames.add(name);
    return new Queue(name, { exchange, routingKey: name });
  }

  function peerArgs(direction: string): string[] {
    return [
      '--url',
      AMQP_URL,
      '--exchange',
      exchange.name,
      '--queue',
      `${base}.${direction}`,
      '--routing-key',
      `${base}.${direction}`,
      '--per-variant',
    ];
  }

  afterAll(async () => {
    await within(
      30_000,
      'cleanup',
      withConnection(AMQP_URL, async (conn) => {
        for (const name of queueNames) await conn.admin.deleteQueue(name).catch(() => undefined);
        await conn.admin.deleteExchange(exchange.name).catch(() => undefined);
      }),
    );
  }, HOOK_TIMEOUT_MS);

  describe('kombu → Wakame', () => {
    const sent = new Map<string, Sent>();
    const views = new Map<string, WakameView | Error>();

    beforeAll(async () => {
      const queues = catalogue.map((v) => variantQueue('k2w', v.variant));
      // Wakame declares first; kombu then declares the same entities, which fails on any mismatch.
      await withConnection(AMQP_URL, (conn) => conn.declare(exchange, ...queues));
      for (const entry of await runPeer<Sent[]>(['publish', ...peerArgs('k2w')])) sent.set(entry.variant, entry);
      for (const [i, queue] of queues.entries()) {
        const variant = catalogue[i]?.variant ?? '';
        views.set(variant, await wakameReceive(queue));
      }
    }, HOOK_TIMEOUT_MS);

    it.each(variantNames)('%s: what kombu sent is what Wakame sees', (variant) => {
      const out = sent.get(variant);
      if (out === undefined) throw new Error(`kombu did not publish ${variant}`);
      const view = viewOf(views, variant);
      const props = out.properties;
      expect(view.contentType).toBe(props.content_type);
      expect(view.contentEncoding).toBe(props.content_encoding);
      expect(toPy(view.headers), `headers (kombu's wire tags: ${JSON.stringify(out.header_type_tags)})`).toEqual(
        props.application_headers ?? {},
      );
      expect(wakameProperties(view.properties)).toEqual(camelProperties(props));
      expect(view.rawBody.toString('base64')).toBe(out.body_b64);
      expect(view.exchange).toBe(exchange.name);
      expect(view.routingKey).toBe(out.routing_key);
      if (variant === 'json_bzip2') return; // see its own test
      expect(toPy(payloadOf(view, variant))).toEqual(out.published_body);
    });

    it('json: headers of every AMQP field type, priority, expiration, correlation_id, reply_to', () => {
      const view = viewOf(views, 'json_headers_and_properties');
      expect(payloadOf(view, 'json_headers_and_properties')).toEqual({ n: 0, text: 'kombu message 0 ✓' });
      expect([view.contentType, view.contentEncoding]).toEqual(['application/json', 'utf-8']);
      expect(view.headers).toEqual(HEADERS_OF_EVERY_TYPE);
      expect(view.headers['x-big']).toBe(1_099_511_627_776);
      expect(view.properties).toMatchObject({
        deliveryMode: 2,
        priority: 5,
        expiration: '60000',
        correlationId: 'corr-1',
        replyTo: 'reply.queue',
      });
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
      const view = viewOf(views, 'json_all_properties');
      expect(view.properties).toMatchObject({
        deliveryMode: 2,
        priority: 9,
        expiration: '120500',
        correlationId: 'corr-5',
        replyTo: 'replies',
        messageId: 'msg-5',
        timestamp: 1_704_164_645,
        type: 'kombu.test',
        appId: 'kombu-peer',
      });
      expect(view.headers).toEqual({ 'x-kind': 'all-properties' });
    });

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

    it('str bodies arrive as text/plain utf-8 strings', () => {
      for (const [variant, text] of [
        ['str_body', 'plain text ✓'],
        ['str_unicode', 'Grüße 🍣 日本語'],
      ] as const) {
        const view = viewOf(views, variant);
        expect([view.contentType, view.contentEncoding]).toEqual(['text/plain', 'utf-8']);
        expect(payloadOf(view, variant)).toBe(text);
      }
    });

    it('a bytes body arrives as application/data binary, as a Buffer', () => {
      const view = viewOf(views, 'bytes_body');
      expect([view.contentType, view.contentEncoding]).toEqual(['application/data', 'binary']);
      const payload = payloadOf(view, 'bytes_body');
      expect(Buffer.isBuffer(payload)).toBe(true);
      expect(payload).toEqual(Buffer.from([0x00, 0x01, ...Buffer.from('binary'), 0xff]));
    });

    it('json: non-ASCII text, an astral character and escapes survive kombu’s \\u-escaped JSON', () => {
      const view = viewOf(views, 'json_unicode');
      expect(payloadOf(view, 'json_unicode')).toEqual({
        n: 9,
        text: '日本語 ✓ émoji 🍣 \u0000 "quoted" \\ back',
        'key ✓': 'value',
      });
    });

    it.skipIf(!peer.yaml)('yaml: decoded like PyYAML safe_load', () => {
      const view = viewOf(views, 'yaml');
      expect([view.contentType, view.contentEncoding]).toEqual(['application/x-yaml', 'utf-8']);
      expect(payloadOf(view, 'yaml')).toEqual({
        n: 8,
        text: 'yaml ✓',
        list: [1, 'two', 3.5],
        flag: true,
        none: null,
        word: 'yes',
      });
    });

    it.skipIf(!peer.msgpack)('msgpack: decoded, bin values as Buffers', () => {
      const view = viewOf(views, 'msgpack');
      expect([view.contentType, view.contentEncoding]).toEqual(['application/x-msgpack', 'binary']);
      expect(toPy(payloadOf(view, 'msgpack'))).toEqual(sent.get('msgpack')?.published_body);
    });

    it('bzip2 (which Wakame does not have) is refused with UnknownSerializerError, not misread', () => {
      const view = viewOf(views, 'json_bzip2');
      expect(view.headers.compression).toBe('application/x-bz2');
      expect(view.decodeError).toMatchObject({ code: 'ERR_UNKNOWN_SERIALIZER' });
    });

    it('a consumer receives kombu’s int64 header once, on one connection', async () => {
      // py-amqp writes ints beyond int32 with the 'L' tag; a reader that cannot parse it loses the connection, and a
      // consumer then gets the message redelivered on every reconnect.
      const queue = variantQueue('k2wc', 'json_headers_and_properties');
      await withConnection(AMQP_URL, (conn) => conn.declare(exchange, queue));
      await runPeer(['publish', ...peerArgs('k2wc'), '--variants', 'json_headers_and_properties']);
      const conn = await within(OP_TIMEOUT_MS, 'Connection.open', Connection.open(AMQP_URL));
      let lost = 0;
      const seen: Record<string, unknown>[] = [];
      try {
        conn.events.on('connection.lost', () => {
          lost++;
        });
        conn.events.on('connection.revived', () => {
          lost++;
        });
        const consumer = conn.consumer({
          queues: [queue.name],
          accept: ACCEPT,
          handler: async (message) => {
            seen.push({ ...message.headers });
            await message.ack();
          },
        });
        await within(OP_TIMEOUT_MS, 'consume', consumer.consume());
        const deadline = Date.now() + 3_000;
        while (seen.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        await within(OP_TIMEOUT_MS, 'close', conn.close()).catch(() => undefined);
      }
      expect({ delivered: seen, connectionLossesAndRevivals: lost }).toEqual({
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
      const refArgs = peerArgs('ref');
      for (const v of catalogue) queueNames.add(`${base}.ref.${v.variant}`);
      await runPeer(['publish', ...refArgs]);
      reference = await runPeer(['consume', ...refArgs, '--variants', variantNames.join(','), '--timeout', '5']);

      const queues = [...wakameVariants, ...extra].map((variant) => variantQueue('w2k', variant));
      await withConnection(AMQP_URL, async (conn) => {
        await conn.declare(exchange, ...queues);
        const producer = conn.producer({ exchange });
        for (const variant of wakameVariants) {
          const entry = catalogue.find((v) => v.variant === variant);
          const publish = entry && wakamePublish(entry);
          if (publish === undefined) throw new Error(`no Wakame publish for ${variant}`);
          await producer.publish(publish.body, { ...publish.options, routingKey: `${base}.w2k.${variant}` });
        }
        if (extra.includes('msgpack')) {
          await producer.publish(msgpackBody, { serializer: 'msgpack', routingKey: `${base}.w2k.msgpack` });
        }
      });
      received = await runPeer([
        'consume',
        ...peerArgs('w2k'),
        '--variants',
        [...wakameVariants, ...extra].join(','),
        '--timeout',
        '5',
      ]);
    }, HOOK_TIMEOUT_MS);

    it.each(wakameVariants)('%s: kombu decodes Wakame’s message as it decodes its own', (variant) => {
      const entry = catalogue.find((v) => v.variant === variant);
      if (entry === undefined) throw new Error(`unknown variant ${variant}`);
      const theirs = kombuOf(reference, variant, 'kombu');
      const ours = kombuOf(received, variant, 'Wakame');
      expect(ours.decode_error, 'kombu decode error').toBeUndefined();
      expect(ours.payload).toEqual(entry.published_body);
      expect([ours.content_type, ours.content_encoding]).toEqual(expectedLabels(entry));
      expect([ours.content_type, ours.content_encoding]).toEqual([theirs.content_type, theirs.content_encoding]);
      expect(
        ours.headers,
        `headers as kombu reads them (wire tags: Wakame ${JSON.stringify(ours.header_type_tags)}, kombu ${JSON.stringify(theirs.header_type_tags)})`,
      ).toEqual(asPyAmqpReadsOurs(theirs.headers));
      expect(withDefaultPriority(ours.properties)).toEqual(withDefaultPriority(theirs.properties));
      expect(ours.delivery_info.exchange).toBe(exchange.name);
      expect(ours.delivery_info.routing_key).toBe(`${base}.w2k.${variant}`);
    });

    it('json: kombu reads headers of every type and all the properties', () => {
      const ours = kombuOf(received, 'json_headers_and_properties', 'Wakame');
      expect(ours.payload).toEqual({ n: 0, text: 'kombu message 0 ✓' });
      expect(ours.headers, `Wakame's wire tags: ${JSON.stringify(ours.header_type_tags)}`).toEqual(
        HEADERS_OF_EVERY_TYPE,
      );
      expect(ours.properties).toMatchObject({
        delivery_mode: 2,
        priority: 5,
        expiration: '60000',
        correlation_id: 'corr-1',
        reply_to: 'reply.queue',
      });
      const all = kombuOf(received, 'json_all_properties', 'Wakame');
      expect(all.properties).toMatchObject({
        delivery_mode: 2,
        priority: 9,
        expiration: '120500',
        correlation_id: 'corr-5',
        reply_to: 'replies',
        message_id: 'msg-5',
        timestamp: 1_704_164_645,
        type: 'kombu.test',
        app_id: 'kombu-peer',
      });
      expect(kombuOf(received, 'json_transient', 'Wakame').properties.delivery_mode).toBe(1);
    });

    it('json: integer headers at the int32/int64 edges reach kombu unchanged', () => {
      const ours = kombuOf(received, 'json_edge_ints', 'Wakame');
      expect(ours.headers, `Wakame's wire tags: ${JSON.stringify(ours.header_type_tags)}`).toEqual(
        asPyAmqpReadsOurs(kombuOf(reference, 'json_edge_ints', 'kombu').headers),
      );
    });

    it.each(['json_zlib', 'json_gzip_alias'])(
      '%s: Wakame’s zlib is what kombu calls application/x-gzip, and kombu decompresses it',
      (variant) => {
        const ours = kombuOf(received, variant, 'Wakame');
        expect(ours.headers.compression).toBe('application/x-gzip');
        const raw = Buffer.from(ours.body_b64, 'base64');
        expect([...raw.subarray(0, 2)]).toEqual([0x78, 0x9c]);
        expect(ours.decode_error).toBeUndefined();
        expect(ours.payload).toEqual(catalogue.find((v) => v.variant === variant)?.published_body);
      },
    );

    it('text, a raw Buffer and yaml get kombu’s content types and encodings', () => {
      const labels = (variant: string) => {
        const m = kombuOf(received, variant, 'Wakame');
        return [m.content_type, m.content_encoding, m.payload];
      };
      expect(labels('str_body')).toEqual(['text/plain', 'utf-8', 'plain text ✓']);
      expect(labels('str_unicode')).toEqual(['text/plain', 'utf-8', 'Grüße 🍣 日本語']);
      expect(labels('bytes_body')).toEqual(['application/data', 'binary', { $base64: 'AAFiaW5hcnn/' }]);
      if (peer.yaml) {
        expect(labels('yaml')).toEqual([
          'application/x-yaml',
          'utf-8',
          { n: 8, text: 'yaml ✓', list: [1, 'two', 3.5], flag: true, none: null, word: 'yes' },
        ]);
      }
    });

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

/** A base64 body, zlib-inflated when its properties carry kombu's `application/x-gzip` compression header. */
function inflateIfCompressed(bodyB64: string, properties: JsonObject): Buffer {
  const body = Buffer.from(bodyB64, 'base64');
  const headers = properties.application_headers;
  const compressed =
    headers !== null &&
    typeof headers === 'object' &&
    !Array.isArray(headers) &&
    headers.compression === 'application/x-gzip';
  return compressed ? inflateSync(body) : body;
}
