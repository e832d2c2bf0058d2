/**
 * kombu's JSON envelope: the one element of a Redis queue list, and the `payload` of a row of
 * kombu's SQL tables (`?layout=kombu`), so it lives beside both transports:
 *
 * ```
 * {"body": "<base64>", "content-encoding": "utf-8", "content-type": "application/json",
 *  "headers": {...}, "properties": {<extras>, "delivery_mode": 2, "expiration": "10000",
 *  "delivery_info": {"exchange": "x", "routing_key": "rk"}, "priority": 0,
 *  "body_encoding": "base64", "delivery_tag": "<tag>"}}
 * ```
 *
 * Written exactly as Python's `json.dumps` writes it (`", "` and `": "` separators, non-ASCII as
 * `\uXXXX`), so a Wakame message is byte-identical to kombu's. What kombu has no field for (the
 * absolute expiry, a priority of 9 or more) rides in a `wakame` property that kombu passes through.
 */
import type { MessageProperties, StoredMessage } from '@wakame/core/spi';
import { DecodeError } from '@wakame/core/spi';

/** kombu's priority scale: 0 is consumed first, 9 last. */
export const KOMBU_MAX_PRIORITY = 9;

/**
 * Wakame priorities are AMQP's (higher is sooner); kombu's Redis transport consumes *lower* numbers
 * first. The mapping mirrors the scale: Wakame 9 is kombu 0, Wakame 0 is kombu 9; above 9 counts as 9.
 */
export function kombuPriority(wakamePriority: number): number {
  return KOMBU_MAX_PRIORITY - Math.min(Math.max(Math.trunc(wakamePriority), 0), KOMBU_MAX_PRIORITY);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Python `json.dumps(value)` with its defaults (`ensure_ascii=True`). */
export function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return pythonString(value);
    case 'number':
      if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
      if (Buffer.isBuffer(value)) return pythonString(value.toString('utf8'));
      const parts: string[] = [];
      for (const [k, v] of Object.entries(value))
        if (v !== undefined) parts.push(`${pythonString(k)}: ${pythonJson(v)}`);
      return `{${parts.join(', ')}}`;
    }
    default:
      return 'null';
  }
}

const NON_ASCII = /[\u007f-\uffff]/g;

function pythonString(s: string): string {
  // Names, ids and content types are nearly always printable ASCII without `"` or `\\`, which json.dumps
  // writes as they are, between quotes: one scan is cheaper than JSON.stringify plus a search of its
  // result for non-ASCII, and this runs five times per message published (a publish-rate hot path).
  if (isPlain(s)) return `"${s}"`;
  const json = JSON.stringify(s);
  // JSON.stringify already escapes quotes, backslashes and control characters as Python does.
  return NON_ASCII.test(json) ? json.replace(NON_ASCII, escapeUnit) : json;
}

/** Printable ASCII without `"` or `\\`: the same in JSON as in the string. */
function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

