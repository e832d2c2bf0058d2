/**
 * Compression registry: compresses serialized bodies and names the method in the `compression`
 * message header, with the header values Python kombu uses.
 *
 * Decompression is always bounded: a small body can inflate to gigabytes, so the output limit is
 * enforced while inflating, not after.
 *
 * @module
 */
import { constants as bufferConstants } from 'node:buffer';
import {
  type BrotliOptions,
  brotliCompressSync,
  brotliDecompressSync,
  deflateRawSync,
  deflateSync,
  gzipSync,
  inflateRawSync,
  unzipSync,
  type ZlibOptions,
  constants as zlibConstants,
} from 'node:zlib';
import {
  DecodeError,
  EncodeError,
  InvalidArgumentError,
  PayloadTooLargeError,
  SerializationError,
  UnknownSerializerError,
} from '../errors.js';
import { asBuffer } from './builtin-serializers.js';
import type { Compressor } from './compressor.js';
import { optionalCompressors } from './optional-compressors.js';

export type { Compressor } from './compressor.js';

/** A compressed body and the value for its `compression` header. */
export interface CompressedBody {
  /** The compressed bytes. */
  readonly body: Buffer;
  /** Value for the `compression` header: the compressor's content type. */
  readonly header: string;
}

const LIMIT_WHAT = 'decompressed body';

function checkLimit(maxOutputBytes: number): void {
  if (maxOutputBytes !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0)) {
    throw new InvalidArgumentError(
      `maxOutputBytes must be a non-negative integer or Infinity, got ${String(maxOutputBytes)}`,
    );
  }
}

type Inflate = (body: Buffer, options: ZlibOptions & BrotliOptions) => Buffer;

/** Runs a node:zlib decompressor with its output capped at `maxOutputBytes`. */
function inflateBounded(inflate: Inflate, format: string, body: Buffer, maxOutputBytes: number): Buffer {
  checkLimit(maxOutputBytes);
  // node:zlib accepts 1..MAX_LENGTH; a limit of 0 is enforced by the length check below.
  const maxOutputLength = Math.min(Math.max(maxOutputBytes, 1), bufferConstants.MAX_LENGTH);
  let out: Buffer;
  try {
    out = inflate(body, { maxOutputLength });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      // Inflating stopped at the limit, so the true size is unknown; limit + 1 is a lower bound.
      throw new PayloadTooLargeError(maxOutputBytes + 1, maxOutputBytes, LIMIT_WHAT);
    }
    throw new DecodeError(
      `the body is not valid ${format} data (${err instanceof Error ? err.message : String(err)})`,
      { cause: err },
    );
  }
  if (out.byteLength > maxOutputBytes) throw new PayloadTooLargeError(out.byteLength, maxOutputBytes, LIMIT_WHAT);
  return out;
}

/**
 * zlib-framed deflate (RFC 1950; the output starts `0x78 0x9c`), labelled `application/x-gzip`.
 */
export const zlibCompressor: Compressor = Object.freeze({
  name: 'zlib',
  // The label is wrong but it is what Python kombu writes for zlib.compress() output (and reads
  // back with zlib.decompress()), so it is the value Python peers understand.
  contentType: 'application/x-gzip',
  aliases: Object.freeze([]),
  compress: (body: Buffer): Buffer => deflateSync(body),
  // unzip detects the framing, so genuine gzip sent under the misleading x-gzip label by non-kombu
  // producers is read as well.
  decompress: (body: Buffer, maxOutputBytes: number): Buffer => inflateBounded(unzipSync, 'zlib', body, maxOutputBytes),
});

/** Real gzip framing (RFC 1952; the output starts `0x1f 0x8b`), labelled `application/gzip`. */
export const gzipCompressor: Compressor = Object.freeze({
  name: 'gzip',
  contentType: 'application/gzip',
  aliases: Object.freeze([]),
  compress: (body: Buffer): Buffer => gzipSync(body),
  decompress: (body: Buffer, maxOutputBytes: number): Buffer => inflateBounded(unzipSync, 'gzip', body, maxOutputBytes),
});

