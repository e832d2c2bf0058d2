import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import {
  createSerializerRegistry,
  jsonSerializer,
  type Serializer,
  SerializerRegistry,
  serializers,
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

const nested = {
  name: 'wakame 🌊 ünïcödé ☃',
  count: 3,
  ratio: 0.25,
  ok: true,
  nothing: null,
  list: [1, 'two', { three: [3] }],
  deep: { a: { b: { c: 'd' } } },
};

describe('built-in serializers', () => {
  const registry = createSerializerRegistry();

  it('registers the kombu names, content types and encodings', () => {
    expect(registry.names()).toEqual(['json', 'msgpack', 'raw', 'text', 'yaml']);
    const wire = registry.names().map((n) => [n, registry.get(n).contentType, registry.get(n).contentEncoding]);
    expect(wire).toEqual([
      ['json', 'application/json', 'utf-8'],
      ['msgpack', 'application/x-msgpack', 'binary'],
      ['raw', 'application/data', 'binary'],
      ['text', 'text/plain', 'utf-8'],
      ['yaml', 'application/x-yaml', 'utf-8'],
    ]);
  });

  it.each(['json', 'msgpack', 'yaml'])('%s round-trips nested objects and unicode', (name) => {
    const encoded = registry.encode(nested, { serializer: name });
    expect(encoded.contentType).toBe(registry.get(name).contentType);
    expect(registry.decode(encoded.body, encoded.contentType, encoded.contentEncoding)).toEqual(nested);
  });

  it('json writes plain UTF-8 JSON', () => {
    const encoded = registry.encode({ a: 'é' });
    expect(encoded).toEqual({
      body: Buffer.from('{"a":"é"}'),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
    });
  });

  it('text round-trips unicode strings and refuses non-strings', () => {
    const encoded = registry.encode('grüße 🌊', { serializer: 'text' });
    expect(encoded.contentType).toBe('text/plain');
    expect(registry.decode(encoded.body, 'text/plain', 'utf-8')).toBe('grüße 🌊');
    expect(thrown(() => registry.encode(42, { serializer: 'text' })).code).toBe('ERR_ENCODE');
  });

  it('raw round-trips bytes as a Buffer and refuses other values', () => {
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const encoded = registry.encode(bytes, { serializer: 'raw' });
    expect(encoded).toEqual({
      body: Buffer.from([0, 1, 2, 255]),
      contentType: 'application/data',
      contentEncoding: 'binary',
    });
    const decoded = registry.decode(encoded.body, 'application/data', 'binary');
    expect(Buffer.isBuffer(decoded)).toBe(true);
    expect(decoded).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(thrown(() => registry.encode('text', { serializer: 'raw' })).code).toBe('ERR_ENCODE');
  });

  it('msgpack carries binary values and reads what the reference encoder writes', () => {
    const value = { data: Buffer.from([1, 2, 3, 250]), n: -7, s: 'ß' };
    const encoded = registry.encode(value, { serializer: 'msgpack' });
    expect(encoded.contentEncoding).toBe('binary');
    const decoded = registry.decode(encoded.body, 'application/x-msgpack', 'binary') as { data: Uint8Array };
    expect(Buffer.isBuffer(decoded.data)).toBe(true);
    expect(decoded).toEqual(value);
    const reference = msgpackDecode(new Uint8Array(encoded.body)) as { data: Uint8Array };
    expect([...reference.data]).toEqual([1, 2, 3, 250]);
    expect(registry.decode(Buffer.from(msgpackEncode([1, 'x'])), 'application/x-msgpack', 'binary')).toEqual([1, 'x']);
  });

  it('msgpack turns numeric map keys into strings and refuses other key types and __proto__', () => {
    expect(registry.decode(Buffer.from([0x81, 0x01, 0xa1, 0x61]), 'application/x-msgpack', 'binary')).toEqual({
      '1': 'a',
    });
    expect(thrown(() => registry.decode(Buffer.from([0x81, 0xc0, 0x01]), 'application/x-msgpack', 'binary')).code).toBe(
      'ERR_DECODE',
    );
    const proto = Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x01]);
    expect(thrown(() => registry.decode(proto, 'application/x-msgpack', 'binary')).code).toBe('ERR_DECODE');
  });

  it('msgpack reports corrupt and truncated input as DecodeError', () => {
    expect(thrown(() => registry.decode(Buffer.from([0xc1]), 'application/x-msgpack', 'binary')).code).toBe(
      'ERR_DECODE',
    );
    expect(thrown(() => registry.decode(Buffer.from([0x92, 0x01]), 'application/x-msgpack', 'binary')).code).toBe(
      'ERR_DECODE',
    );
  });
});

