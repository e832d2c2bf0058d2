/**
 * JSON Schema → TypeScript at the type level: {@link FromSchema} turns a task's `payload` schema,
 * written as a literal in `defineTopology({...})` (whose `const` type parameter keeps the literal
 * types), into the payload type that `send()` accepts and handlers receive.
 *
 * Only the subset task payloads use is mapped; every other keyword is ignored, and a schema that
 * says nothing this mapping understands becomes `unknown` (never a guess). `generateTaskTypes` in
 * `codegen.ts` produces the same types as source text for YAML topologies; keep the two in step.
 *
 * @module
 */

/**
 * How many levels of nested schemas (properties, items, `anyOf`/`oneOf`/`allOf` branches) below the
 * payload schema are mapped; deeper ones become `unknown`. The bound keeps the compiler far from its
 * instantiation-depth limit whatever the schema looks like. `generateTaskTypes` stops at the same depth.
 */
export const FROM_SCHEMA_MAX_DEPTH = 10;

/** `Prev[D]` is `D - 1`; `Prev[0]` is `never`, which ends the recursion. Length must be FROM_SCHEMA_MAX_DEPTH + 1. */
type Prev = [never, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/**
 * The TypeScript type of the values a JSON Schema accepts, for a schema given as a literal type
 * (readonly objects and tuples, as `const` inference produces them).
 *
 * Mapped:
 * - `type`: `'string'`, `'number'` / `'integer'` (both `number`), `'boolean'`, `'null'`, `'object'`,
 *   `'array'`, and arrays of them (a union, e.g. `['string', 'null']` for a nullable string);
 * - `const` → that literal; `enum` → the union of its literals (both win over `type`);
 * - objects: `properties` with `required` (required keys plain, the others optional `?`; a required
 *   key without a declared property is `unknown`). Only declared properties are typed when
 *   `additionalProperties` is absent or `false`; `additionalProperties: true` or a schema adds
 *   `[key: string]: unknown` (the schema's own type when there are no declared properties, e.g.
 *   `Record<string, number>`); an object schema with neither `properties` nor `additionalProperties`
 *   is `{ [key: string]: unknown }`;
 * - arrays: `items` (one schema) → `T[]`; without `items`, or with tuple-style `items`, `unknown[]`;
 * - `anyOf` / `oneOf` → union of the branches, `allOf` → intersection, each intersected with what the
 *   sibling keywords say (so `{ type: 'object', properties, anyOf: [{ required: ['a'] }, …] }` stays
 *   the object type);
 * - the boolean schemas: `true` → `unknown`, `false` → `never`.
 *
 * Not mapped (→ `unknown` or ignored): `$ref`, `not`, `if`/`then`/`else`, `patternProperties`,
 * `prefixItems`, OpenAPI's `nullable`, and validation-only keywords (`format`, `minimum`, `pattern`, …).
 * A schema without `type`, `const`, `enum` or a combinator is `unknown`, as JSON Schema accepts any
 * value for it. Nesting deeper than {@link FROM_SCHEMA_MAX_DEPTH} levels is `unknown`.
 *
 * @example
 * ```ts
 * type P = FromSchema<{
 *   type: 'object';
 *   properties: { url: { type: 'string' }; n: { type: 'integer' } };
 *   required: ['url'];
 * }>; // { url: string; n?: number }
 * ```
 */
export type FromSchema<S> = Resolve<S, typeof FROM_SCHEMA_MAX_DEPTH>;

/** `true` only for `any`, which would otherwise match every branch below at once. */
type IsAny<T> = 0 extends 1 & T ? true : false;

/** Flattens an intersection of object types into one object type (optional and index members kept). */
type Simplify<T> = { [K in keyof T]: T[K] };

// `{}` is the neutral element of the intersections below: it adds no member.
// biome-ignore lint/complexity/noBannedTypes: an empty object type, intentionally
type Empty = {};

type Resolve<S, D extends number> =
  IsAny<S> extends true
    ? unknown
    : [D] extends [never]
      ? unknown
      : S extends boolean
        ? S extends false
          ? never
          : unknown
        : S extends object
          ? Base<S, D> & AnyOf<S, D> & OneOf<S, D> & AllOf<S, D>
          : unknown;

/** What `const`, `enum` and `type` say; `unknown` (neutral in an intersection) when none is present. */
type Base<S, D extends number> = S extends { readonly const: infer C }
  ? C
  : S extends { readonly enum: readonly (infer E)[] }
    ? E
    : S extends { readonly type: infer T }
      ? T extends readonly (infer U)[]
        ? FromType<U, S, D>
        : FromType<T, S, D>
      : unknown;

/** One `type` name (distributes over a union of names); a wide `string` or unknown name is `unknown`. */
type FromType<T, S, D extends number> = T extends 'string'
  ? string
  : T extends 'number' | 'integer'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'object'
          ? ObjectOf<S, Prev[D]>
          : T extends 'array'
            ? ArrayOf<S, Prev[D]>
            : unknown;

type AnyOf<S, D extends number> = S extends { readonly anyOf: readonly (infer B)[] } ? Resolve<B, Prev[D]> : unknown;
type OneOf<S, D extends number> = S extends { readonly oneOf: readonly (infer B)[] } ? Resolve<B, Prev[D]> : unknown;
type AllOf<S, D extends number> = S extends { readonly allOf: infer L extends readonly unknown[] }
  ? Intersect<L, Prev[D]>
  : unknown;

type Intersect<L extends readonly unknown[], D extends number> = L extends readonly [infer H, ...infer R]
  ? Resolve<H, D> & Intersect<R, D>
  : unknown;

/** `D` is already the depth of the property schemas. */
type ObjectOf<S, D extends number> = Simplify<
  Declared<PropertiesOf<S>, RequiredOf<S>, D> & Additional<S, keyof PropertiesOf<S>, D>
>;

type PropertiesOf<S> = S extends { readonly properties: infer P extends object } ? P : Empty;
type RequiredOf<S> = S extends { readonly required: readonly (infer K extends string)[] } ? K : never;

type Declared<P, R extends string, D extends number> = {
  -readonly [K in keyof P as K extends R ? K : never]: Resolve<P[K], D>;
} & {
  -readonly [K in keyof P as K extends R ? never : K]?: Resolve<P[K], D>;
} & { [K in Exclude<R, keyof P>]: unknown };

/** The index signature `additionalProperties` asks for; `Keys` (the declared ones) tells whether properties exist. */
type Additional<S, Keys, D extends number> = S extends { readonly additionalProperties: false }
  ? Empty
  : S extends { readonly additionalProperties: infer A }
    ? A extends true
      ? { [key: string]: unknown }
      : [Keys] extends [never]
        ? { [key: string]: Resolve<A, D> }
        : { [key: string]: unknown }
    : S extends { readonly properties: object }
      ? Empty
      : { [key: string]: unknown };

/** `D` is already the depth of the item schema. */
type ArrayOf<S, D extends number> = S extends { readonly items: infer I }
  ? I extends readonly unknown[]
    ? unknown[]
    : Resolve<I, D>[]
  : unknown[];
