/**
 * A TypeScript emitter for the subset of JSON Schema (draft 2020-12) the topology schema uses: `type`,
 * `enum`, `const`, local `$ref`s, `properties` with `required` and `additionalProperties`, `items`, and
 * `oneOf` of alternatives. It writes `readonly` types whose doc comments are the schema's descriptions
 * (a trailing "Default: x." becomes `@defaultValue`), so the TypeScript types and the schema are written
 * once, in the schema.
 *
 * Keywords that only constrain values (ranges, lengths, patterns) have no TypeScript form and are
 * skipped; any other keyword is an error, so a schema that outgrows the subset fails generation instead
 * of producing a type that accepts too much. What TypeScript should say beyond the schema (type names,
 * imported types, narrowings, a `oneOf` of object forms) comes from a {@link TypeScriptConfig}.
 *
 * @module
 */

export type Schema = { readonly [keyword: string]: unknown };

/** A schema location that has a name in TypeScript. */
export interface NamedType {
  readonly name: string;
  /**
   * The module that exports the type, relative to the generated file: the type is imported, not emitted,
   * and a compile-time check in the generated file asserts it accepts exactly what the schema does.
   */
  readonly from?: string;
  /** Its doc comment, when it should not be the schema's description. */
  readonly doc?: string;
  /**
   * For an object schema whose `oneOf` lists forms of it: the union of these interfaces, each the object's
   * properties less `omit`, with `require` made required. Its `oneOf` and `dependentRequired` are then
   * left to validation.
   */
  readonly variants?: readonly Variant[];
}

/** One interface of a {@link NamedType}'s union. */
export interface Variant {
  readonly name: string;
  readonly doc: string;
  readonly omit?: readonly string[];
  readonly require?: readonly string[];
}

/** What the emitter needs beyond the schema. Keys are JSON pointers into the schema (`#`, `#/$defs/queue`). */
export interface TypeScriptConfig {
  /** The generated file's doc comment, without `@module` (added). */
  readonly header: string;
  /** Locations emitted (or imported) as named types; other locations are written inline where used. */
  readonly names: Readonly<Record<string, NamedType>>;
  /**
   * Locations given a narrower TypeScript type than the schema's, e.g. `'string'`; a compile-time check
   * asserts the narrower type is within the schema's.
   */
  readonly narrowed?: Readonly<Record<string, string>>;
}

/** Keywords that constrain values without changing their type: nothing to emit. */
const VALUE_CONSTRAINTS = new Set(['minLength', 'maxLength', 'minimum', 'maximum', 'pattern', 'title']);
/** Keywords the emitter reads, beyond those. */
const SUPPORTED = new Set([
  ...['description', '$ref', 'const', 'enum', 'oneOf', 'type'],
  ...['properties', 'required', 'additionalProperties', 'items'],
]);
/** Keywords only the root may have. */
const ROOT = new Set(['$schema', '$id', '$defs']);
/** Consumed by a `variants` configuration (see {@link NamedType.variants}). */
const VARIANT_KEYWORDS = new Set(['oneOf', 'dependentRequired']);
const WIDTH = 120;

/** The TypeScript module for `schema`: one declaration per named location reached from the root, in that order. */
export function toTypeScript(schema: Schema, config: TypeScriptConfig): string {
  return new Emitter(schema, config).module();
}

class Emitter {
  /** Declarations with the location they are for, sorted into schema order at the end. */
  private readonly declarations: { readonly at: string; readonly text: string }[] = [];
  /** Named locations reached but not yet declared, in the order they were reached. */
  private readonly pending: string[] = [];
  /** Type name → the location it was first declared for. */
  private readonly declared = new Map<string, string>();
  private readonly imports = new Map<string, Set<string>>();
  /** Compile-time checks, each with the location it is for (a map: a shared name is checked once). */
  private readonly checks = new Map<string, string>();
  private readonly used = new Set<string>();

