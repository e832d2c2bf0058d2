import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CompressionNotInstalledError, DecodeError, PayloadTooLargeError } from '../../src/errors.js';
import { createCompressionRegistry } from '../../src/serialization/index.js';
import { xzDeclaredSize } from '../../src/serialization/optional-compressors.js';

/** Runs `fn` and returns what it threw, failing the test when it does not throw. */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  return expect.unreachable('expected the call to throw');
}

/** Compresses with the system tool, as an independent producer would (skipped where it is absent). */
function tool(command: string, args: string[], input: Buffer): Buffer | undefined {
  try {
    return execFileSync(command, args, { input, maxBuffer: 64 * 1024 * 1024 });
  } catch {
    return undefined;
  }
}

const registry = createCompressionRegistry();
const sample = Buffer.from(`${'wakame 🌊 kombu '.repeat(500)}${'\u0000\u00ff'.repeat(50)}`);
const MiB = 1024 * 1024;
// 4 MiB of zeros compresses to a few hundred bytes: a small bomb.
const zeros = Buffer.alloc(4 * MiB);
const nodeHasZstd = 'zstdCompressSync' in (await import('node:zlib'));

describe.each([
  ['bzip2', 'application/x-bz2', ['bzip', 'bz2'], 'bzip2', ['-c']],
  ['lzma', 'application/x-lzma', ['xz'], 'xz', ['-c']],
  ['zstd', 'application/zstd', ['zstandard'], 'zstd', ['-c', '-q']],
] as const)('%s', (name, contentType, aliases, command, args) => {
  const canCompress = name !== 'zstd' || nodeHasZstd;
  const produced = (body: Buffer): Buffer | undefined =>
    canCompress ? registry.compress(name, body).body : tool(command, [...args], body);

  it('is found by its kombu header value and aliases', () => {
    expect(registry.get(contentType).name).toBe(name);
    for (const alias of aliases) expect(registry.get(alias).name).toBe(name);
  });

  it.runIf(canCompress)('round-trips a body and names it with the kombu header value', () => {
    const { body, header } = registry.compress(name, sample);
    expect(header).toBe(contentType);
    // @napi-rs/lzma 1.4 (the last release for Node 20) writes valid xz without shrinking it much.
    if (name !== 'lzma') expect(body.byteLength).toBeLessThan(sample.byteLength);
    expect(registry.decompress(header, body, 1 * MiB)).toEqual(sample);
    expect(registry.decompress(header, registry.compress(name, Buffer.alloc(0)).body, 0)).toEqual(Buffer.alloc(0));
  });

  it('reads what the reference tool wrote', (ctx) => {
    const body = tool(command, [...args], sample);
    if (body === undefined) return ctx.skip(`${command} is not installed`);
    expect(registry.decompress(contentType, body, 1 * MiB)).toEqual(sample);
  });

  it('stops a decompression bomb at the bound with PayloadTooLargeError', (ctx) => {
    // The reference tool makes the bomb: it is quicker than the pure-JS bzip2 encoder and, unlike
    // @napi-rs/lzma 1.4, really shrinks it.
    const bomb = tool(command, [...args], zeros) ?? (canCompress ? registry.compress(name, zeros).body : undefined);
    if (bomb === undefined) return ctx.skip(`${command} is not installed`);
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    const err = thrown(() => registry.decompress(contentType, bomb, 256 * 1024));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ limit: 256 * 1024 });
    // Buffer#equals, not toEqual: vitest's deep equality is very slow on megabytes.
    expect(registry.decompress(contentType, bomb, 4 * MiB).equals(zeros)).toBe(true);
  });

  it('turns corrupt input into a DecodeError', (ctx) => {
    const good = produced(sample);
    if (good === undefined) return ctx.skip(`${command} is not installed`);
    const corrupt = Buffer.from(good);
    corrupt.fill(0x55, 8, Math.min(corrupt.byteLength - 4, 40));
    for (const bad of [Buffer.from('not compressed at all, not even close'), corrupt, good.subarray(0, 10)]) {
      const err = thrown(() => registry.decompress(contentType, bad, 1 * MiB));
      expect(err).toBeInstanceOf(DecodeError);
    }
  });
});

describe('xz declared size', () => {
  it('sums the index of concatenated streams and refuses a body without a footer', () => {
    const one = registry.compress('lzma', sample).body;
    expect(xzDeclaredSize(one)).toBe(sample.byteLength);
    expect(xzDeclaredSize(Buffer.concat([one, Buffer.alloc(8), one]))).toBe(2 * sample.byteLength);
    expect(() => xzDeclaredSize(Buffer.from('plain text, no footer here at all'))).toThrow(/footer/);
  });
});

describe('a missing codec', () => {
  it('names the package to install', () => {
    const err = new CompressionNotInstalledError('bzip2', ['seek-bzip']);
    expect(err.message).toMatch(/install it: npm install seek-bzip$/);
    expect(err.code).toBe('ERR_COMPRESSION_NOT_INSTALLED');
  });
});
