/**
 * The mapping between the kombu peers' JSON and Wakame's values, shared by the kombu interop suites of every
 * transport (`../amqp/kombu-interop.int.test.ts`, `../redis/kombu-*.int.test.ts`): bytes markers, kombu's property
 * names, kombu's publish arguments as Wakame publish options, and the content labels kombu gives a variant.
 *
 * What differs by transport is the priority: AMQP carries kombu's priority as it is, Redis maps it (kombu consumes
 * lower numbers first there; see `../redis/kombu/mapping.ts`). The functions that meet a priority take its mapping.
 */
import type { PublishOptions } from '@wakame/core';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** One entry of the peer's `variants`: a body and kombu `Producer.publish` keyword arguments. */
export interface Variant {
  readonly variant: string;
  readonly published_body: Json;
  readonly publish_kwargs: JsonObject;
}

/** The entry of `variant` in `catalogue`. */
export function variantOf(catalogue: readonly Variant[], variant: string): Variant {
  const entry = catalogue.find((v) => v.variant === variant);
  if (entry === undefined) throw new Error(`unknown variant ${variant}`);
  return entry;
}

/** A kombu priority as the Wakame priority it stands for (`undefined`: none). */
export type PriorityMapping = (kombu: Json | undefined) => Json | undefined;

/** kombu's priority as Wakame's, unchanged: AMQP's mapping. */
export const samePriority: PriorityMapping = (kombu) => kombu;

/** The headers of kombu's `json_headers_and_properties` variant: a value of every type. */
export const HEADERS_OF_EVERY_TYPE = {
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

export function isBase64Marker(value: Json): value is { $base64: string } {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).length === 1 &&
    typeof value.$base64 === 'string'
  );
}

/** The peer's JSON as a Wakame value: `{"$base64": ...}` becomes a Buffer. */
export function fromPy(value: Json): unknown {
  if (isBase64Marker(value)) return Buffer.from(value.$base64, 'base64');
  if (Array.isArray(value)) return value.map(fromPy);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, fromPy(v)]));
  }
  return value;
}

/** A Wakame value in the peer's JSON form, for comparison: bytes become `{"$base64": ...}`. */
export function toPy(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return { $base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (Array.isArray(value)) return value.map(toPy);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, toPy(v)]));
  }
  return value;
}

/** kombu's property names and Wakame's, priority aside (its value may be mapped). */
const PROPERTY_NAMES: readonly (readonly [string, string])[] = [
  ['delivery_mode', 'deliveryMode'],
  ['expiration', 'expiration'],
  ['correlation_id', 'correlationId'],
  ['reply_to', 'replyTo'],
  ['message_id', 'messageId'],
  ['timestamp', 'timestamp'],
  ['type', 'type'],
  ['app_id', 'appId'],
  ['user_id', 'userId'],
];

/**
 * What Wakame must show for kombu's message properties, keyed by Wakame's names (absent ones left out), the priority
 * through `priority`.
 */
export function camelProperties(
  props: Readonly<Record<string, Json>>,
  priority: PriorityMapping = samePriority,
): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [snake, camel] of PROPERTY_NAMES) {
    const value = props[snake];
    if (value !== undefined && value !== null) out[camel] = value;
  }
  const wakame = priority(props.priority);
  if (wakame !== undefined && wakame !== null) out.priority = wakame;
  return out;
}

/** The same selection of a Wakame message's properties. */
export function wakameProperties(props: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [, camel] of [...PROPERTY_NAMES, ['priority', 'priority'] as const]) {
    const value = props[camel];
    if (value !== undefined && value !== null) out[camel] = value;
  }
  return out;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** kombu's publish arguments that are strings to both sides, and the Wakame publish options they set. */
const STRING_ARGUMENTS = {
  serializer: 'serializer',
  correlation_id: 'correlationId',
  reply_to: 'replyTo',
  message_id: 'messageId',
  type: 'type',
  app_id: 'appId',
} as const;

function isStringArgument(key: string): key is keyof typeof STRING_ARGUMENTS {
  return Object.hasOwn(STRING_ARGUMENTS, key);
}

function asString(key: string, value: Json): string {
  if (typeof value !== 'string') throw new Error(`kombu argument ${key} is not a string: ${JSON.stringify(value)}`);
  return value;
}

function asNumber(key: string, value: Json): number {
  if (typeof value !== 'number') throw new Error(`kombu argument ${key} is not a number: ${JSON.stringify(value)}`);
  return value;
}

/**
 * kombu's publish arguments as Wakame publish options, or `undefined` when Wakame has no equivalent, kombu's
 * priority k as Wakame's `priority(k)`. kombu's `gzip` compression alias is zlib data under `application/x-gzip`,
 * which is Wakame's `zlib` (Wakame's own `gzip` is real gzip under `application/gzip`).
 */
export function wakamePublish(
  variant: Variant,
  priority: (kombu: number) => number = (kombu) => kombu,
): { body: unknown; options: PublishOptions } | undefined {
  const options: Mutable<PublishOptions> = {};
  for (const [key, value] of Object.entries(variant.publish_kwargs)) {
    if (isStringArgument(key)) {
      options[STRING_ARGUMENTS[key]] = asString(key, value);
      continue;
    }
    switch (key) {
      case 'compression': {
        // kombu's gzip alias is zlib data; its bzip2 and lzma are Wakame's of the same names.
        const name = asString(key, value);
        const wakame = { zlib: 'zlib', gzip: 'zlib', bzip2: 'bzip2', lzma: 'lzma' }[name];
        if (wakame === undefined) return undefined;
        options.compression = wakame;
        break;
      }
      case 'headers':
        options.headers = fromPy(value) as Record<string, unknown>;
        break;
      case 'priority':
        options.priority = priority(asNumber(key, value));
        break;
      case 'expiration':
        // kombu: str(int(expiration * 1000)).
        options.expiration = Math.trunc(asNumber(key, value) * 1000);
        break;
      case 'timestamp':
        options.timestamp = new Date(asNumber(key, value) * 1000);
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
export function expectedLabels(variant: Variant): readonly [string, string] {
  const serializer = variant.publish_kwargs.serializer;
  if (serializer === 'json') return ['application/json', 'utf-8'];
  if (serializer === 'yaml') return ['application/x-yaml', 'utf-8'];
  if (serializer === 'msgpack') return ['application/x-msgpack', 'binary'];
  if (typeof variant.published_body === 'string') return ['text/plain', 'utf-8'];
  if (isBase64Marker(variant.published_body)) return ['application/data', 'binary'];
  throw new Error(`variant ${variant.variant}: no expected content type`);
}
