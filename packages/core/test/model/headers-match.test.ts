import { describe, expect, it } from 'vitest';
import { compileHeaders, headersMatch } from '../../src/model/headers-match.js';

describe('headersMatch', () => {
  it('x-match all (the default) needs every header to match', () => {
    const binding = { format: 'pdf', type: 'report' };
    expect(headersMatch(binding, { format: 'pdf', type: 'report', extra: 1 })).toBe(true);
    expect(headersMatch({ ...binding, 'x-match': 'all' }, { format: 'pdf', type: 'report' })).toBe(true);
    expect(headersMatch(binding, { format: 'pdf', type: 'log' })).toBe(false);
    expect(headersMatch(binding, { format: 'pdf' })).toBe(false);
    expect(headersMatch(binding, undefined)).toBe(false);
  });

  it('x-match any needs one header to match', () => {
    const binding = { 'x-match': 'any', format: 'pdf', type: 'report' };
    expect(headersMatch(binding, { type: 'report' })).toBe(true);
    expect(headersMatch(binding, { format: 'pdf', type: 'log' })).toBe(true);
    expect(headersMatch(binding, { type: 'log' })).toBe(false);
    expect(headersMatch(binding, {})).toBe(false);
    expect(headersMatch(binding, undefined)).toBe(false);
  });

  it('ignores x- arguments with all and any', () => {
    expect(headersMatch({ 'x-match': 'all', 'x-tenant': 'a', format: 'pdf' }, { format: 'pdf' })).toBe(true);
    expect(headersMatch({ 'x-match': 'any', 'x-tenant': 'a' }, { 'x-tenant': 'a' })).toBe(false);
  });

  it('compares x- arguments with all-with-x and any-with-x', () => {
    const all = { 'x-match': 'all-with-x', 'x-tenant': 'a', format: 'pdf' };
    expect(headersMatch(all, { format: 'pdf' })).toBe(false);
    expect(headersMatch(all, { format: 'pdf', 'x-tenant': 'a' })).toBe(true);
    expect(headersMatch(all, { format: 'pdf', 'x-tenant': 'b' })).toBe(false);
    const any = { 'x-match': 'any-with-x', 'x-tenant': 'a' };
    expect(headersMatch(any, { 'x-tenant': 'a' })).toBe(true);
    expect(headersMatch(any, { 'x-tenant': 'b' })).toBe(false);
  });

  it('never treats x-match itself as a header to match', () => {
    expect(headersMatch({ 'x-match': 'all-with-x', format: 'pdf' }, { format: 'pdf' })).toBe(true);
    expect(headersMatch({ 'x-match': 'any-with-x' }, { 'x-match': 'any-with-x' })).toBe(false);
  });

  it('falls back to all for an unknown x-match', () => {
    expect(headersMatch({ 'x-match': 'ALL', a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(headersMatch({ 'x-match': 42, a: 1 }, { a: 1 })).toBe(true);
  });

  it('compares numbers by value, not by type or identity', () => {
    expect(headersMatch({ retries: 3 }, { retries: 3 })).toBe(true);
    expect(headersMatch({ ratio: 1.5 }, { ratio: 1.5 })).toBe(true);
    expect(headersMatch({ retries: 3 }, { retries: 3n })).toBe(true);
    expect(headersMatch({ retries: 3n }, { retries: 3 })).toBe(true);
    expect(headersMatch({ retries: 3 }, { retries: '3' })).toBe(false);
    expect(headersMatch({ retries: 3 }, { retries: 4 })).toBe(false);
    expect(headersMatch({ flag: true }, { flag: 'true' })).toBe(false);
  });

  it('compares arrays, tables, bytes and dates by content', () => {
    expect(headersMatch({ tags: ['a', 1] }, { tags: ['a', 1] })).toBe(true);
    expect(headersMatch({ tags: ['a', 1] }, { tags: ['a', 1, 2] })).toBe(false);
    expect(headersMatch({ meta: { a: [1], b: 'x' } }, { meta: { b: 'x', a: [1] } })).toBe(true);
    expect(headersMatch({ meta: { a: 1 } }, { meta: { a: 1, b: 2 } })).toBe(false);
    expect(headersMatch({ raw: Buffer.from('ab') }, { raw: Buffer.from('ab') })).toBe(true);
    expect(headersMatch({ raw: Buffer.from('ab') }, { raw: 'ab' })).toBe(false);
    expect(headersMatch({ at: new Date(5) }, { at: new Date(5) })).toBe(true);
    expect(headersMatch({ tags: [] }, { tags: {} })).toBe(false);
  });

  it('treats a valueless (void) argument as a presence test', () => {
    expect(headersMatch({ trace: null }, { trace: 'anything' })).toBe(true);
    expect(headersMatch({ trace: undefined }, { trace: 0 })).toBe(true);
    expect(headersMatch({ trace: null }, { other: 1 })).toBe(false);
  });

  it('matches every message with an empty all binding and none with an empty any binding', () => {
    expect(headersMatch({}, undefined)).toBe(true);
    expect(headersMatch({}, { a: 1 })).toBe(true);
    expect(headersMatch({ 'x-match': 'all', 'x-ignored': 1 }, {})).toBe(true);
    expect(headersMatch({ 'x-match': 'any' }, { a: 1 })).toBe(false);
    expect(headersMatch({ 'x-match': 'any', 'x-ignored': 1 }, { 'x-ignored': 1 })).toBe(false);
  });

  it('does not take inherited properties for headers', () => {
    expect(headersMatch({ toString: null }, {})).toBe(false);
  });

  it('compiles once and matches many times', () => {
    const pattern = compileHeaders({ 'x-match': 'any', a: 1 });
    expect([{ a: 1 }, { a: 2 }, undefined].map((headers) => pattern.matches(headers))).toEqual([true, false, false]);
  });
});