  constructor(
    private readonly root: Schema,
    private readonly config: TypeScriptConfig,
  ) {}

  module(): string {
    if (!this.config.names['#']) throw new Error("the configuration names no type for the root ('#')");
    this.reference('#');
    for (let at = this.pending.shift(); at !== undefined; at = this.pending.shift()) this.declare(at);
    const unused = [...Object.keys(this.config.names), ...Object.keys(this.config.narrowed ?? {})].filter(
      (at) => !this.used.has(at),
    );
    if (unused.length > 0) throw new Error(`configured locations the schema never reaches: ${unused.join(', ')}`);
    const imports = [...this.imports]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([from, names]) => `import type { ${[...names].sort().join(', ')} } from '${from}';\n`);
    return [
      comment(`${this.config.header}\n\n@module`, 0),
      imports.length > 0 ? `${imports.join('')}\n` : '',
      this.sorted().join('\n'),
      this.checks.size === 0 ? '' : `\n${this.checkBlock()}`,
    ].join('');
  }

  /** A named location's declaration (or import, for a type from elsewhere). */
  private declare(at: string): void {
    const named = this.named(at);
    const schema = this.resolve(at);
    const doc = named.doc ?? description(schema);
    if (named.from !== undefined) {
      const names = this.imports.get(named.from) ?? new Set<string>();
      this.imports.set(named.from, names.add(named.name));
      this.check(`Holds<Same<${named.name}, ${this.inline(schema, at, 0, false)}>>`, at);
      return;
    }
    this.checkKeywords(schema, at);
    let text = doc === undefined ? '' : comment(doc, 0);
    if (named.variants) {
      text += `export type ${named.name} = ${named.variants.map((v) => v.name).join(' | ')};\n`;
      for (const variant of named.variants) {
        text += `\n${comment(variant.doc, 0)}export interface ${variant.name} ${this.object(schema, at, 0, true, variant)}\n`;
      }
    } else if (isObjectWithProperties(schema)) {
      text += `export interface ${named.name} ${this.object(schema, at, 0, true)}\n`;
    } else {
      const type = this.inline(schema, at, 0, true);
      const line = `export type ${named.name} = ${type};`;
      text +=
        line.length <= WIDTH ? `${line}\n` : `export type ${named.name} =\n  | ${type.split(' | ').join('\n  | ')};\n`;
    }
    this.declarations.push({ at, text });
  }

  /** Declarations in the order of the schema: the root's first, then by `$defs` entry (stable within one). */
  private sorted(): string[] {
    const defs = Object.keys((this.root.$defs as Schema | undefined) ?? {});
    const rank = (at: string): number => (at === '#' ? -1 : defs.indexOf(at.split('/')[2] ?? ''));
    return [...this.declarations].sort((a, b) => rank(a.at) - rank(b.at)).map((d) => d.text);
  }

  /** The type of the schema at `at`: its name when it has one, else its inline form. */
  private type(schema: Schema, at: string, indent: number, docs: boolean): string {
    if (this.config.names[at]) return this.reference(at);
    const narrowed = this.config.narrowed?.[at];
    if (narrowed === undefined) return this.inline(schema, at, indent, docs);
    this.used.add(at);
    this.check(`Holds<Within<${narrowed}, ${this.inline(schema, at, 0, false)}>>`, at);
    return narrowed;
  }

  /** A named location's name, queued for declaration; a name shared by two locations needs the same shape. */
  private reference(at: string): string {
    const { name } = this.named(at);
    this.used.add(at);
    const first = this.declared.get(name);
    if (first === undefined) {
      this.declared.set(name, at);
      this.pending.push(at);
    } else if (first !== at) {
      const [a, b] = [first, at].map((p) => this.inline(this.resolve(p), p, 0, false));
      if (a !== b) throw new Error(`${first} and ${at} are both named ${name} but differ:\n${a}\n${b}`);
    }
    return name;
  }

  /** The type written out, ignoring any name of `at` itself. With `docs` false it is one line, without comments. */
  private inline(schema: Schema, at: string, indent: number, docs: boolean): string {
    this.checkKeywords(schema, at);
    if (typeof schema.$ref === 'string') return this.type(this.resolve(schema.$ref), schema.$ref, indent, docs);
    if ('const' in schema) return literal(schema.const);
    if (Array.isArray(schema.enum)) return schema.enum.map(literal).join(' | ');
    if (Array.isArray(schema.oneOf) && !this.named(at, false)?.variants) {
      return (schema.oneOf as Schema[]).map((s, i) => this.type(s, `${at}/oneOf/${i}`, indent, docs)).join(' | ');
    }
    const types: unknown[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    return types.map((t) => this.ofType(t, schema, at, indent, docs)).join(' | ');
  }

  private ofType(type: unknown, schema: Schema, at: string, indent: number, docs: boolean): string {
    switch (type) {
      case 'string':
      case 'boolean':
        return type;
      case 'integer':
      case 'number':
        return 'number';
      case 'array': {
        const items = this.type(schema.items as Schema, `${at}/items`, indent, docs);
        return `readonly ${items.includes(' | ') ? `(${items})` : items}[]`;
      }
      case 'object':
        return this.object(schema, at, indent, docs);
      default:
        throw new Error(`${at}: type ${JSON.stringify(type)} is not supported`);
    }
  }

  /** An object: a map (no `properties`) or closed members (`additionalProperties: false`, required). */
  private object(schema: Schema, at: string, indent: number, docs: boolean, variant?: Variant): string {
    const properties = schema.properties as Record<string, Schema> | undefined;
    const extra = schema.additionalProperties;
    if (properties === undefined) {
      const value =
        extra === undefined || extra === true
          ? 'unknown'
          : this.type(extra as Schema, `${at}/additionalProperties`, indent, docs);
      return `Readonly<Record<string, ${value}>>`;
    }
    // An open object with typed members would need an index signature that swallows typos: not in the subset.
    if (extra !== false) throw new Error(`${at}: an object with properties must have additionalProperties: false`);
    for (const key of [...(variant?.omit ?? []), ...(variant?.require ?? [])]) {
      if (!(key in properties)) throw new Error(`${at}: variant ${variant?.name} names no property ${key}`);
    }
    const required = new Set([...((schema.required as string[] | undefined) ?? []), ...(variant?.require ?? [])]);
    const members: string[] = [];
    for (const [key, sub] of Object.entries(properties)) {
      if (variant?.omit?.includes(key)) continue;
      const p = `${at}/properties/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : literal(key);
      const member = `readonly ${name}${required.has(key) ? '' : '?'}: ${this.type(sub, p, indent + 1, docs)};`;
      const doc = docs ? description(sub) : undefined;
      members.push(`${doc === undefined ? '' : comment(doc, indent + 1, this.enumOf(sub))}${pad(indent + 1)}${member}`);
    }
    return docs
      ? `{\n${members.join('\n')}\n${pad(indent)}}`
      : `{ ${members
          .map((m) => m.trim())
          .join(' ')
          .replace(/;$/, '')} }`;
  }

  /** The values of an enumeration at `schema` (through `$ref`s), to print a default as a literal. */
  private enumOf(schema: Schema): readonly unknown[] {
    let s = schema;
    while (typeof s.$ref === 'string') s = this.resolve(s.$ref);
    return Array.isArray(s.enum) ? s.enum : [];
  }

  private checkKeywords(schema: Schema, at: string): void {
    const variants = this.named(at, false)?.variants !== undefined;
    for (const key of Object.keys(schema)) {
      if (SUPPORTED.has(key) || VALUE_CONSTRAINTS.has(key) || (at === '#' && ROOT.has(key))) continue;
      if (variants && VARIANT_KEYWORDS.has(key)) continue;
      throw new Error(`${at}: keyword ${key} is not supported by the TypeScript generator (schemas/typescript.ts)`);
    }
    if (typeof schema.$ref === 'string' && Object.keys(schema).some((k) => k !== '$ref' && k !== 'description')) {
      throw new Error(`${at}: a $ref may only come with a description`);
    }
  }

  private named(at: string): NamedType;
  private named(at: string, required: false): NamedType | undefined;
  private named(at: string, required = true): NamedType | undefined {
    const named = this.config.names[at];
    if (!named && required) throw new Error(`no type name configured for ${at}`);
    return named;
  }

  /** The schema at a local JSON pointer (`#/$defs/queue/properties/name`). */
  private resolve(pointer: string): Schema {
    if (!pointer.startsWith('#')) throw new Error(`only local $refs are supported: ${pointer}`);
    let node: unknown = this.root;
    for (const raw of pointer.slice(1).split('/').slice(1)) {
      const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      node = typeof node === 'object' && node !== null ? (node as Schema)[key] : undefined;
      if (node === undefined) throw new Error(`$ref ${pointer} points at nothing`);
    }
    return node as Schema;
  }

  private check(text: string, at: string): void {
    if (!this.checks.has(text)) this.checks.set(text, at);
  }

  private checkBlock(): string {
    return [
      '/** `true` when `A` and `B` accept the same values. */',
      'type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;',
      '/** `true` when every `A` is a `B`. */',
      'type Within<A, B> = [A] extends [B] ? true : false;',
      '/** Compiles only when given `true`. */',
      'type Holds<T extends true> = T;',
      '/**',
      ' * Compile-time checks: an imported type accepts exactly what the schema does where it is used, and a',
      ' * narrowed one no more (`pnpm typecheck` fails when they drift).',
      ' */',
      'type SchemaAgreement = [',
      ...[...this.checks].map(([check, at]) => `  // ${at}\n  ${check},`),
      '];',
      '',
    ].join('\n');
  }
}

function isObjectWithProperties(schema: Schema): boolean {
  return schema.type === 'object' && schema.properties !== undefined;
}

/** A schema description as doc-comment text: it must not end the comment or start a TSDoc tag. */
function description(schema: Schema): string | undefined {
  if (typeof schema.description !== 'string') return undefined;
  return schema.description.replaceAll('*/', '*\\/').replaceAll('@', '\\@');
}

function literal(value: unknown): string {
  return typeof value === 'string'
    ? `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
    : JSON.stringify(value);
}

function pad(indent: number): string {
  return '  '.repeat(indent);
}

/**
 * A doc comment for `text`, wrapped to the line width. A trailing "Default: x." becomes `@defaultValue x`,
 * with `x` quoted when it is one of `values` (an enumeration's), as the hand-written types had it.
 */
function comment(text: string, indent: number, values: readonly unknown[] = []): string {
  const match = /^(.*?)\s*Default: (.+)\.$/s.exec(text);
  const [body, fallback] = match ? [match[1] ?? '', match[2] ?? ''] : [text, undefined];
  const value = fallback !== undefined && values.includes(fallback) ? literal(fallback) : fallback;
  const tag = value === undefined ? '' : `@defaultValue ${value}`;
  const prefix = pad(indent);
  const oneLine = `${prefix}/** ${[body, tag].filter(Boolean).join(' ')} */`;
  if (!body.includes('\n') && oneLine.length <= WIDTH) return `${oneLine}\n`;
  const lines = [...wrap(body, WIDTH - prefix.length - 3), ...(tag ? ['', tag] : [])];
  return `${prefix}/**\n${lines.map((l) => `${prefix} *${l ? ` ${l}` : ''}\n`).join('')}${prefix} */\n`;
}

/** `text` in lines of at most `width` characters (longer words stay whole); blank lines are kept. */
function wrap(text: string, width: number): string[] {
  return text.split('\n').flatMap((paragraph) => {
    const lines: string[] = [];
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    return [...lines, line];
  });
}
