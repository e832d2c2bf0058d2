/**
 * Serializer registry: turns message bodies into bytes plus `content_type` / `content_encoding`
 * headers and back, following Python kombu's `dumps` / `loads` rules so that both sides agree on
 * what a body means.
 *
 * @module
 */
import {
  DecodeError,
  EncodeError,
  InvalidArgumentError,
  SerializationError,
  UnknownSerializerError,
} from '../errors.js';
import {
  asBuffer,
  builtinSerializers,
  decodeString,
  encodeString,
  normaliseCharset,
  rawSerializer,
  textSerializer,
} from './builtin-serializers.js';
import type { Serializer } from './serializer.js';

export type { Serializer } from './serializer.js';

/** A serialized body with the headers that describe it. */
export interface EncodedBody {
  /** The bytes to publish. */
  readonly body: Buffer;
  /** Value for the `content_type` header. */
  readonly contentType: string;
  /** Value for the `content_encoding` header. */
  readonly contentEncoding: string;
}

/** How {@link SerializerRegistry.encode} should serialize a body. */
export interface EncodeOptions {
  /**
   * Name of the serializer to use, e.g. `'msgpack'`. Ignored when {@link EncodeOptions.contentType} is set.
   *
   * @defaultValue chosen from the body: `raw` for bytes, `text/plain` for strings, `json` otherwise
   */
  readonly serializer?: string;
  /**
   * Send the body as already serialized, labelled with this content type. The body must then be a
   * string or bytes.
   *
   * @defaultValue the chosen serializer's content type
   */
  readonly contentType?: string;
  /**
   * Charset for a string body sent with an explicit {@link EncodeOptions.contentType}: `'utf-8'`,
   * `'latin1'`, `'ascii'` or `'binary'`. Bytes are labelled with it unchanged. Serializers use their own.
   *
   * @defaultValue `'utf-8'` for strings, `'binary'` for bytes
   */
  readonly contentEncoding?: string;
}

/** The content type kombu assumes when a message has none. */
const DEFAULT_CONTENT_TYPE = 'application/data';

