/**
 * The Redis wire format against kombu 5.2's, byte for byte: `fixtures/kombu_redis_wire_format.json`
 * (a copy of the shared fixture) holds what kombu wrote to Redis for five publishes.
 */
import { readFileSync } from 'node:fs';
import { DecodeError, type StoredMessage } from '@wakame/core/spi';
import { describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  EnvelopeError,
  encodeEnvelope,
  markRedelivered,
  pythonJson,
} from '../../src/internal/kombu-envelope.js';
import {
  bindingMember,
  kombuPriority,
  kombuTopicPattern,
  parseBindingMember,
  RedisKeys,
  SEP,
  stepFor,
} from '../../src/redis/keys.js';

interface ListKey {
  key: string;
  type: string;
  'LRANGE 0 -1 (head first; LPUSH adds at head, BRPOP takes the tail)'?: string[];
  SMEMBERS?: string[];
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/kombu_redis_wire_format.json', import.meta.url), 'utf8'),
) as {
  keys_after_publish: ListKey[];
  keys_while_first_message_unacked: { key: string; HGETALL?: Record<string, string> }[];
};
const lists = fixture.keys_after_publish.filter((k) => k.type === 'list');
const elements = lists.map((k) => ({
  key: k.key,
  raw: (k['LRANGE 0 -1 (head first; LPUSH adds at head, BRPOP takes the tail)'] ?? [])[0] as string,
}));

/** What Wakame would store for the kombu publish behind `raw`. */
function asStored(raw: string): StoredMessage {
  const env = JSON.parse(raw) as {
    body: string;
    headers: Record<string, unknown>;
    properties: { priority: number; delivery_tag: string; delivery_info: { exchange: string; routing_key: string } };
  };
  const kombu = env.properties.priority;
  return {
    id: env.properties.delivery_tag,
    body: Buffer.from(env.body, 'base64'),
    properties: {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: env.headers,
      deliveryMode: 2,
      // kombu's 0 is "no priority"; k is Wakame's 9 - k.
      ...(kombu === 0 ? {} : { priority: 9 - kombu }),
    },
    exchange: env.properties.delivery_info.exchange,
    routingKey: env.properties.delivery_info.routing_key,
    priority: 0,
    expiresAt: undefined,
    redelivered: false,
  };
}

describe('redis wire format (kombu 5.2 fixture)', () => {
  it('has the three priority lists of the fixture', () => {
    expect(elements.map((e) => e.key)).toEqual(['wire.prio', `wire.prio${SEP}3`, `wire.prio${SEP}9`]);
  });

  it.each(elements)('writes the element of $key byte for byte as kombu did', ({ raw }) => {
    const kombu = (JSON.parse(raw) as { properties: { priority: number } }).properties.priority;
    expect(encodeEnvelope(asStored(raw), kombu)).toBe(raw);
  });

  it.each(elements)('decodes the element of $key into what kombu published', ({ raw }) => {
    const message = decodeEnvelope(raw, 0);
    const expected = asStored(raw);
    expect(message.id).toBe(expected.id);
    expect(message.body.equals(expected.body)).toBe(true);
    expect(message.properties).toEqual(expected.properties);
    expect([message.exchange, message.routingKey, message.redelivered]).toEqual(['wire.direct', 'wire.prio', false]);
  });

  it("puts each message in kombu's list for its priority", () => {
    const keys = new RedisKeys('', [0, 3, 6, 9]);
    for (const { key, raw } of elements) {
      const kombu = (JSON.parse(raw) as { properties: { priority: number } }).properties.priority;
      expect(keys.list('wire.prio', stepFor(kombu, keys.steps))).toBe(key);
    }
  });

  it("records an in-flight message in kombu's unacked shape", () => {
    const [unacked] = fixture.keys_while_first_message_unacked;
    const [[tag, record]] = Object.entries(unacked?.HGETALL ?? {}) as [[string, string]];
    const raw = elements[0]?.raw as string;
    expect(tag).toBe(decodeEnvelope(raw, 0).id);
    // The claim script writes exactly this: the element as received, then exchange and routing key.
    expect(record).toBe(`[${raw}, "wire.direct", "wire.prio"]`);
  });

  it("reads kombu's binding members", () => {
    const direct = fixture.keys_after_publish.find((k) => k.key === '_kombu.binding.wire.direct');
    const fanout = fixture.keys_after_publish.find((k) => k.key === '_kombu.binding.wire.fanout');
    expect(direct?.SMEMBERS).toEqual([bindingMember('wire.prio', '', 'wire.prio')]);
    expect(parseBindingMember(fanout?.SMEMBERS?.[0] ?? '')).toEqual({
      routingKey: '',
      pattern: '',
      queue: 'wire.fanout.q',
    });
  });
});

