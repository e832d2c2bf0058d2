/**
 * bzip2, lzma (xz) and zstd compressors, with the header values and aliases of Python kombu's
 * `kombu/compression.py`. Their codecs are optional dependencies of `@wakame/core`, loaded on first
 * use, so a process that never sees these methods never loads them; a missing codec fails with a
 * {@link CompressionNotInstalledError} naming the package to install.
 *
 * Each decompressor keeps the output bound of {@link Compressor.decompress}:
 * - bzip2 (`seek-bzip`) and zstd (`node:zlib` where Node has it, else `fzstd`) inflate incrementally and
 *   stop as soon as the output passes the bound;
 * - xz (`@napi-rs/lzma`) only inflates whole buffers, so the uncompressed sizes that the xz index
 *   declares are summed and checked before inflating, and the real size after.
 *
 * @module
 */
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { CompressionNotInstalledError, DecodeError, EncodeError, PayloadTooLargeError } from '../errors.js';
import type { Compressor } from './compressor.js';

const LIMIT_WHAT = 'decompressed body';
const require = createRequire(import.meta.url);
const loaded = new Map<string, unknown>();

/** Loads an optional codec module once; a missing one becomes a {@link CompressionNotInstalledError}. */
function load<T>(compression: string, moduleName: string): T {
  if (!loaded.has(moduleName)) {
    try {
      loaded.set(moduleName, require(moduleName));
    } catch (err) {
      throw new CompressionNotInstalledError(compression, [moduleName], { cause: err });
    }
  }
  return loaded.get(moduleName) as T;
}

function decodeError(format: string, err: unknown): DecodeError {
  return new DecodeError(`the body is not valid ${format} data (${err instanceof Error ? err.message : String(err)})`, {
    cause: err,
  });
}

/** Thrown by output sinks to stop a decoder at the bound; told apart from the decoder's own errors. */
class OverLimit extends Error {}

