/**
 * Header-table interop with Python's py-amqp (kombu), which amqplib does not give on its own:
 *
 * - Decoding: py-amqp writes integers beyond int32 with the tag `L` (signed 64-bit). amqplib's
 *   table decoder has no `L` and fails the whole connection on such a header, so one kombu message
 *   with `x-big: 2**40` would put a consumer into a reconnect loop. {@link installTableDecoder}
 *   replaces amqplib's decoder with one that knows every tag either side writes.
 * - Encoding: amqplib picks the smallest integer tag (`b`, `s`, …), and py-amqp reads `b` as
 *   unsigned and `s` as a short *string* — a message with header `n: 1000` cannot even be received
 *   by kombu. {@link kombuSafeHeaders} types integers as `I` (int32) or `l` (int64), as kombu does.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

type Table = Record<string, unknown>;

/** Decodes an AMQP field table (the body of an `F` value), every tag of RabbitMQ's errata plus py-amqp's `L`. */
export function decodeTable(buf: Buffer): Table {
  const reader = { offset: 0 };
  const table: Table = {};
  while (reader.offset < buf.length) {
    const keyLength = buf.readUInt8(reader.offset);
    reader.offset++;
    const key = buf.toString('utf8', reader.offset, reader.offset + keyLength);
    reader.offset += keyLength;
    table[key] = decodeValue(buf, reader);
  }
  return table;
}

function decodeValue(buf: Buffer, r: { offset: number }): unknown {
  const tag = String.fromCharCode(buf.readUInt8(r.offset));
  r.offset++;
  const take = <T>(size: number, read: (at: number) => T): T => {
    const value = read(r.offset);
    r.offset += size;
    return value;
  };
  switch (tag) {
    case 't':
      return take(1, (at) => buf.readUInt8(at) !== 0);
    case 'b':
      return take(1, (at) => buf.readInt8(at));
    case 'B':
      return take(1, (at) => buf.readUInt8(at));
    case 's':
      return take(2, (at) => buf.readInt16BE(at));
    case 'u':
      return take(2, (at) => buf.readUInt16BE(at));
    case 'I':
      return take(4, (at) => buf.readInt32BE(at));
    case 'i':
      return take(4, (at) => buf.readUInt32BE(at));
    case 'l':
    case 'L': // py-amqp's signed 64-bit integer
      return take(8, (at) => Number(buf.readBigInt64BE(at)));
    case 'f':
      return take(4, (at) => buf.readFloatBE(at));
    case 'd':
      return take(8, (at) => buf.readDoubleBE(at));
    case 'D': {
      const places = take(1, (at) => buf.readUInt8(at));
      const digits = take(4, (at) => buf.readUInt32BE(at));
      return { '!': 'decimal', value: { places, digits } };
    }
    case 'T':
      return { '!': 'timestamp', value: take(8, (at) => Number(buf.readBigUInt64BE(at))) };
    case 'S': {
      const length = take(4, (at) => buf.readUInt32BE(at));
      return take(length, (at) => buf.toString('utf8', at, at + length));
    }
    case 'x': {
      const length = take(4, (at) => buf.readUInt32BE(at));
      return take(length, (at) => buf.subarray(at, at + length));
    }
    case 'F': {
      const length = take(4, (at) => buf.readUInt32BE(at));
      return take(length, (at) => decodeTable(buf.subarray(at, at + length)));
    }
    case 'A': {
      const length = take(4, (at) => buf.readUInt32BE(at));
      const end = r.offset + length;
      const items: unknown[] = [];
      while (r.offset < end) items.push(decodeValue(buf, r));
      return items;
    }
    case 'V':
      return null;
    default:
      throw new TypeError(`unknown AMQP field type tag '${tag}'`);
  }
}

let installed = false;

/**
 * Makes amqplib decode tables with {@link decodeTable}. amqplib binds its decoder when its frame
 * definitions load, so this must run before the first `import('amqplib')` of the process; the
 * AMQP transport's entry module does it first thing. Idempotent.
 */
export function installTableDecoder(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  // amqplib does not export lib/codec; reach it by file path (the same module instance amqplib uses).
  const codec = require(join(dirname(require.resolve('amqplib')), 'lib', 'codec.js')) as {
    decodeFields: (b: Buffer) => Table;
  };
  codec.decodeFields = decodeTable;
}

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

/** Headers with every integer typed as kombu types them (`I` or `l`); other values as they are. */
export function kombuSafeHeaders(headers: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(headers)) out[key] = typeValue(value);
  return out;
}

function typeValue(value: unknown): unknown {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return value;
    return { '!': value >= INT32_MIN && value <= INT32_MAX ? 'int' : 'long', value };
  }
  if (Array.isArray(value)) return value.map(typeValue);
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !('!' in value)) {
    return kombuSafeHeaders(value as Record<string, unknown>);
  }
  return value;
}