describe('SerializerRegistry.encode (kombu dumps rules)', () => {
  const registry = createSerializerRegistry();

  it('sends strings as text/plain utf-8', () => {
    expect(registry.encode('héllo')).toEqual({
      body: Buffer.from('héllo'),
      contentType: 'text/plain',
      contentEncoding: 'utf-8',
    });
  });

  it('sends bytes as application/data binary', () => {
    const encoded = registry.encode(new Uint8Array([9, 8]));
    expect(encoded).toEqual({ body: Buffer.from([9, 8]), contentType: 'application/data', contentEncoding: 'binary' });
    expect(Buffer.isBuffer(encoded.body)).toBe(true);
  });

  it('sends everything else as json', () => {
    expect(registry.encode([1, 2]).contentType).toBe('application/json');
    expect(registry.encode(null).body.toString()).toBe('null');
  });

  it('uses a named serializer even for strings', () => {
    const encoded = registry.encode('hi', { serializer: 'json' });
    expect(encoded).toEqual({ body: Buffer.from('"hi"'), contentType: 'application/json', contentEncoding: 'utf-8' });
  });

  it('passes bodies through untouched with an explicit contentType', () => {
    const bytes = Buffer.from([1, 2, 3]);
    expect(registry.encode(bytes, { contentType: 'application/x-custom' })).toEqual({
      body: bytes,
      contentType: 'application/x-custom',
      contentEncoding: 'binary',
    });
    expect(registry.encode('{"raw":true}', { contentType: 'application/json', serializer: 'msgpack' })).toEqual({
      body: Buffer.from('{"raw":true}'),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
    });
    const latin = registry.encode('café', { contentType: 'text/plain', contentEncoding: 'latin1' });
    expect(latin).toEqual({
      body: Buffer.from([0x63, 0x61, 0x66, 0xe9]),
      contentType: 'text/plain',
      contentEncoding: 'latin1',
    });
    expect(
      registry.encode(bytes, { contentType: 'application/x-custom', contentEncoding: 'utf-8' }).contentEncoding,
    ).toBe('utf-8');
  });

  it('refuses explicit-contentType bodies that are not strings or bytes, and unencodable characters', () => {
    const err = thrown(() => registry.encode({ a: 1 }, { contentType: 'application/json' }));
    expect(err.code).toBe('ERR_ENCODE');
    expect(err.message).toMatch(/must be a string or Buffer/);
    expect(thrown(() => registry.encode('€', { contentType: 'text/plain', contentEncoding: 'ascii' })).code).toBe(
      'ERR_ENCODE',
    );
    expect(thrown(() => registry.encode('x', { contentType: 'text/plain', contentEncoding: 'utf-16' })).code).toBe(
      'ERR_ENCODE',
    );
  });

  it('throws UnknownSerializerError listing the known names', () => {
    const err = thrown(() => registry.encode({}, { serializer: 'pickle' }));
    expect(err.code).toBe('ERR_UNKNOWN_SERIALIZER');
    expect(err.message).toContain('pickle');
    expect(err.message).toContain('json, msgpack, raw, text, yaml');
    expect(thrown(() => registry.get('nope')).code).toBe('ERR_UNKNOWN_SERIALIZER');
  });

  it('refuses values JSON cannot represent', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const value of [undefined, 10n, { n: 1n }, circular, () => 1]) {
      const err = thrown(() => registry.encode(value));
      expect(err.code).toBe('ERR_ENCODE');
      expect(err.name).toBe('EncodeError');
    }
    expect(thrown(() => registry.encode({ n: 1n })).message).toMatch(/BigInt/);
    expect(thrown(() => registry.encode(circular)).message).toMatch(/circular/);
  });

  it('drops functions inside objects as JSON.stringify does (no replacer on the hot path)', () => {
    expect(registry.encode({ a: 1, f: () => 1 }).body.toString()).toBe('{"a":1}');
  });

  it('refuses values msgpack and yaml cannot represent', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const serializer of ['msgpack', 'yaml']) {
      expect(thrown(() => registry.encode(circular, { serializer })).code).toBe('ERR_ENCODE');
      expect(thrown(() => registry.encode({ f: () => 1 }, { serializer })).code).toBe('ERR_ENCODE');
      expect(thrown(() => registry.encode(undefined, { serializer })).code).toBe('ERR_ENCODE');
    }
  });
});

