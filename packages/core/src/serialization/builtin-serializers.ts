/**
 * The serializers every registry starts with. Names, content types and content encodings are the
 * ones Python kombu puts on the wire, so a Python peer can read what Wakame writes and vice versa.
 *
 * None of them can run code while decoding: there is no pickle, no `eval`, and YAML is read with
 * the core schema and no custom tags.
 *
 * @module
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { CreateNodeOptions, DocumentOptions, ParseOptions, SchemaOptions, ToStringOptions } from 'yaml';
import { parseDocument, stringify as stringifyYaml } from 'yaml';
import { DecodeError, EncodeError } from '../errors.js';
import type { Serializer } from './serializer.js';

/**
 * A character set the registry can encode strings to and decode them from. `'binary'` means "raw
 * bytes, do not decode" (kombu's meaning), not Node's alias for latin1.
 *
 * @internal
 */
export type Charset = 'utf8' | 'latin1' | 'ascii' | 'binary';

const CHARSETS: ReadonlyMap<string, Charset> = new Map<string, Charset>([
  ['utf-8', 'utf8'],
  ['utf8', 'utf8'],
  ['latin1', 'latin1'],
  ['latin-1', 'latin1'],
  ['iso-8859-1', 'latin1'],
  ['ascii', 'ascii'],
  ['us-ascii', 'ascii'],
  ['binary', 'binary'],
  // Ruby and some AMQP clients label raw bytes this way; kombu treats it like 'binary'.
  ['ascii-8bit', 'binary'],
]);

/**
 * Maps a `content_encoding` header value to a supported charset, or `undefined` when unsupported.
 *
 * @internal
 */
export function normaliseCharset(contentEncoding: string): Charset | undefined {
  return CHARSETS.get(contentEncoding.trim().toLowerCase());
}

// Fatal so that invalid UTF-8 fails like it does for Python peers instead of turning into U+FFFD.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes `text` in `charset`, refusing characters the charset cannot hold rather than mangling them
 * the way `Buffer.from(text, 'ascii')` silently would.
 *
 * @internal
 */
export function encodeString(text: string, charset: Charset): Buffer {
  if (charset === 'utf8') return Buffer.from(text, 'utf8');
  const limit = charset === 'ascii' ? 0x7f : 0xff;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > limit) {
      throw new EncodeError(
        `the body contains the character U+${text.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')} at index ${i}, which ${charset} cannot encode`,
      );
    }
  }
  return Buffer.from(text, 'latin1');
}

/**
 * Decodes `body` as `charset` text; invalid input is a {@link DecodeError}. `'binary'` decodes as
 * latin1 so that every byte maps to one character.
 *
 * @internal
 */
export function decodeString(body: Uint8Array, charset: Charset): string {
  if (charset === 'utf8') {
    try {
      return utf8Decoder.decode(body);
    } catch (err) {
      throw new DecodeError(`the body is not valid UTF-8 (starts with ${excerpt(body)})`, { cause: err });
    }
  }
  if (charset === 'ascii') {
    const at = body.findIndex((byte) => byte > 0x7f);
    if (at !== -1) throw new DecodeError(`the body is not ASCII: byte ${at} is 0x${body[at]?.toString(16)}`);
  }
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
}

const EXCERPT_BYTES = 32;

/**
 * A short, quoted, escaped excerpt of a body for error messages; bodies can be megabytes and can
 * hold secrets, so messages never carry more than this.
 *
 * @internal
 */
export function excerpt(body: Uint8Array): string {
  const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, EXCERPT_BYTES));
  return `${JSON.stringify(head.toString('utf8'))}${body.byteLength > EXCERPT_BYTES ? '…' : ''}`;
}

/**
 * Views `bytes` as a Buffer without copying.
 *
 * @internal
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** JSON, kombu's default serializer: `application/json`, `utf-8`. */
export const jsonSerializer: Serializer = Object.freeze({
  name: 'json',
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  encode(value: unknown): Buffer {
    if (value === undefined) throw new EncodeError('json cannot encode undefined; send null instead');
    let text: string | undefined;
    try {
      // No replacer: it makes stringify several times slower on the publish hot path. BigInt and
      // cycles still fail (TypeError); functions and symbols inside objects are dropped, as JS does.
      text = JSON.stringify(value);
    } catch (err) {
      throw new EncodeError(`json could not encode the body: ${reason(err)}`, { cause: err });
    }
    if (text === undefined) throw new EncodeError(`json cannot encode a ${describe(value)}`);
    return Buffer.from(text, 'utf8');
  },
  decode(body: Buffer): unknown {
    const text = decodeString(body, 'utf8');
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new DecodeError(`invalid JSON (${reason(err)}); the body starts with ${excerpt(body)}`, { cause: err });
    }
  },
});

/** Plain text: `text/plain`, `utf-8`. Encodes strings only; decodes to a string. */
export const textSerializer: Serializer = Object.freeze({
  name: 'text',
  contentType: 'text/plain',
  contentEncoding: 'utf-8',
  encode(value: unknown): Buffer {
    if (typeof value !== 'string')
      throw new EncodeError(`the text serializer encodes strings only, got ${describe(value)}`);
    return Buffer.from(value, 'utf8');
  },
  decode(body: Buffer): unknown {
    return decodeString(body, 'utf8');
  },
});

