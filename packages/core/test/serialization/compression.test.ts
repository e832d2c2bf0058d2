import { deflateSync, gunzipSync, gzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PayloadTooLargeError } from '../../src/errors.js';
import {
  CompressionRegistry,
  type Compressor,
  compressors,
  createCompressionRegistry,
} from '../../src/serialization/index.js';

/** Runs `fn` and returns what it threw, failing the test when it does not throw. */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  return expect.unreachable('expected the call to throw');
}

const MiB = 1024 * 1024;
const sample = Buffer.from(`${'wakame 🌊 kombu '.repeat(200)}${'\u0000\u00ff'.repeat(50)}`);

describe('built-in compressors', () => {
  const registry = createCompressionRegistry();

  it('registers zlib, gzip, deflate, brotli, bzip2, lzma and zstd with kombu-compatible header values', () => {
    expect(registry.names()).toEqual(['brotli', 'bzip2', 'deflate', 'gzip', 'lzma', 'zlib', 'zstd']);
    expect(registry.names().map((n) => registry.get(n).contentType)).toEqual([
      'application/x-brotli',
      'application/x-bz2',
      'application/x-deflate',
      'application/gzip',
      'application/x-lzma',
      'application/x-gzip',
      'application/zstd',
    ]);
  });

  it.each(['zlib', 'gzip', 'deflate', 'brotli'])('%s compresses and decompresses', (name) => {
    const { body, header } = registry.compress(name, sample);
    expect(header).toBe(registry.get(name).contentType);
    expect(body.byteLength).toBeLessThan(sample.byteLength);
    expect(registry.decompress(header, body, MiB)).toEqual(sample);
    expect(registry.decompress(header, registry.compress(name, Buffer.alloc(0)).body, MiB)).toEqual(Buffer.alloc(0));
  });

  it('zlib writes RFC 1950 data labelled application/x-gzip, like kombu', () => {
    const { body, header } = registry.compress('zlib', sample);
    expect(header).toBe('application/x-gzip');
    expect(body[0]).toBe(0x78);
    expect(body[1]).toBe(0x9c);
    expect(inflateSync(body)).toEqual(sample);
  });

  it('zlib reads what a kombu peer writes, and genuine gzip under the same label', () => {
    expect(registry.decompress('application/x-gzip', deflateSync(sample), MiB)).toEqual(sample);
    expect(registry.decompress('application/x-gzip', gzipSync(sample), MiB)).toEqual(sample);
  });

  it('gzip writes real gzip framing', () => {
    const { body } = registry.compress('gzip', sample);
    expect([body[0], body[1]]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(body)).toEqual(sample);
  });

  it('deflate writes raw deflate', () => {
    expect(inflateRawSync(registry.compress('deflate', sample).body)).toEqual(sample);
  });

  it.each(['zlib', 'gzip', 'deflate', 'brotli'])('%s stops inflating a 10 MiB bomb at a 1 MiB limit', (name) => {
    const { body, header } = registry.compress(name, Buffer.alloc(10 * MiB));
    expect(body.byteLength).toBeLessThan(64 * 1024);
    const err = thrown(() => registry.decompress(header, body, MiB));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err.code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect((err as PayloadTooLargeError).limit).toBe(MiB);
    expect(err.message).toContain('decompressed body');
  });

  it('accepts output of exactly the limit and refuses one byte more', () => {
    const { body, header } = registry.compress('zlib', Buffer.alloc(1000, 7));
    expect(registry.decompress(header, body, 1000).byteLength).toBe(1000);
    expect(thrown(() => registry.decompress(header, body, 999)).code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect(thrown(() => registry.decompress(header, body, 0)).code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect(registry.decompress(header, body, Number.POSITIVE_INFINITY).byteLength).toBe(1000);
  });

  it('refuses a bad limit', () => {
    const { body, header } = registry.compress('zlib', sample);
    for (const limit of [-1, 1.5, Number.NaN]) {
      expect(thrown(() => registry.decompress(header, body, limit)).code).toBe('ERR_INVALID_ARGUMENT');
    }
  });

  it.each(['zlib', 'gzip', 'deflate', 'brotli'])('%s reports corrupt and truncated input as DecodeError', (name) => {
    const { body, header } = registry.compress(name, sample);
    const garbage = Buffer.from('this is not compressed data at all, not even slightly');
    expect(thrown(() => registry.decompress(header, garbage, MiB)).code).toBe('ERR_DECODE');
    expect(thrown(() => registry.decompress(header, body.subarray(0, body.byteLength >> 1), MiB)).code).toBe(
      'ERR_DECODE',
    );
  });
});

describe('CompressionRegistry lookups', () => {
  it('finds compressors by name, alias and header value, ignoring case', () => {
    const registry = createCompressionRegistry();
    expect(registry.get('br').name).toBe('brotli');
    expect(registry.get('BROTLI').name).toBe('brotli');
    expect(registry.get('application/x-brotli').name).toBe('brotli');
    expect(registry.get('application/x-gzip').name).toBe('zlib');
    expect(registry.get('application/gzip').name).toBe('gzip');
    expect(registry.has('application/x-deflate')).toBe(true);
    expect(registry.has('lz4')).toBe(false);
    expect(registry.decompress('br', registry.compress('application/x-brotli', sample).body, MiB)).toEqual(sample);
  });

  it('throws UnknownSerializerError listing the known names', () => {
    const err = thrown(() => compressors.get('lz4'));
    expect(err.code).toBe('ERR_UNKNOWN_SERIALIZER');
    expect(err.message).toContain('lz4');
    expect(err.message).toContain('brotli, bzip2, deflate, gzip, lzma, zlib, zstd');
    expect(thrown(() => compressors.decompress('application/x-lz4', sample, MiB)).code).toBe('ERR_UNKNOWN_SERIALIZER');
  });
});

describe('CompressionRegistry management', () => {
  const reverse: Compressor = {
    name: 'reverse',
    contentType: 'application/x-reverse',
    aliases: ['rev'],
    compress: (body) => Buffer.from(body).reverse(),
    decompress: (body) => Buffer.from(body).reverse(),
  };

  it('registers and unregisters a custom compressor by alias', () => {
    const registry = createCompressionRegistry();
    expect(registry.register(reverse)).toBe(registry);
    expect(registry.compress('rev', Buffer.from('abc'))).toEqual({
      body: Buffer.from('cba'),
      header: 'application/x-reverse',
    });
    expect(registry.decompress('application/x-reverse', Buffer.from('cba'), 10)).toEqual(Buffer.from('abc'));
    registry.unregister('rev');
    expect(registry.has('reverse')).toBe(false);
    expect(registry.has('application/x-reverse')).toBe(false);
    expect(compressors.has('reverse')).toBe(false);
    expect(thrown(() => registry.unregister('rev')).code).toBe('ERR_UNKNOWN_SERIALIZER');
  });

  it('replaces a compressor with the same name, dropping its old aliases', () => {
    const registry = new CompressionRegistry().register(reverse).register({ ...reverse, aliases: ['backwards'] });
    expect(registry.has('rev')).toBe(false);
    expect(registry.get('backwards').name).toBe('reverse');
    expect(registry.names()).toEqual(['reverse']);
  });

  it('enforces the limit even when a custom compressor ignores it', () => {
    const registry = new CompressionRegistry().register(reverse);
    expect(thrown(() => registry.decompress('reverse', Buffer.alloc(11), 10)).code).toBe('ERR_PAYLOAD_TOO_LARGE');
  });

  it('wraps failures of custom compressors', () => {
    const registry = new CompressionRegistry().register({
      ...reverse,
      compress: () => {
        throw new TypeError('boom');
      },
      decompress: () => {
        throw new TypeError('bang');
      },
    });
    expect(thrown(() => registry.compress('reverse', Buffer.from('x'))).code).toBe('ERR_ENCODE');
    expect(thrown(() => registry.decompress('reverse', Buffer.from('x'), 10)).code).toBe('ERR_DECODE');
  });

  it('refuses malformed compressors', () => {
    const registry = new CompressionRegistry();
    for (const bad of [
      { ...reverse, name: '' },
      { ...reverse, contentType: 1 },
      { ...reverse, aliases: [''] },
      { ...reverse, compress: null },
    ]) {
      expect(thrown(() => registry.register(bad as unknown as Compressor)).code).toBe('ERR_INVALID_ARGUMENT');
    }
  });
});