describe('SerializerRegistry.decode (kombu loads rules)', () => {
  const registry = createSerializerRegistry();

  it('matches content types ignoring case and parameters', () => {
    expect(registry.decode(Buffer.from('{"a":1}'), 'Application/JSON; charset=utf-8', 'utf-8')).toEqual({ a: 1 });
    expect(registry.byContentType(' APPLICATION/X-MSGPACK ')?.name).toBe('msgpack');
    expect(registry.byContentType('application/unknown')).toBeUndefined();
  });

  it('treats a missing content type as application/data', () => {
    const body = Buffer.from('{"a":1}');
    expect(registry.decode(body, undefined, undefined)).toBe(body);
    expect(registry.decode(body, '', 'utf-8')).toBe(body);
  });

  it('returns unknown content types as a Buffer or as text in their encoding', () => {
    const body = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
    expect(registry.decode(body, 'application/x-thing', 'binary')).toBe(body);
    expect(registry.decode(body, 'application/x-thing', undefined)).toBe(body);
    expect(registry.decode(body, 'application/x-thing', 'latin1')).toBe('café');
    expect(registry.decode(Buffer.from('ünï'), 'application/x-thing', 'UTF-8')).toBe('ünï');
    expect(thrown(() => registry.decode(body, 'application/x-thing', 'utf-8')).code).toBe('ERR_DECODE');
    expect(thrown(() => registry.decode(body, 'application/x-thing', 'ebcdic')).code).toBe('ERR_DECODE');
  });

  it('decodes a text format labelled latin1', () => {
    expect(registry.decode(Buffer.from([0x22, 0xe9, 0x22]), 'application/json', 'iso-8859-1')).toBe('é');
  });

  it('reports invalid JSON with a short excerpt of the body', () => {
    const body = Buffer.from(`not json ${'x'.repeat(10_000)}`);
    const err = thrown(() => registry.decode(body, 'application/json', 'utf-8'));
    expect(err.code).toBe('ERR_DECODE');
    expect(err.message).toContain('not json');
    expect(err.message.length).toBeLessThan(300);
    expect(thrown(() => registry.decode(Buffer.alloc(0), 'application/json', 'utf-8')).code).toBe('ERR_DECODE');
  });

  it('keeps __proto__ in JSON as plain data', () => {
    const decoded = registry.decode(Buffer.from('{"__proto__":{"polluted":1}}'), 'application/json', 'utf-8') as object;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });
});

describe('yaml safety', () => {
  const registry = createSerializerRegistry();
  const decodeYaml = (text: string): unknown => registry.decode(Buffer.from(text), 'application/x-yaml', 'utf-8');

  it('refuses code-like and unknown tags instead of resolving them', () => {
    for (const text of [
      'fn: !!js/function "function () { return 1 }"',
      'x: !!python/object:os.system [ls]',
      'x: !custom 1',
    ]) {
      let result: unknown;
      const err = thrown(() => {
        result = decodeYaml(text);
      });
      expect(result).toBeUndefined();
      expect(err.code).toBe('ERR_DECODE');
      expect(err.message).toMatch(/tag/i);
    }
  });

  it('refuses alias bombs', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const err = thrown(() => decodeYaml(levels.join('\n')));
    expect(err.code).toBe('ERR_DECODE');
  });

  it('still allows a few ordinary aliases', () => {
    expect(decodeYaml('base: &b {x: 1}\ncopy: *b')).toEqual({ base: { x: 1 }, copy: { x: 1 } });
  });

  it('refuses malformed documents, duplicate keys and several documents', () => {
    for (const text of ['{a: 1', 'a: 1\na: 2', '--- 1\n--- 2\n']) {
      expect(thrown(() => decodeYaml(text)).code).toBe('ERR_DECODE');
    }
  });

  it('quotes strings that YAML 1.1 readers (PyYAML) would take for other types', () => {
    const encoded = registry.encode({ answer: 'yes', octal: '012', off: 'off' }, { serializer: 'yaml' });
    expect(encoded.body.toString()).toBe('answer: "yes"\noctal: "012"\n"off": "off"\n');
  });
});