describe('list elements that are not envelopes', () => {
  it('are refused with a typed, coded decode error', () => {
    let thrown: unknown;
    try {
      decodeEnvelope('not json at all', 0);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EnvelopeError);
    expect(thrown).toBeInstanceOf(DecodeError);
    expect(thrown).toMatchObject({ code: 'ERR_ENVELOPE', name: 'EnvelopeError' });
  });
});

describe('priority mapping', () => {
  it('mirrors the scale: Wakame 9 is kombu 0, Wakame 0 is kombu 9, above 9 counts as 9', () => {
    expect([0, 1, 5, 8, 9, 10, 255].map(kombuPriority)).toEqual([9, 8, 4, 1, 0, 0, 0]);
  });

  it("rounds down to kombu's steps as _q_for_pri does (5 → 3, 2 → 0, 8 → 6)", () => {
    expect([0, 2, 3, 5, 8, 9, 12, -1].map((k) => stepFor(k, [0, 3, 6, 9]))).toEqual([0, 0, 3, 3, 6, 9, 9, 0]);
  });

  it('round-trips Wakame priorities 0..9 and 200 through the envelope exactly', () => {
    const base = asStored(elements[0]?.raw as string);
    for (const priority of [0, 1, 4, 8, 9, 200]) {
      const raw = encodeEnvelope({ ...base, properties: { ...base.properties, priority } }, kombuPriority(priority));
      expect(decodeEnvelope(raw, 0).properties.priority).toBe(priority);
      const kombu = (JSON.parse(raw) as { properties: { priority: number } }).properties.priority;
      expect(kombu).toBe(kombuPriority(priority));
    }
  });
});

describe("kombu's topic pattern (TopicExchange.key_to_pattern)", () => {
  it.each([
    ['a.#', '^a\\..*?$'],
    ['*.stock.#', '^.*?[^\\.]\\.stock\\..*?$'],
    ['#', '^.*?$'],
    ['usd.stock', '^usd\\.stock$'],
    ['a-b_c.d', '^a\\-b\\_c\\.d$'],
    ['a*', '^a*$'],
    ['héllo.wörld', '^héllo\\.wörld$'],
    ['a b', '^a\\ b$'],
  ])('stores %j as %j', (key, pattern) => {
    expect(kombuTopicPattern(key)).toBe(pattern);
  });
});

describe('python json', () => {
  it("writes Python json.dumps's separators and ASCII escapes", () => {
    expect(pythonJson({ a: [1, 'é✓\u007f', null, true], 'k"': { n: 1.5 } })).toBe(
      '{"a": [1, "\\u00e9\\u2713\\u007f", null, true], "k\\"": {"n": 1.5}}',
    );
    expect(pythonJson('😀')).toBe('"\\ud83d\\ude00"');
  });

  it('escapes every non-ASCII string, however many come in a row', () => {
    // The escaping regex is global (stateful): the strings must not influence one another.
    const texts = ['é', 'ab é', 'xxxxxxxxxxxé', 'é', 'ü'];
    for (const text of texts) expect(pythonJson(text)).toMatch(/^"[\x20-\x7e]*"$/);
  });

  it('writes names and ids in an envelope as json.dumps does, whether they need escaping or not', () => {
    // Plain printable ASCII is written as it is (a fast path); everything else must still be escaped.
    const dumps = (s: string) =>
      JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    for (const name of ['plain.name-1', '', 'q"uote', 'back\\slash', 'tab\there', 'del\u007f', 'é', '😀']) {
      const message: StoredMessage = {
        id: name,
        body: Buffer.from('x'),
        properties: { contentType: name },
        exchange: name,
        routingKey: name,
        priority: 0,
        expiresAt: undefined,
        redelivered: false,
      };
      const raw = encodeEnvelope(message, 0);
      expect(raw).toMatch(/^[\x20-\x7e]*$/);
      expect(raw).toContain(`"content-type": ${dumps(name)}, `);
      expect(raw).toContain(`{"exchange": ${dumps(name)}, "routing_key": ${dumps(name)}}`);
      expect(raw).toContain(`"delivery_tag": ${dumps(name)}}}`);
      expect(decodeEnvelope(raw, 0)).toMatchObject({ id: name, exchange: name, routingKey: name });
    }
  });

  it('marks redelivery in delivery_info and keeps every other field', () => {
    const raw = elements[1]?.raw as string;
    const marked = JSON.parse(markRedelivered(raw)) as { properties: Record<string, unknown> };
    expect(marked.properties.delivery_info).toEqual({
      exchange: 'wire.direct',
      routing_key: 'wire.prio',
      redelivered: true,
    });
    expect({ ...marked.properties, delivery_info: undefined }).toEqual({
      ...(JSON.parse(raw) as { properties: Record<string, unknown> }).properties,
      delivery_info: undefined,
    });
    expect(decodeEnvelope(markRedelivered(raw), 0).redelivered).toBe(true);
  });
});
