import { describe, expect, it } from 'vitest';
import { decodeTable, kombuSafeHeaders } from '../../src/amqp/codec.js';

/** Encodes one table entry by hand: key, tag, payload. */
function entry(key: string, tag: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([key.length]), Buffer.from(key), Buffer.from(tag), payload]);
}
const int64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
};

describe('amqp table codec', () => {
  it("decodes py-amqp's 'L' (signed 64-bit), which amqplib alone rejects", () => {
    const table = Buffer.concat([entry('big', 'L', int64(2n ** 40n)), entry('neg', 'L', int64(-(2n ** 40n)))]);
    expect(decodeTable(table)).toEqual({ big: 2 ** 40, neg: -(2 ** 40) });
  });

  it('decodes nested tables, arrays, strings, booleans, void and doubles', () => {
    const s = Buffer.from('héllo');
    const str = Buffer.concat([Buffer.from([0, 0, 0, s.length]), s]);
    const inner = entry('n', 'I', Buffer.from([0, 0, 0, 42]));
    const nested = Buffer.concat([Buffer.from([0, 0, 0, inner.length]), inner]);
    const arrayItems = Buffer.concat([Buffer.from('t'), Buffer.from([1]), Buffer.from('V')]);
    const array = Buffer.concat([Buffer.from([0, 0, 0, arrayItems.length]), arrayItems]);
    const d = Buffer.alloc(8);
    d.writeDoubleBE(1.5);
    const table = Buffer.concat([
      entry('s', 'S', str),
      entry('t', 'F', nested),
      entry('a', 'A', array),
      entry('d', 'd', d),
    ]);
    expect(decodeTable(table)).toEqual({ s: 'héllo', t: { n: 42 }, a: [true, null], d: 1.5 });
  });

  it('refuses an unknown tag with a clear error', () => {
    expect(() => decodeTable(entry('x', 'Z', Buffer.alloc(0)))).toThrow("unknown AMQP field type tag 'Z'");
  });

  it('types integers as kombu does: int32 as I, larger as l, recursively; leaves floats and typed values alone', () => {
    expect(
      kombuSafeHeaders({ a: 1000, b: 2 ** 40, c: 1.5, d: [7, { e: -7 }], f: { '!': 'timestamp', value: 1 }, g: 'x' }),
    ).toEqual({
      a: { '!': 'int', value: 1000 },
      b: { '!': 'long', value: 2 ** 40 },
      c: 1.5,
      d: [{ '!': 'int', value: 7 }, { e: { '!': 'int', value: -7 } }],
      f: { '!': 'timestamp', value: 1 },
      g: 'x',
    });
  });
});