function escapeUnit(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** The AMQP properties kombu carries as `properties` extras, under their snake_case names. */
const EXTRAS: readonly (readonly [keyof MessageProperties, string])[] = [
  ['correlationId', 'correlation_id'],
  ['replyTo', 'reply_to'],
  ['messageId', 'message_id'],
  ['type', 'type'],
  ['appId', 'app_id'],
  ['userId', 'user_id'],
  ['clusterId', 'cluster_id'],
  ['timestamp', 'timestamp'],
];

/** Wakame's own additions to `properties`, for what kombu's envelope cannot say. */
interface WakameExtras {
  /** The Wakame (AMQP-scale) priority where kombu's field cannot say it; `null` for none. */
  priority?: number | null;
  /** Absolute expiry, epoch ms (kombu writes `expiration` but never enforces it). */
  expires_at?: number;
}

/**
 * Encodes a message as the list element kombu would have written for it. `wirePriority` is the kombu
 * priority of the list the message goes to (kombu's restore re-files a message by it, so the two must
 * agree): 0 on a queue without priorities, `9 - p` for the queue-effective priority p otherwise.
 * `readBack` is how a reader turns `wirePriority` back into a Wakame priority (see {@link decodeEnvelope}).
 */
export function encodeEnvelope(message: StoredMessage, wirePriority: number, readBack = fromKombu): string {
  const p = message.properties;
  let props = '';
  for (const [ours, theirs] of EXTRAS) {
    const value = p[ours];
    if (value !== undefined) props += `${pythonString(theirs)}: ${pythonJson(value)}, `;
  }
  // The wire priority reads back as "none" (0) or 9 - k; say the real one only where that is wrong.
  const ownPriority = p.priority !== readBack(wirePriority);
  if (ownPriority || message.expiresAt !== undefined) {
    const wakame: WakameExtras = {};
    if (ownPriority) wakame.priority = p.priority ?? null;
    if (message.expiresAt !== undefined) wakame.expires_at = message.expiresAt;
    props += `"wakame": ${pythonJson(wakame)}, `;
  }
  props += `"delivery_mode": ${p.deliveryMode ?? 2}, `;
  if (p.expiration !== undefined) props += `"expiration": ${pythonString(p.expiration)}, `;
  props +=
    `"delivery_info": {"exchange": ${pythonString(message.exchange)}, "routing_key": ${pythonString(message.routingKey)}` +
    `${message.redelivered ? ', "redelivered": true' : ''}}, ` +
    `"priority": ${wirePriority}, "body_encoding": "base64", "delivery_tag": ${pythonString(message.id)}`;
  return (
    `{"body": "${message.body.toString('base64')}", ` +
    `"content-encoding": ${pythonJson(p.contentEncoding ?? null)}, ` +
    `"content-type": ${pythonJson(p.contentType ?? null)}, ` +
    `"headers": ${p.headers === undefined ? '{}' : pythonJson(p.headers)}, "properties": {${props}}}`
  );
}

/** Thrown by {@link decodeEnvelope} for a list element that is not a kombu envelope. */
export class EnvelopeError extends DecodeError {
  override readonly name = 'EnvelopeError';
  override readonly code = 'ERR_ENVELOPE';
}

interface RawEnvelope {
  body?: Json;
  'content-encoding'?: Json;
  'content-type'?: Json;
  headers?: Json;
  properties?: { [key: string]: Json };
}

/**
 * Decodes a list element written by kombu or Wakame. `priority` is the queue-effective priority the
 * caller derived from the list the message came from; `readBack` reads the envelope's kombu priority
 * as a Wakame one (Redis's inverted steps by default; kombu's SQL transport keeps AMQP's order).
 */
export function decodeEnvelope(raw: string, priority: number, readBack = fromKombu): StoredMessage {
  let env: RawEnvelope;
  try {
    env = JSON.parse(raw) as RawEnvelope;
  } catch {
    throw new EnvelopeError('not JSON');
  }
  const props = env.properties;
  if (env === null || typeof env !== 'object' || props === null || typeof props !== 'object') {
    throw new EnvelopeError('no properties object');
  }
  const tag = props.delivery_tag;
  if (typeof tag !== 'string') throw new EnvelopeError('no delivery_tag');
  const info = asObject(props.delivery_info);
  const headers =
    env.headers !== null && typeof env.headers === 'object' && !Array.isArray(env.headers) ? env.headers : undefined;
  const properties: MessageProperties = {};
  if (typeof env['content-type'] === 'string') properties.contentType = env['content-type'];
  if (typeof env['content-encoding'] === 'string') properties.contentEncoding = env['content-encoding'];
  if (headers && Object.keys(headers).length > 0) properties.headers = headers;
  const mode = props.delivery_mode;
  if (mode === 1 || mode === 2) properties.deliveryMode = mode;
  if (typeof props.expiration === 'string') properties.expiration = props.expiration;
  const record = properties as Record<string, unknown>;
  for (const [ours, theirs] of EXTRAS) {
    const value = props[theirs];
    if (value !== undefined && value !== null) record[ours] = value;
  }
  const extras = asObject(props.wakame);
  const declared = 'priority' in extras ? extras.priority : readBack(props.priority);
  if (typeof declared === 'number') properties.priority = declared;
  const expiresAt = extras.expires_at;
  return {
    id: tag,
    body: decodeBody(env.body, props.body_encoding),
    properties,
    exchange: typeof info.exchange === 'string' ? info.exchange : '',
    routingKey: typeof info.routing_key === 'string' ? info.routing_key : '',
    priority,
    expiresAt: typeof expiresAt === 'number' ? expiresAt : undefined,
    redelivered: info.redelivered === true || headers?.redelivered === true,
  };
}

/** A kombu priority as Wakame reads it: kombu's 0 is also its default, so it reads as none; k reads as 9 - k. */
function fromKombu(kombu: unknown): number | undefined {
  if (typeof kombu !== 'number' || !Number.isInteger(kombu) || kombu <= 0) return undefined;
  return kombuPriority(kombu);
}

function asObject(value: Json | undefined): { [key: string]: Json } {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
}

function decodeBody(body: Json | undefined, encoding: Json | undefined): Buffer {
  if (typeof body !== 'string' || body === '') return Buffer.alloc(0);
  if (encoding === 'base64') return Buffer.from(body, 'base64');
  return Buffer.from(body, 'utf8');
}

/**
 * The element with `delivery_info.redelivered` set, as kombu's restore writes it, keeping every
 * other field (a kombu or Celery message may carry properties Wakame does not model).
 */
export function markRedelivered(raw: string): string {
  const env = JSON.parse(raw) as RawEnvelope;
  const props = env.properties ?? {};
  props.delivery_info = { ...asObject(props.delivery_info), redelivered: true };
  env.properties = props;
  return pythonJson(env);
}

/** The envelope of an `unacked` record (`[envelope, exchange, routing_key]`, kombu's shape). */
function envelopeOfRecord(record: string): RawEnvelope {
  const [envelope] = JSON.parse(record) as [RawEnvelope];
  if (envelope === null || typeof envelope !== 'object') throw new EnvelopeError('unacked record without an envelope');
  return envelope;
}

/** The body of the message in an `unacked` record. */
export function bodyOfRecord(record: string): Buffer {
  const env = envelopeOfRecord(record);
  return decodeBody(env.body, env.properties?.body_encoding);
}

/** The list element of the message in an `unacked` record, marked redelivered when `redelivered`. */
export function elementOfRecord(record: string, redelivered: boolean): string {
  const env = envelopeOfRecord(record);
  if (redelivered) {
    const props = env.properties ?? {};
    props.delivery_info = { ...asObject(props.delivery_info), redelivered: true };
    env.properties = props;
  }
  return pythonJson(env);
}