/** Lowercases a content type and drops its parameters: `'Application/JSON; charset=utf-8'` → `'application/json'`. */
function normaliseContentType(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/**
 * The serializers known to a process or connection, looked up by name (when encoding) or by content
 * type (when decoding). Registering a serializer whose content type another one already has makes
 * the newer one decode that type.
 */
export class SerializerRegistry {
  readonly #byName = new Map<string, Serializer>();
  #byType = new Map<string, Serializer>();
  #lastDecode: LastDecode | undefined;

  /**
   * Adds `serializer`, replacing any serializer with the same name.
   *
   * @throws {@link InvalidArgumentError} when the serializer is malformed
   */
  register(serializer: Serializer): this {
    checkSerializer(serializer);
    // Re-inserting moves it to the end, so that it wins content type lookups as the newest.
    this.#byName.delete(serializer.name);
    this.#byName.set(serializer.name, serializer);
    this.#reindex();
    return this;
  }

  /**
   * Removes the serializer called `name`.
   *
   * @throws {@link UnknownSerializerError} when none has that name
   */
  unregister(name: string): void {
    if (!this.#byName.delete(name)) throw this.#unknown(name);
    this.#reindex();
  }

  /**
   * The serializer called `name`.
   *
   * @throws {@link UnknownSerializerError} when none has that name; the message lists the known names
   */
  get(name: string): Serializer {
    const serializer = this.#byName.get(name);
    if (serializer === undefined) throw this.#unknown(name);
    return serializer;
  }

  /** Whether a serializer called `name` is registered. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** The serializer that decodes `contentType`, ignoring case and parameters such as `charset`. */
  byContentType(contentType: string): Serializer | undefined {
    return this.#byType.get(normaliseContentType(contentType));
  }

  /** Names of the registered serializers, sorted. */
  names(): string[] {
    return [...this.#byName.keys()].sort();
  }

  /**
   * Turns a consumer's `accept` list into the set of content types it allows. Entries containing
   * `'/'` are content types and are kept (normalized) even when no serializer handles them; other
   * entries are serializer names.
   *
   * @throws {@link UnknownSerializerError} for an unknown serializer name
   * @throws {@link InvalidArgumentError} for an entry that is not a non-empty string
   */
  resolveAccept(accept: readonly string[]): ReadonlySet<string> {
    if (!Array.isArray(accept))
      throw new InvalidArgumentError(`accept must be an array of strings, got ${describe(accept)}`);
    const types = new Set<string>();
    for (const entry of accept as readonly unknown[]) {
      if (typeof entry !== 'string' || entry.trim() === '') {
        throw new InvalidArgumentError(
          `accept entries must be serializer names or content types, got ${JSON.stringify(entry) ?? String(entry)}`,
        );
      }
      types.add(entry.includes('/') ? normaliseContentType(entry) : normaliseContentType(this.get(entry).contentType));
    }
    return types;
  }

  /**
   * Serializes `body` the way kombu's `dumps` does:
   * - with an explicit `contentType`, the body is sent as is (it must be a string or bytes);
   * - else with a `serializer` name, that serializer is used;
   * - else bytes go out raw (`application/data`, `binary`), strings as `text/plain` `utf-8`, and
   *   anything else as JSON.
   *
   * @throws {@link EncodeError} when the body cannot be serialized
   * @throws {@link UnknownSerializerError} when `serializer` names no registered serializer
   */
  encode(body: unknown, options: EncodeOptions = {}): EncodedBody {
    const { serializer, contentType, contentEncoding } = options;
    // kombu treats an empty content type like a missing one.
    if (contentType !== undefined && contentType !== '') return encodePrepared(body, contentType, contentEncoding);
    if (serializer !== undefined) return run(this.get(serializer), body);
    // Like kombu, bytes and strings are not serialized at all; their wire form is fixed whatever is registered.
    if (isBytes(body)) return run(rawSerializer, body);
    if (typeof body === 'string') return run(textSerializer, body);
    return run(this.get('json'), body);
  }

  /**
   * Deserializes `body` the way kombu's `loads` does. A missing content type means
   * `application/data` (the Buffer is returned). A content type with a registered serializer is
   * decoded by it; any other is returned as a Buffer when `contentEncoding` is `'binary'` or
   * missing, else as a string in that charset.
   *
   * This does not check the consumer's `accept` list; callers must do that first.
   *
   * @throws {@link DecodeError} when the body is invalid or its charset is unsupported
   */
  decode(body: Buffer, contentType: string | undefined, contentEncoding: string | undefined): unknown {
    if (!isBytes(body)) throw new InvalidArgumentError(`the body to decode must be a Buffer, got ${describe(body)}`);
    const bytes = asBuffer(body);
    // Consecutive messages nearly always share their labels: the last pair's lookup is kept.
    const last = this.#lastDecode;
    if (last !== undefined && last.contentType === contentType && last.contentEncoding === contentEncoding) {
      return decodeWith(last.serializer, last.latin1 ? latin1AsUtf8(bytes) : bytes);
    }
    const type = contentType === undefined || contentType.trim() === '' ? DEFAULT_CONTENT_TYPE : contentType;
    const encoding = contentEncoding === undefined || contentEncoding.trim() === '' ? undefined : contentEncoding;
    const serializer = this.byContentType(type);
    if (serializer !== undefined) {
      const latin1 = needsLatin1(serializer, encoding);
      this.#lastDecode = { contentType, contentEncoding, serializer, latin1 };
      return decodeWith(serializer, latin1 ? latin1AsUtf8(bytes) : bytes);
    }
    const charset = encoding === undefined ? 'binary' : normaliseCharset(encoding);
    if (charset === undefined) {
      throw new DecodeError(`unsupported content encoding '${encoding}' for content type '${type}'`);
    }
    return charset === 'binary' ? bytes : decodeString(bytes, charset);
  }

  #reindex(): void {
    this.#lastDecode = undefined;
    const byType = new Map<string, Serializer>();
    for (const serializer of this.#byName.values())
      byType.set(normaliseContentType(serializer.contentType), serializer);
    this.#byType = byType;
  }

  #unknown(name: string): UnknownSerializerError {
    const known = this.names();
    return new UnknownSerializerError(
      `unknown serializer '${name}'; registered serializers: ${known.length > 0 ? known.join(', ') : '(none)'}`,
    );
  }
}

function checkSerializer(serializer: Serializer): void {
  if (typeof serializer !== 'object' || serializer === null) {
    throw new InvalidArgumentError(`a serializer must be an object, got ${describe(serializer)}`);
  }
  const { name, contentType, contentEncoding } = serializer as Partial<Record<keyof Serializer, unknown>>;
  if (typeof name !== 'string' || name.trim() === '' || name.includes('/')) {
    // A '/' would make the name indistinguishable from a content type in accept lists.
    throw new InvalidArgumentError(
      `a serializer name must be a non-empty string without '/', got ${JSON.stringify(name) ?? String(name)}`,
    );
  }
  if (typeof contentType !== 'string' || !/^[^\s/;]+\/[^\s/;]+$/.test(contentType.trim())) {
    throw new InvalidArgumentError(
      `serializer '${name}' needs a content type like 'application/json', got ${JSON.stringify(contentType) ?? String(contentType)}`,
    );
  }
  if (typeof contentEncoding !== 'string' || contentEncoding.trim() === '') {
    throw new InvalidArgumentError(`serializer '${name}' needs a content encoding such as 'utf-8' or 'binary'`);
  }
  if (typeof serializer.encode !== 'function' || typeof serializer.decode !== 'function') {
    throw new InvalidArgumentError(`serializer '${name}' must have encode and decode functions`);
  }
}

/** Sends an already-serialized body under an explicit content type (kombu's publish with `content_type`). */
function encodePrepared(body: unknown, contentType: string, contentEncoding: string | undefined): EncodedBody {
  if (isBytes(body)) return { body: asBuffer(body), contentType, contentEncoding: contentEncoding ?? 'binary' };
  if (typeof body !== 'string') {
    throw new EncodeError(`with an explicit contentType the body must be a string or Buffer, got ${describe(body)}`);
  }
  const encoding = contentEncoding ?? 'utf-8';
  const charset = normaliseCharset(encoding);
  if (charset === undefined) {
    throw new EncodeError(`unsupported content encoding '${encoding}'; use utf-8, latin1, ascii or binary`);
  }
  return { body: encodeString(body, charset), contentType, contentEncoding: encoding };
}

function run(serializer: Serializer, body: unknown): EncodedBody {
  let bytes: unknown;
  try {
    bytes = serializer.encode(body);
  } catch (err) {
    if (err instanceof SerializationError) throw err;
    // Custom serializers may throw anything; callers should only ever see EncodeError.
    throw new EncodeError(
      `the ${serializer.name} serializer failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  if (!isBytes(bytes)) {
    throw new EncodeError(`the ${serializer.name} serializer returned ${describe(bytes)} instead of a Buffer`);
  }
  return { body: asBuffer(bytes), contentType: serializer.contentType, contentEncoding: serializer.contentEncoding };
}

/** How {@link SerializerRegistry.decode} last resolved a content type and encoding. */
interface LastDecode {
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly serializer: Serializer;
  readonly latin1: boolean;
}

/**
 * Whether a body for `serializer`, labelled `contentEncoding`, is latin1 text to re-encode as UTF-8 first.
 * @throws {@link DecodeError} for an unsupported charset
 */
function needsLatin1(serializer: Serializer, contentEncoding: string | undefined): boolean {
  if (contentEncoding === undefined || normaliseCharset(serializer.contentEncoding) !== 'utf8') return false;
  // A text format labelled with another charset (kombu decodes with the header's charset
  // before parsing); re-encode it as the UTF-8 the serializer expects.
  const charset = normaliseCharset(contentEncoding);
  if (charset === undefined) {
    throw new DecodeError(
      `unsupported content encoding '${contentEncoding}' for content type '${serializer.contentType}'`,
    );
  }
  // ASCII and 'binary' need no conversion: the serializer's own UTF-8 check covers them.
  return charset === 'latin1';
}

function latin1AsUtf8(body: Buffer): Buffer {
  return Buffer.from(decodeString(body, 'latin1'), 'utf8');
}

function decodeWith(serializer: Serializer, input: Buffer): unknown {
  try {
    return serializer.decode(input);
  } catch (err) {
    if (err instanceof SerializationError) throw err;
    throw new DecodeError(
      `the ${serializer.name} serializer failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** A new registry holding the built-in serializers: json, text, raw, msgpack and yaml. */
export function createSerializerRegistry(): SerializerRegistry {
  const registry = new SerializerRegistry();
  for (const serializer of builtinSerializers) registry.register(serializer);
  return registry;
}

/** The process-wide default registry, used when a connection is not given its own. */
export const serializers: SerializerRegistry = createSerializerRegistry();