describe('registry management', () => {
  const upper: Serializer = {
    name: 'upper',
    contentType: 'application/x-upper',
    contentEncoding: 'utf-8',
    encode: (value) => Buffer.from(String(value).toUpperCase()),
    decode: (body) => body.toString().toLowerCase(),
  };

  it('registers, replaces and unregisters a custom serializer', () => {
    const registry = createSerializerRegistry();
    expect(registry.register(upper)).toBe(registry);
    expect(registry.has('upper')).toBe(true);
    const encoded = registry.encode('shout', { serializer: 'upper' });
    expect(encoded).toEqual({
      body: Buffer.from('SHOUT'),
      contentType: 'application/x-upper',
      contentEncoding: 'utf-8',
    });
    expect(registry.decode(encoded.body, 'application/x-upper', 'utf-8')).toBe('shout');

    registry.register({ ...upper, contentType: 'application/x-upper2' });
    expect(registry.byContentType('application/x-upper')).toBeUndefined();
    expect(registry.byContentType('application/x-upper2')?.name).toBe('upper');

    registry.unregister('upper');
    expect(registry.has('upper')).toBe(false);
    expect(registry.decode(encoded.body, 'application/x-upper2', 'binary')).toBe(encoded.body);
    expect(thrown(() => registry.unregister('upper')).code).toBe('ERR_UNKNOWN_SERIALIZER');
  });

  it('lets the newest serializer decode a shared content type', () => {
    const registry = createSerializerRegistry();
    registry.register({ ...jsonSerializer, name: 'json2', decode: () => 'mine' });
    expect(registry.decode(Buffer.from('{}'), 'application/json', 'utf-8')).toBe('mine');
    registry.unregister('json2');
    expect(registry.decode(Buffer.from('{}'), 'application/json', 'utf-8')).toEqual({});
  });

  it('wraps failures of custom serializers in EncodeError and DecodeError', () => {
    const registry = new SerializerRegistry().register({
      ...upper,
      encode: () => {
        throw new TypeError('boom');
      },
      decode: () => {
        throw new TypeError('bang');
      },
    });
    expect(thrown(() => registry.encode(1, { serializer: 'upper' })).code).toBe('ERR_ENCODE');
    expect(thrown(() => registry.decode(Buffer.from('x'), 'application/x-upper', undefined)).code).toBe('ERR_DECODE');
  });

  it('refuses malformed serializers', () => {
    const registry = new SerializerRegistry();
    for (const bad of [
      { ...upper, name: '' },
      { ...upper, name: 'a/b' },
      { ...upper, contentType: 'nope' },
      { ...upper, decode: 1 },
    ]) {
      expect(thrown(() => registry.register(bad as unknown as Serializer)).code).toBe('ERR_INVALID_ARGUMENT');
    }
  });

  it('keeps registries independent of each other and of the default', () => {
    const registry = createSerializerRegistry().register(upper);
    expect(serializers.has('upper')).toBe(false);
    expect(createSerializerRegistry().has('upper')).toBe(false);
    expect(serializers.names()).toEqual(['json', 'msgpack', 'raw', 'text', 'yaml']);
    expect(registry.names()).toContain('upper');
  });
});

describe('resolveAccept', () => {
  const registry = createSerializerRegistry();

  it('maps names to content types and keeps mime types', () => {
    const accepted = registry.resolveAccept(['json', 'msgpack', 'application/x-custom', 'Application/Data; q=1']);
    expect([...accepted].sort()).toEqual([
      'application/data',
      'application/json',
      'application/x-custom',
      'application/x-msgpack',
    ]);
  });

  it('throws UnknownSerializerError for unknown names', () => {
    const err = thrown(() => registry.resolveAccept(['json', 'pickle']));
    expect(err.code).toBe('ERR_UNKNOWN_SERIALIZER');
    expect(err.message).toContain('pickle');
  });

  it('refuses entries that are not strings', () => {
    expect(thrown(() => registry.resolveAccept([''])).code).toBe('ERR_INVALID_ARGUMENT');
    expect(thrown(() => registry.resolveAccept([1 as unknown as string])).code).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('a content type the consumer does not accept', () => {
  it('names it and what is accepted; for pickle, says why it is never decoded and what to send instead', async () => {
    const { ContentNotAcceptedError } = await import('../../src/errors.js');
    expect(new ContentNotAcceptedError('application/x-msgpack', ['json']).message).toBe(
      "refusing to decode content type 'application/x-msgpack': accepted are json",
    );
    const pickle = new ContentNotAcceptedError('application/x-python-serialize', ['json']);
    expect(pickle.code).toBe('ERR_CONTENT_NOT_ACCEPTED');
    expect(pickle.message).toMatch(/'application\/x-python-serialize'.*never decoded.*serializer='json'/);
  });
});
