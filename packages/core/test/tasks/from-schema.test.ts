// Type tests: `tsc` (pnpm typecheck) checks every assertion here, and each `@ts-expect-error` must
// find an error; vitest only runs the (trivial) bodies.
import { describe, expectTypeOf, it } from 'vitest';
import type { FromSchema } from '../../src/tasks/from-schema.js';

/** Type-level schemas as `const` inference sees them: readonly, literal. */
function schema<const S>(s: S): S {
  return s;
}

describe('FromSchema', () => {
  it('maps an object with required and optional properties', () => {
    const s = schema({
      type: 'object',
      properties: { url: { type: 'string' }, n: { type: 'integer' } },
      required: ['url'],
    });
    expectTypeOf<FromSchema<typeof s>>().toEqualTypeOf<{ url: string; n?: number }>();
    expectTypeOf<
      FromSchema<{ type: 'object'; properties: { url: { type: 'string' }; n: { type: 'integer' } }; required: ['url'] }>
    >().toEqualTypeOf<{ url: string; n?: number }>();

    const ok: FromSchema<typeof s> = { url: 'https://x' };
    // @ts-expect-error url is required
    const missing: FromSchema<typeof s> = { n: 1 };
    // @ts-expect-error n is a number
    const wrong: FromSchema<typeof s> = { url: 'u', n: '1' };
    // @ts-expect-error exact optional properties: undefined is not a value JSON can carry
    const undef: FromSchema<typeof s> = { url: 'u', n: undefined };
    // @ts-expect-error only declared properties when additionalProperties is absent
    const extra: FromSchema<typeof s> = { url: 'u', other: 1 };
    void [ok, missing, wrong, undef, extra];
  });

  it('maps the primitive types, type arrays and the boolean schemas', () => {
    expectTypeOf<FromSchema<{ type: 'string' }>>().toEqualTypeOf<string>();
    expectTypeOf<FromSchema<{ type: 'number' }>>().toEqualTypeOf<number>();
    expectTypeOf<FromSchema<{ type: 'integer' }>>().toEqualTypeOf<number>();
    expectTypeOf<FromSchema<{ type: 'boolean' }>>().toEqualTypeOf<boolean>();
    expectTypeOf<FromSchema<{ type: 'null' }>>().toEqualTypeOf<null>();
    expectTypeOf<FromSchema<{ readonly type: readonly ['string', 'null'] }>>().toEqualTypeOf<string | null>();
    expectTypeOf<FromSchema<{ type: ['integer', 'boolean'] }>>().toEqualTypeOf<number | boolean>();
    expectTypeOf<FromSchema<true>>().toEqualTypeOf<unknown>();
    expectTypeOf<FromSchema<false>>().toEqualTypeOf<never>();
  });

  it('maps enum and const to literals', () => {
    const e = schema({ type: 'string', enum: ['low', 'high', null, 3] });
    expectTypeOf<FromSchema<typeof e>>().toEqualTypeOf<'low' | 'high' | null | 3>();
    expectTypeOf<FromSchema<{ const: 'v1' }>>().toEqualTypeOf<'v1'>();
    expectTypeOf<FromSchema<{ const: 42; type: 'string' }>>().toEqualTypeOf<42>();
    expectTypeOf<FromSchema<{ enum: [] }>>().toEqualTypeOf<never>();
    // @ts-expect-error not a member of the enum
    const bad: FromSchema<typeof e> = 'mid';
    void bad;
  });

  it('maps arrays, nested arrays and arrays of objects', () => {
    expectTypeOf<FromSchema<{ type: 'array'; items: { type: 'string' } }>>().toEqualTypeOf<string[]>();
    expectTypeOf<FromSchema<{ type: 'array' }>>().toEqualTypeOf<unknown[]>();
    expectTypeOf<FromSchema<{ type: 'array'; items: [{ type: 'string' }] }>>().toEqualTypeOf<unknown[]>();
    const nested = schema({ type: 'array', items: { type: 'array', items: { type: ['number', 'null'] } } });
    expectTypeOf<FromSchema<typeof nested>>().toEqualTypeOf<(number | null)[][]>();
    const objects = schema({
      type: 'array',
      items: { type: 'object', required: ['id'], properties: { id: { type: 'string' } }, additionalProperties: false },
    });
    expectTypeOf<FromSchema<typeof objects>>().toEqualTypeOf<{ id: string }[]>();
  });

  it('maps nested objects', () => {
    const s = schema({
      type: 'object',
      required: ['source', 'outputs'],
      properties: {
        source: {
          type: 'object',
          required: ['url'],
          properties: {
            url: { type: 'string' },
            headers: { type: 'object', additionalProperties: { type: 'string' } },
          },
        },
        outputs: {
          type: 'array',
          items: {
            type: 'object',
            required: ['format'],
            properties: { format: { enum: ['mp4', 'webm'] }, height: { type: 'integer' } },
          },
        },
        'x-trace': { type: 'string' },
      },
    });
    expectTypeOf<FromSchema<typeof s>>().toEqualTypeOf<{
      source: { url: string; headers?: { [key: string]: string } };
      outputs: { format: 'mp4' | 'webm'; height?: number }[];
      'x-trace'?: string;
    }>();
  });

  it('maps additionalProperties and object schemas without properties', () => {
    expectTypeOf<FromSchema<{ type: 'object' }>>().toEqualTypeOf<{ [key: string]: unknown }>();
    expectTypeOf<FromSchema<{ type: 'object'; additionalProperties: { type: 'number' } }>>().toEqualTypeOf<{
      [key: string]: number;
    }>();
    expectTypeOf<
      FromSchema<{ type: 'object'; properties: { a: { type: 'string' } }; additionalProperties: true }>
    >().toEqualTypeOf<{ [key: string]: unknown; a?: string }>();
    expectTypeOf<
      FromSchema<{ type: 'object'; properties: { a: { type: 'string' } }; additionalProperties: { type: 'number' } }>
    >().toEqualTypeOf<{ [key: string]: unknown; a?: string }>();
    const none = schema({ type: 'object', properties: {}, additionalProperties: false });
    expectTypeOf<FromSchema<typeof none>>().toEqualTypeOf<Record<never, never>>();
    // A required key with no declared property: present, any value.
    const requiredOnly = schema({ type: 'object', required: ['id'], properties: {} });
    expectTypeOf<FromSchema<typeof requiredOnly>>().toEqualTypeOf<{ id: unknown }>();
  });

  it('maps anyOf / oneOf to unions and allOf to intersections', () => {
    expectTypeOf<FromSchema<{ anyOf: [{ type: 'string' }, { type: 'null' }] }>>().toEqualTypeOf<string | null>();
    expectTypeOf<
      FromSchema<{
        oneOf: [
          { type: 'object'; required: ['kind']; properties: { kind: { const: 'a' } } },
          { type: 'object'; required: ['kind', 'n']; properties: { kind: { const: 'b' }; n: { type: 'number' } } },
        ];
      }>
    >().toEqualTypeOf<{ kind: 'a' } | { kind: 'b'; n: number }>();
    // Siblings still apply: branches that only add `required` leave the object type as it is.
    expectTypeOf<
      FromSchema<{
        type: 'object';
        properties: { a: { type: 'string' } };
        additionalProperties: false;
        anyOf: [{ required: ['a'] }, { required: ['b'] }];
      }>
    >().toEqualTypeOf<{ a?: string }>();
    type All = FromSchema<{
      allOf: [
        { type: 'object'; required: ['a']; properties: { a: { type: 'string' } } },
        { type: 'object'; required: ['b']; properties: { b: { type: 'number' } } },
      ];
    }>;
    expectTypeOf<All>().toExtend<{ a: string; b: number }>();
    expectTypeOf<{ a: string; b: number }>().toExtend<All>();
  });

  it('is unknown for what it does not map', () => {
    expectTypeOf<FromSchema<{ $ref: '#/definitions/x' }>>().toEqualTypeOf<unknown>();
    expectTypeOf<FromSchema<{ properties: { a: { type: 'string' } } }>>().toEqualTypeOf<unknown>();
    expectTypeOf<FromSchema<{ type: 'date' }>>().toEqualTypeOf<unknown>();
    expectTypeOf<FromSchema<{ type: string }>>().toEqualTypeOf<unknown>();
    expectTypeOf<FromSchema<Readonly<Record<string, unknown>>>>().toEqualTypeOf<unknown>();
    expectTypeOf<FromSchema<unknown>>().toEqualTypeOf<unknown>();
    // biome-ignore lint/suspicious/noExplicitAny: `any` must not spread into every branch
    expectTypeOf<FromSchema<any>>().toEqualTypeOf<unknown>();
    expectTypeOf<FromSchema<'string'>>().toEqualTypeOf<unknown>();
    expectTypeOf<FromSchema<{ type: 'string'; format: 'uri'; minLength: 1 }>>().toEqualTypeOf<string>();
  });

  it('maps ten nested levels and stops (unknown) below', () => {
    type Wrap<T> = { type: 'object'; required: ['x']; properties: { x: T } };
    type Ten = Wrap<Wrap<Wrap<Wrap<Wrap<Wrap<Wrap<Wrap<Wrap<Wrap<{ type: 'string' }>>>>>>>>>>;
    type X<T> = { x: T };
    expectTypeOf<FromSchema<Ten>>().toEqualTypeOf<X<X<X<X<X<X<X<X<X<X<string>>>>>>>>>>>();
    expectTypeOf<FromSchema<Wrap<Ten>>>().toEqualTypeOf<X<X<X<X<X<X<X<X<X<X<X<unknown>>>>>>>>>>>>();
  });
});
