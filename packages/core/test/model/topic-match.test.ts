import { describe, expect, it } from 'vitest';
import { compileTopic, topicMatches } from '../../src/model/topic-match.js';

const words = (count: number, word = 'w'): string => Array.from({ length: count }, (_, i) => `${word}${i}`).join('.');

describe('topicMatches', () => {
  it.each<[binding: string, routingKey: string, expected: boolean]>([
    // The classic tutorial cases.
    ['*.stock.#', 'usd.stock', true],
    ['*.stock.#', 'eur.stock.db', true],
    ['*.stock.#', 'stock.nasdaq', false],
    ['*.orange.*', 'quick.orange.rabbit', true],
    ['*.*.rabbit', 'lazy.orange.elephant', false],
    ['lazy.#', 'lazy.orange.male.rabbit', true],
    ['*.orange.*', 'quick.orange.male.rabbit', false],
    // `#` matches zero or more words, at either end or in the middle.
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['a.#', 'b.a', false],
    ['a.#', 'ab', false],
    ['#.a', 'a', true],
    ['#.a', 'x.y.a', true],
    ['#.a', 'ba', false],
    ['#.a', 'a.x', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.x.y.c', false],
    ['#.b.#', 'b', true],
    ['#.b.#', 'a.b.c', true],
    ['#.b.#', 'a.c', false],
    // `*` is exactly one word and never spans a dot.
    ['a.*', 'a.b', true],
    ['a.*', 'a.b.c', false],
    ['a.*', 'a', false],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.b.x.c', false],
    ['*.*', 'a.b', true],
    ['*.*', 'a', false],
    ['*', 'oneword', true],
    ['*', 'two.words', false],
    // Wildcards are whole words only; routing keys are always literal.
    ['a*', 'aaa', false],
    ['a*', 'a*', true],
    ['#a', 'xa', false],
    ['#a', '#a', true],
    ['a.*', 'a.*', true],
    ['a.b', 'a.*', false],
    ['a.#', 'a.#', true],
    ['*', '*', true],
    // `#` alone and merged runs of `#`.
    ['#', '', true],
    ['#', 'anything.at.all', true],
    ['#.#', '', true],
    ['#.#', 'a.b', true],
    ['#.#.#', '', true],
    ['#.*', 'a', true],
    ['#.*', 'a.b.c', true],
    ['*.#', 'a', true],
    ['#.*.#', 'a', true],
    ['*.#.*', 'a', false],
    ['*.#.*', 'a.b', true],
    // The empty routing key is zero words in RabbitMQ: only all-`#` bindings and `''` match it.
    ['*', '', false],
    ['#.*', '', false],
    ['*.#', '', false],
    ['', '', true],
    ['', 'a', false],
    ['a', '', false],
    ['a.#', '', false],
    ['#.a', '', false],
    // Empty words are words.
    ['a..b', 'a..b', true],
    ['a.*.b', 'a..b', true],
    ['a.#.b', 'a..b', true],
    ['a..b', 'a.b', false],
    ['a.*', 'a.', true],
    ['*.a', '.a', true],
    ['*.*', '.', true],
    ['*', '.', false],
    ['.#', '.', true],
    ['.#', '', false],
    ['.#', 'a', false],
    ['#.', 'a.', true],
    ['#.', 'a', false],
    // No wildcard: exact comparison.
    ['a.b.c', 'a.b.c', true],
    ['a.b.c', 'a.b', false],
  ])('%j vs %j → %s', (binding, routingKey, expected) => {
    expect(topicMatches(binding, routingKey)).toBe(expected);
  });
});

describe('compileTopic', () => {
  it('keeps the binding key and can be reused for many routing keys', () => {
    const pattern = compileTopic('a.*.#.z');
    expect(pattern.key).toBe('a.*.#.z');
    expect(['a.b.z', 'a.b.c.d.z', 'a.z', 'a.b.c', 'a.b.z.y'].map((key) => pattern.matches(key))).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  it('handles 100-word keys against several `#` without blowing up', () => {
    const key = words(100);
    expect(topicMatches('#.w10.#.w50.#.w99', key)).toBe(true);
    expect(topicMatches('#.w50.#.w10.#', key)).toBe(false);
    expect(topicMatches('w0.#.*.#.*.#.w99', key)).toBe(true);
    expect(topicMatches(`${words(99)}.*`, key)).toBe(true);
    expect(topicMatches(`${words(99)}.*.*`, key)).toBe(false);
  });

  it('returns false promptly for `#` runs against long keys that cannot match', () => {
    // A backtracking matcher takes exponential time on these; the automaton is O(binding words × key words).
    const key = words(60, 'a');
    expect(topicMatches('#.#.#.#.#.#.#.#.x', key)).toBe(false);
    expect(topicMatches('#.*.#.*.#.*.#.*.#.*.#.*.#.x', key)).toBe(false);
    expect(topicMatches('#.a1.#.a2.#.a3.#.a4.#.a5.#.x', key)).toBe(false);
    expect(topicMatches('#.a1.#.a2.#.a3.#.a4.#.a5.#.a59', key)).toBe(true);
  });
});