/** Raw deflate (RFC 1951, no framing), labelled `application/x-deflate`. */
export const deflateCompressor: Compressor = Object.freeze({
  name: 'deflate',
  contentType: 'application/x-deflate',
  aliases: Object.freeze([]),
  compress: (body: Buffer): Buffer => deflateRawSync(body),
  decompress: (body: Buffer, maxOutputBytes: number): Buffer =>
    inflateBounded(inflateRawSync, 'raw deflate', body, maxOutputBytes),
});

/**
 * Brotli quality used when compressing. The library default (11) compresses a few hundred KB per
 * second, too slow to sit in a publish path; 5 keeps most of the ratio at many times the speed.
 */
const BROTLI_QUALITY = 5;

/** Brotli, labelled `application/x-brotli` (as in kombu); also found as `'br'`. */
export const brotliCompressor: Compressor = Object.freeze({
  name: 'brotli',
  contentType: 'application/x-brotli',
  aliases: Object.freeze(['br']),
  compress: (body: Buffer): Buffer =>
    brotliCompressSync(body, {
      params: {
        [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
        [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.byteLength,
      },
    }),
  decompress: (body: Buffer, maxOutputBytes: number): Buffer =>
    inflateBounded(brotliDecompressSync, 'brotli', body, maxOutputBytes),
});

/** Every built-in compressor, in the order a fresh registry registers them. */
export const builtinCompressors: readonly Compressor[] = Object.freeze([
  zlibCompressor,
  gzipCompressor,
  deflateCompressor,
  brotliCompressor,
]);

function key(nameOrAliasOrContentType: string): string {
  return nameOrAliasOrContentType.trim().toLowerCase();
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function checkCompressor(compressor: Compressor): void {
  if (typeof compressor !== 'object' || compressor === null) {
    throw new InvalidArgumentError(
      `a compressor must be an object, got ${compressor === null ? 'null' : typeof compressor}`,
    );
  }
  const { name, contentType, aliases } = compressor as Partial<Record<keyof Compressor, unknown>>;
  if (!isNonEmptyString(name))
    throw new InvalidArgumentError(`a compressor name must be a non-empty string, got ${String(name)}`);
  if (!isNonEmptyString(contentType))
    throw new InvalidArgumentError(`compressor '${name}' needs a content type (its header value)`);
  if (!Array.isArray(aliases) || !aliases.every(isNonEmptyString)) {
    throw new InvalidArgumentError(`compressor '${name}' needs aliases as an array of non-empty strings`);
  }
  if (typeof compressor.compress !== 'function' || typeof compressor.decompress !== 'function') {
    throw new InvalidArgumentError(`compressor '${name}' must have compress and decompress functions`);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The compression methods known to a process or connection, found by name, alias or header value
 * (all case-insensitive). When two compressors claim the same alias or header value, the newer wins;
 * a name always finds the compressor registered under it.
 */
export class CompressionRegistry {
  readonly #byName = new Map<string, Compressor>();
  #index = new Map<string, Compressor>();

  /**
   * Adds `compressor`, replacing any compressor with the same name.
   *
   * @throws {@link InvalidArgumentError} when the compressor is malformed
   */
  register(compressor: Compressor): this {
    checkCompressor(compressor);
    const name = key(compressor.name);
    this.#byName.delete(name);
    this.#byName.set(name, compressor);
    this.#reindex();
    return this;
  }

  /**
   * Removes the compressor found by `nameOrAlias` (a header value works too).
   *
   * @throws {@link UnknownSerializerError} when nothing matches
   */
  unregister(nameOrAlias: string): void {
    this.#byName.delete(key(this.get(nameOrAlias).name));
    this.#reindex();
  }

  /**
   * The compressor with this name, alias or header value.
   *
   * @throws {@link UnknownSerializerError} when nothing matches; the message lists the known names
   */
  get(nameOrAliasOrContentType: string): Compressor {
    const compressor =
      typeof nameOrAliasOrContentType === 'string' ? this.#index.get(key(nameOrAliasOrContentType)) : undefined;
    if (compressor === undefined) {
      const known = this.names();
      throw new UnknownSerializerError(
        `unknown compression '${String(nameOrAliasOrContentType)}'; registered compressions: ${known.length > 0 ? known.join(', ') : '(none)'}`,
      );
    }
    return compressor;
  }

  /** Whether a compressor has this name, alias or header value. */
  has(nameOrAliasOrContentType: string): boolean {
    return this.#index.has(key(nameOrAliasOrContentType));
  }

  /** Names of the registered compressors, sorted. */
  names(): string[] {
    return [...this.#byName.values()].map((c) => c.name).sort();
  }

  /**
   * Compresses `body` with the compressor found by `name` (or alias or header value).
   *
   * @returns the compressed bytes and the value for the `compression` header
   * @throws {@link UnknownSerializerError} when nothing matches `name`
   * @throws {@link EncodeError} when compressing fails
   */
  compress(name: string, body: Buffer): CompressedBody {
    const compressor = this.get(name);
    const input = toBuffer(body);
    try {
      return { body: compressor.compress(input), header: compressor.contentType };
    } catch (err) {
      if (err instanceof SerializationError) throw err;
      throw new EncodeError(`${compressor.name} compression failed: ${message(err)}`, { cause: err });
    }
  }

  /**
   * Decompresses a body whose `compression` header is `header`, producing at most
   * `maxOutputBytes` bytes (`Infinity` leaves only Node's own Buffer limit).
   *
   * @throws {@link UnknownSerializerError} when no compressor matches `header`
   * @throws {@link PayloadTooLargeError} when the output would exceed `maxOutputBytes`
   * @throws {@link DecodeError} when the body is not valid compressed data
   * @throws {@link InvalidArgumentError} when `maxOutputBytes` is negative or not an integer
   */
  decompress(header: string, body: Buffer, maxOutputBytes: number): Buffer {
    checkLimit(maxOutputBytes);
    const compressor = this.get(header);
    const input = toBuffer(body);
    let out: Buffer;
    try {
      out = compressor.decompress(input, maxOutputBytes);
    } catch (err) {
      if (err instanceof SerializationError) throw err;
      throw new DecodeError(`${compressor.name} decompression failed: ${message(err)}`, { cause: err });
    }
    // Custom compressors may not honour the limit; the caller's bound must hold regardless.
    if (out.byteLength > maxOutputBytes) throw new PayloadTooLargeError(out.byteLength, maxOutputBytes, LIMIT_WHAT);
    return out;
  }

  #reindex(): void {
    const index = new Map<string, Compressor>();
    for (const compressor of this.#byName.values()) {
      index.set(key(compressor.contentType), compressor);
      for (const alias of compressor.aliases) index.set(key(alias), compressor);
    }
    // Names go last so that no other compressor's alias or header value can shadow them.
    for (const [name, compressor] of this.#byName) index.set(name, compressor);
    this.#index = index;
  }
}

function toBuffer(body: unknown): Buffer {
  if (!(body instanceof Uint8Array)) {
    throw new InvalidArgumentError(`the body must be a Buffer, got ${body === null ? 'null' : typeof body}`);
  }
  return asBuffer(body);
}

/**
 * A new registry holding the built-in compressors (zlib, gzip, deflate and brotli) and the ones whose
 * codecs are optional dependencies, loaded on first use (bzip2, lzma and zstd).
 */
export function createCompressionRegistry(): CompressionRegistry {
  const registry = new CompressionRegistry();
  for (const compressor of [...builtinCompressors, ...optionalCompressors]) registry.register(compressor);
  return registry;
}

/** The process-wide default compression registry, used when a connection is not given its own. */
export const compressors: CompressionRegistry = createCompressionRegistry();
