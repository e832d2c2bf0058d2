/**
 * The AMQP side of the kombu interop suite (`../kombu-interop.int.test.ts`): `kombu_peer.py` (py-amqp 5.1) and what
 * it reports, the recorded wire fixture, and the few places where py-amqp and Wakame legitimately differ. What every
 * transport's kombu suite shares is in `../../kombu-common/`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import type { Json, JsonObject } from '../../kombu-common/mapping.js';
import type { KombuDrainOf, KombuMessage, PeerInfo, SentVariant } from '../../kombu-common/peer.js';
import { peerRunner } from '../../kombu-common/peer.js';

export const runPeer = peerRunner(fileURLToPath(new URL('./kombu_peer.py', import.meta.url)));

/** `kombu_peer.py probe`. */
export interface AmqpPeerInfo extends PeerInfo {
  readonly amqp: string;
}

/** One entry of `kombu_peer.py publish`: the variant plus what py-amqp framed. */
export interface Sent extends SentVariant {
  /** py-amqp's basic properties (snake_case; `application_headers` holds the headers). */
  readonly properties: JsonObject;
  readonly raw_properties_b64: string;
  readonly header_type_tags: Readonly<Record<string, string>>;
  readonly body_b64: string;
}

/** What kombu made of one message (`kombu_peer.py consume`), with its property list and body as they travelled. */
export interface KombuReceived extends KombuMessage {
  readonly delivery_info: { readonly exchange: string; readonly routing_key: string; readonly redelivered: boolean };
  readonly raw_properties_b64: string | null;
  readonly header_type_tags: Readonly<Record<string, string>>;
  readonly body_b64: string;
}

export type KombuDrain = KombuDrainOf<KombuReceived>;

/** One message of the recorded fixture. */
export interface FixtureMessage {
  readonly variant: string;
  readonly published_body: Json;
  readonly properties: JsonObject;
  readonly 'raw_properties_b64 (flags + property list)': string;
  readonly header_type_tags: Readonly<Record<string, string>>;
  readonly body_b64: string;
  readonly kombu_decoded: Json;
}

/** The recorded fixture (`kombu_amqp_wire_format.json`, a copy of the shared one): what kombu 5.2 puts on the wire. */
export function readFixture(): { kombu: string; messages: FixtureMessage[] } {
  const file = new URL('./kombu_amqp_wire_format.json', import.meta.url);
  return JSON.parse(readFileSync(file, 'utf8')) as { kombu: string; messages: FixtureMessage[] };
}

/**
 * The one known loss from Wakame to kombu, pinned so a change on either side shows: Wakame sends
 * integers beyond int32 with RabbitMQ's signed 64-bit tag `l`, which py-amqp 5.1 decodes as
 * *unsigned*, so a negative one below -2^31 reaches Python as 2^64 + value. (kombu itself writes
 * py-amqp's own tag `L`, which amqplib cannot encode.) Documented in the AMQP transport's README row.
 */
export function asPyAmqpReadsOurs(headers: Json): Json {
  if (typeof headers === 'number')
    return Number.isInteger(headers) && headers < -(2 ** 31) ? 2 ** 64 + headers : headers;
  if (Array.isArray(headers)) return headers.map(asPyAmqpReadsOurs);
  if (headers !== null && typeof headers === 'object') {
    return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, asPyAmqpReadsOurs(v)]));
  }
  return headers;
}

/** kombu always sends `priority` (0 by default); Wakame sends it only when asked. Absent means 0 to a broker. */
export function withDefaultPriority(props: Readonly<Record<string, Json>>): Record<string, Json> {
  return { ...props, priority: props.priority ?? 0 };
}

/** A base64 body, zlib-inflated when its properties carry kombu's `application/x-gzip` compression header. */
export function inflateIfCompressed(bodyB64: string, properties: JsonObject): Buffer {
  const body = Buffer.from(bodyB64, 'base64');
  const headers = properties.application_headers;
  const compressed =
    headers !== null &&
    typeof headers === 'object' &&
    !Array.isArray(headers) &&
    headers.compression === 'application/x-gzip';
  return compressed ? inflateSync(body) : body;
}