/** Raw bytes: `application/data`, `binary`. Encodes Buffers and Uint8Arrays; decodes to a Buffer. */
export const rawSerializer: Serializer = Object.freeze({
  name: 'raw',
  contentType: 'application/data',
  contentEncoding: 'binary',
  encode(value: unknown): Buffer {
    if (!(value instanceof Uint8Array)) {
      throw new EncodeError(`the raw serializer encodes Buffers and Uint8Arrays only, got ${describe(value)}`);
    }
    return asBuffer(value);
  },
  decode(body: Buffer): unknown {
    return body;
  },
});

const msgpackEncoder = new Encoder({ ignoreUndefined: false });
const msgpackDecoder = new Decoder({
  // Object keys are strings in JS anyway; anything but a string or number (nil, binary, a nested
  // map) has no faithful key form, and Python's msgpack refuses such keys by default too.
  mapKeyConverter(key: unknown): string {
    if (typeof key === 'string') return key;
    if (typeof key === 'number') return String(key);
    throw new DecodeError(`msgpack map keys must be strings or numbers, got ${describe(key)}`);
  },
});

/**
 * MessagePack: `application/x-msgpack`, `binary`, compatible with kombu's `use_bin_type=True` /
 * `raw=False`. Binary values decode to Buffers that share memory with the body; timestamps to Date.
 * Extension types never run code.
 */
export const msgpackSerializer: Serializer = Object.freeze({
  name: 'msgpack',
  contentType: 'application/x-msgpack',
  contentEncoding: 'binary',
  encode(value: unknown): Buffer {
    if (value === undefined) throw new EncodeError('msgpack cannot encode undefined; send null instead');
    try {
      return asBuffer(msgpackEncoder.encode(value));
    } catch (err) {
      // The encoder gives up at depth 100, which is how a circular value shows up.
      const hint = /too deep/i.test(reason(err)) ? ' (is it circular?)' : '';
      throw new EncodeError(`msgpack could not encode the body: ${reason(err)}${hint}`, { cause: err });
    }
  },
  decode(body: Buffer): unknown {
    try {
      return msgpackDecoder.decode(body);
    } catch (err) {
      if (err instanceof DecodeError) throw err;
      throw new DecodeError(`invalid msgpack (${reason(err)}); the body is ${body.byteLength} bytes`, { cause: err });
    }
  },
});

/** How many alias expansions a YAML body may ask for before it counts as a "billion laughs" attack. */
const YAML_MAX_ALIAS_COUNT = 100;

const yamlParseOptions: ParseOptions & DocumentOptions & SchemaOptions = {
  schema: 'core',
  // No custom tags: a tag like !!js/function is left unresolved, which decode treats as an error.
  customTags: [],
  uniqueKeys: true,
  // Problems are read from doc.errors and doc.warnings; 'error' keeps the library from logging
  // warnings, while 'silent' would also drop the error for a body holding several documents.
  logLevel: 'error',
};

const yamlStringifyOptions: DocumentOptions & SchemaOptions & CreateNodeOptions & ToStringOptions = {
  schema: 'core',
  customTags: [],
  // Python peers read YAML 1.1, where e.g. `yes`, `no`, `on` and `012` are not strings;
  // this quotes such strings so both versions read the same value.
  compat: 'yaml-1.1',
  // Anchors for shared objects would count against the reader's alias limit.
  aliasDuplicateObjects: false,
};

/**
 * YAML: `application/x-yaml`, `utf-8`, read with the YAML 1.2 core schema and no custom tags (the
 * equivalent of PyYAML's `safe_load`). Unknown tags, duplicate keys, several documents and alias
 * bombs are refused with a {@link DecodeError}.
 */
export const yamlSerializer: Serializer = Object.freeze({
  name: 'yaml',
  contentType: 'application/x-yaml',
  contentEncoding: 'utf-8',
  encode(value: unknown): Buffer {
    if (value === undefined) throw new EncodeError('yaml cannot encode undefined; send null instead');
    let text: string | undefined;
    try {
      text = stringifyYaml(value, yamlStringifyOptions);
    } catch (err) {
      // Circular values recurse until the stack overflows, since anchors are disabled.
      const why = err instanceof RangeError ? 'the body is circular or too deeply nested' : reason(err);
      throw new EncodeError(`yaml could not encode the body: ${why}`, { cause: err });
    }
    if (text === undefined) throw new EncodeError(`yaml cannot encode a ${describe(value)}`);
    return Buffer.from(text, 'utf8');
  },
  decode(body: Buffer): unknown {
    const text = decodeString(body, 'utf8');
    const doc = parseDocument(text, yamlParseOptions);
    // Warnings include unresolved tags, which the library would otherwise quietly turn into strings.
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem !== undefined) {
      const first = (problem.message.split('\n', 1)[0] ?? problem.code).replace(/:$/, '');
      throw new DecodeError(`invalid YAML (${first})`, { cause: problem });
    }
    try {
      return doc.toJS({ maxAliasCount: YAML_MAX_ALIAS_COUNT });
    } catch (err) {
      throw new DecodeError(`invalid YAML (${reason(err)})`, { cause: err });
    }
  },
});

/** Every built-in serializer, in the order a fresh registry registers them. */
export const builtinSerializers: readonly Serializer[] = Object.freeze([
  jsonSerializer,
  textSerializer,
  rawSerializer,
  msgpackSerializer,
  yamlSerializer,
]);