/** Collects decoder output in chunks and stops the decoder (by throwing) once past `limit`. */
class BoundedSink {
  readonly #chunks: Buffer[] = [];
  #pending: number[] = [];
  #size = 0;
  constructor(readonly limit: number) {}
  push(chunk: Uint8Array): void {
    this.#size += chunk.byteLength;
    if (this.#size > this.limit) throw new OverLimit();
    this.#chunks.push(Buffer.from(chunk));
  }
  writeByte(byte: number): void {
    // seek-bzip writes byte by byte; batching keeps it from allocating a Buffer per byte.
    if (++this.#size > this.limit) throw new OverLimit();
    this.#pending.push(byte);
    if (this.#pending.length >= 65536) this.#flush();
  }
  result(): Buffer {
    this.#flush();
    return Buffer.concat(this.#chunks);
  }
  #flush(): void {
    if (this.#pending.length > 0) this.#chunks.push(Buffer.from(this.#pending));
    this.#pending = [];
  }
}

/** Runs `decode` into a bounded sink, mapping the bound to PayloadTooLargeError and failures to DecodeError. */
function bounded(format: string, limit: number, decode: (sink: BoundedSink) => void): Buffer {
  const sink = new BoundedSink(limit);
  try {
    decode(sink);
  } catch (err) {
    // Decoding stopped at the limit, so the true size is unknown; limit + 1 is a lower bound.
    if (err instanceof OverLimit) throw new PayloadTooLargeError(limit + 1, limit, LIMIT_WHAT);
    throw decodeError(format, err);
  }
  return sink.result();
}

interface SeekBzip {
  decode(input: Buffer, output: { writeByte(byte: number): void }, multistream?: boolean): unknown;
}
interface CompressJs {
  Bzip2: { compressFile(input: Uint8Array, output?: undefined, blockSizeMultiplier?: number): number[] | Uint8Array };
}

/** bzip2, labelled `application/x-bz2` (as in kombu); also found as `'bzip'` and `'bz2'`. */
export const bzip2Compressor: Compressor = Object.freeze({
  name: 'bzip2',
  contentType: 'application/x-bz2',
  aliases: Object.freeze(['bzip', 'bz2']),
  compress(body: Buffer): Buffer {
    // Level 9 (900 kB blocks), the default of Python's bz2.compress.
    return Buffer.from(load<CompressJs>('bzip2', 'compressjs').Bzip2.compressFile(body, undefined, 9));
  },
  decompress(body: Buffer, maxOutputBytes: number): Buffer {
    const bunzip = load<SeekBzip>('bzip2', 'seek-bzip');
    // multistream: Python's bz2.decompress reads concatenated streams too.
    return bounded('bzip2', maxOutputBytes, (sink) => bunzip.decode(body, sink, true));
  },
});

interface NapiLzma {
  xz: { compressSync(input: Uint8Array): Buffer; decompressSync(input: Uint8Array): Buffer };
}

/** Reads an xz variable-length integer (little-endian base-128) at `at`. */
function readVli(buf: Buffer, at: number): [value: number, next: number] {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    const byte = buf[at + i];
    if (byte === undefined) throw new Error('truncated xz index');
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return [value, at + i + 1];
  }
  throw new Error('malformed xz index');
}

/**
 * The uncompressed size an xz body declares: the sum over its streams (read back to front, as xz
 * allows concatenation and zero padding) of the sizes in each stream's index.
 */
export function xzDeclaredSize(buf: Buffer): number {
  let end = buf.byteLength;
  let total = 0;
  while (end > 0) {
    while (end >= 4 && buf.readUInt32LE(end - 4) === 0) end -= 4; // stream padding
    if (end === 0) break;
    if (end < 24 || buf[end - 2] !== 0x59 || buf[end - 1] !== 0x5a) throw new Error('no xz stream footer');
    const footer = end - 12;
    const indexSize = (buf.readUInt32LE(footer + 4) + 1) * 4;
    const index = footer - indexSize;
    if (index < 12 || buf[index] !== 0) throw new Error('no xz index');
    let [records, at] = readVli(buf, index + 1);
    let blocks = 0;
    for (; records > 0; records--) {
      const [unpadded, next] = readVli(buf, at);
      const [uncompressed, after] = readVli(buf, next);
      blocks += Math.ceil(unpadded / 4) * 4;
      total += uncompressed;
      at = after;
    }
    end = index - blocks - 12; // blocks, then the 12-byte stream header
    if (end < 0) throw new Error('xz index sizes exceed the body');
  }
  return total;
}

/**
 * lzma in the xz container, labelled `application/x-lzma` (as in kombu, whose `lzma.compress`
 * writes xz); also found as `'lzma'` and `'xz'`.
 */
export const lzmaCompressor: Compressor = Object.freeze({
  name: 'lzma',
  contentType: 'application/x-lzma',
  aliases: Object.freeze(['xz']),
  compress: (body: Buffer): Buffer => load<NapiLzma>('lzma', '@napi-rs/lzma').xz.compressSync(body),
  decompress(body: Buffer, maxOutputBytes: number): Buffer {
    const { xz } = load<NapiLzma>('lzma', '@napi-rs/lzma');
    let declared: number;
    try {
      declared = xzDeclaredSize(body);
    } catch (err) {
      throw decodeError('xz', err);
    }
    if (declared > maxOutputBytes) throw new PayloadTooLargeError(declared, maxOutputBytes, LIMIT_WHAT);
    let out: Buffer;
    try {
      out = xz.decompressSync(body);
    } catch (err) {
      throw decodeError('xz', err);
    }
    // The decoder checks the index against the blocks; this catches any that does not.
    if (out.byteLength > maxOutputBytes) throw new PayloadTooLargeError(out.byteLength, maxOutputBytes, LIMIT_WHAT);
    return out;
  },
});

type ZlibZstd = {
  zstdCompressSync?: (body: Buffer) => Buffer;
  zstdDecompressSync?: (body: Buffer, options: { maxOutputLength: number }) => Buffer;
};
interface Fzstd {
  Decompress: new (
    ondata: (chunk: Uint8Array, final?: boolean) => void,
  ) => { push(chunk: Uint8Array, final?: boolean): void };
}

// node:zlib has zstd from Node 22.15 / 23.8; on older Nodes decompression falls back to fzstd.
const nodeZstd = zlib as unknown as ZlibZstd;

/**
 * Zstandard, labelled `application/zstd` (as in kombu); also found as `'zstandard'`. Uses
 * `node:zlib` where Node has zstd (22.15+); elsewhere decompresses with the optional `fzstd` and
 * cannot compress (fzstd only decodes), failing with an {@link EncodeError} that says so.
 */
export const zstdCompressor: Compressor = Object.freeze({
  name: 'zstd',
  contentType: 'application/zstd',
  aliases: Object.freeze(['zstandard']),
  compress(body: Buffer): Buffer {
    if (nodeZstd.zstdCompressSync === undefined) {
      throw new EncodeError(
        `zstd compression needs Node 22.15 or later (node:zlib zstd); this is Node ${process.versions.node}, which can only decompress zstd (with fzstd)`,
      );
    }
    return nodeZstd.zstdCompressSync(body);
  },
  decompress(body: Buffer, maxOutputBytes: number): Buffer {
    if (nodeZstd.zstdDecompressSync !== undefined) {
      let out: Buffer;
      try {
        out = nodeZstd.zstdDecompressSync(body, { maxOutputLength: Math.max(maxOutputBytes, 1) });
      } catch (err) {
        if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new PayloadTooLargeError(maxOutputBytes + 1, maxOutputBytes, LIMIT_WHAT);
        }
        throw decodeError('zstd', err);
      }
      if (out.byteLength > maxOutputBytes) throw new PayloadTooLargeError(out.byteLength, maxOutputBytes, LIMIT_WHAT);
      return out;
    }
    const { Decompress } = load<Fzstd>('zstd', 'fzstd');
    return bounded('zstd', maxOutputBytes, (sink) => {
      const stream = new Decompress((chunk) => sink.push(chunk));
      stream.push(body, true);
    });
  },
});

/** The compressors whose codecs are optional dependencies, registered in every fresh registry. */
export const optionalCompressors: readonly Compressor[] = Object.freeze([
  bzip2Compressor,
  lzmaCompressor,
  zstdCompressor,
]);
