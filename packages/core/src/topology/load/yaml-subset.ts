/**
 * A fast reader for the plain subset of YAML that topology files are almost always written in: block
 * mappings and sequences, one-line flow collections (`{ name: q, type: topic }`, `[a, b]`), plain and
 * one-line quoted scalars, comments.
 *
 * Why it exists: the `yaml` package's Document API (which keeps every node with its source range, so
 * that issues can be reported at `file:line:col`) spends ~60 µs per entity in its CST parser and
 * composer, most of a 10k-entity plan's time and memory. Positions are only needed when something is
 * wrong, so a file is read here first, without positions; the caller re-reads it with the full parser
 * only when an issue has to be located.
 *
 * Exactness over coverage: anything outside the subset — anchors, aliases, tags, block scalars,
 * multi-line scalars or flow collections, merge keys, duplicate keys, non-string keys, directives,
 * tabs, unusual escapes, an interpolation problem — makes {@link readYamlSubset} return `undefined`, and
 * the full parser reads the file instead (and reports what it finds, as before). Within the subset the
 * value is the one the full parser gives: scalars resolve with the `yaml` package's core-schema rules
 * (copied below, in its order) and `${VAR}` interpolation is applied exactly as `load-yaml.ts` does.
 * Nothing here constructs anything but plain objects, arrays, strings, numbers, booleans and null.
 *
 * @module
 */
import { interpolate, retypePlainScalar } from './interpolate.js';

/** An environment to interpolate from. */
type Env = Readonly<Record<string, string | undefined>>;

/** Thrown (and caught below) when the text leaves the subset: the full parser takes over. */
const OUTSIDE_SUBSET = Symbol('outside the YAML subset');

function outside(): never {
  throw OUTSIDE_SUBSET;
}

/**
 * Whether `text` holds a character that sends the file to the full parser: a control character other
 * than the line feed (tabs and CR included), DEL and the C1 controls (NEL), a BOM, a line or paragraph
 * separator.
 */
function hasUnsupportedCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) continue;
    if (c === 0x0a) continue;
    if (c < 0x20 || c <= 0x9f || c === 0xfeff || c === 0x2028 || c === 0x2029) return true;
  }
  return false;
}

/** A plain scalar cannot start with these (YAML 1.2 `c-indicator`), except `-?:` followed by a non-space. */
const INDICATORS = new Set([...'-?:,[]{}#&*!|>\'"%@`']);

const FLOW_END = new Set([',', ']', '}']);

/** Double-quoted escapes accepted here; any other escape goes to the full parser. */
const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  '"': '"',
  '/': '/',
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
};

/** Longest plain key accepted here (the `yaml` package refuses implicit keys over 1024 characters). */
const MAX_KEY_LENGTH = 1000;

/**
 * The value of `text` when it is a mapping written in the subset, with `${VAR}` interpolated from
 * `env`; `undefined` when the full parser must read it (outside the subset, or any problem at all).
 */
export function readYamlSubset(text: string, env: Env): Record<string, unknown> | undefined {
  if (hasUnsupportedCharacter(text)) return undefined;
  try {
    return new SubsetReader(text, env).document();
  } catch (error) {
    if (error === OUTSIDE_SUBSET) return undefined;
    throw error;
  }
}

/** A line with content (blank and comment-only lines are skipped). */
interface Row {
  readonly indent: number;
  /** The line without its indentation. */
  readonly content: string;
}

class SubsetReader {
  readonly #rows: Row[] = [];
  #at = 0;

  constructor(
    text: string,
    private readonly env: Env,
  ) {
    for (const line of text.split('\n')) {
      let indent = 0;
      while (line.charCodeAt(indent) === 32) indent++;
      if (indent === line.length || line[indent] === '#') continue;
      this.#rows.push({ indent, content: line.slice(indent) });
    }
  }

  document(): Record<string, unknown> {
    const first = this.#rows[0];
    if (first === undefined || first.indent !== 0 || isSequenceEntry(first.content)) outside();
    const value = this.#mapping(0, first.content);
    if (this.#at < this.#rows.length) outside();
    return value;
  }

  /** The indentation of the next row, or -1 at the end. */
  #nextIndent(): number {
    return this.#rows[this.#at]?.indent ?? -1;
  }

  /** A block mapping whose keys are at column `indent`; `firstEntry` is the current row's text from there. */
  #mapping(indent: number, firstEntry: string): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    let entry: string | undefined = firstEntry;
    while (entry !== undefined) {
      const split = splitKey(entry);
      if (split === undefined) outside();
      const { key, rest } = split;
      if (Object.hasOwn(map, key) || key === '__proto__') outside();
      map[key] = this.#entryValue(rest, indent, true);
      const next = this.#rows[this.#at];
      entry = next !== undefined && next.indent === indent ? next.content : undefined;
    }
    if (this.#nextIndent() > indent) outside();
    return map;
  }

  /** A block sequence whose `-` are at column `indent`. */
  #sequence(indent: number): unknown[] {
    const items: unknown[] = [];
    for (let row = this.#rows[this.#at]; row?.indent === indent && isSequenceEntry(row.content); ) {
      let start = 1;
      while (row.content[start] === ' ') start++;
      const item = row.content.slice(start);
      if (isSequenceEntry(item)) outside();
      if (item !== '' && item[0] !== '#' && splitKey(item) !== undefined) {
        items.push(this.#mapping(indent + start, item));
      } else {
        items.push(this.#entryValue(item, indent, false));
      }
      row = this.#rows[this.#at];
    }
    if (this.#nextIndent() > indent) outside();
    return items;
  }

  /**
   * The value after `key:` or `-` (`rest`, the current row's remainder), consuming its rows. A value
   * on the same row must be all there is; otherwise the value is the block below, or null.
   */
  #entryValue(rest: string, indent: number, inMapping: boolean): unknown {
    this.#at++;
    const text = rest.trimStart();
    if (text === '' || text[0] === '#') return this.#blockBelow(indent, inMapping);
    const value = this.#inline(text);
    if (this.#nextIndent() > indent) outside();
    return value;
  }

  #blockBelow(indent: number, inMapping: boolean): unknown {
    const next = this.#rows[this.#at];
    if (next === undefined) return null;
    if (next.indent > indent) {
      return isSequenceEntry(next.content) ? this.#sequence(next.indent) : this.#mapping(next.indent, next.content);
    }
    // A mapping's sequence may start at the key's own column (`queues:` then `- name: …`).
    if (inMapping && next.indent === indent && isSequenceEntry(next.content)) return this.#sequence(indent);
    return null;
  }

  /** A value written on its row after `key: ` or `- `: a flow collection, a quoted or a plain scalar. */
  #inline(text: string): unknown {
    const first = text[0];
    let value: unknown;
    let end: number;
    if (first === '{' || first === '[') {
      ({ value, end } = this.#flow(text, 0));
    } else if (first === '"' || first === "'") {
      const quoted = readQuoted(text, 0);
      value = this.#string(quoted.value, false);
      end = quoted.end;
    } else {
      const comment = text.indexOf(' #');
      const raw = (comment < 0 ? text : text.slice(0, comment)).trimEnd();
      // Brackets inside a block plain scalar are plain characters (`${VAR}` is the common case).
      if (!startsPlain(raw, false) || raw.includes(': ') || raw.endsWith(':')) outside();
      return this.#plain(raw);
    }
    const after = text.slice(end);
    if (!/^(?: +#.*| *)$/.test(after)) outside();
    return value;
  }

  /** A one-line flow collection starting at `text[start]`. */
  #flow(text: string, start: number): { value: unknown; end: number } {
    const closing = text[start] === '[' ? ']' : '}';
    const sequence: unknown[] = [];
    const map: Record<string, unknown> = {};
    let i = skipSpaces(text, start + 1);
    if (text[i] === closing) return { value: closing === ']' ? sequence : map, end: i + 1 };
    for (;;) {
      if (closing === ']') {
        const item = this.#flowItem(text, i);
        sequence.push(item.value);
        i = item.end;
      } else {
        const key = readFlowKey(text, i);
        if (Object.hasOwn(map, key.key) || key.key === '__proto__') outside();
        const valueStart = skipSpaces(text, key.end);
        if (valueStart >= text.length || FLOW_END.has(text[valueStart] as string)) outside();
        const item = this.#flowItem(text, valueStart);
        map[key.key] = item.value;
        i = item.end;
      }
      i = skipSpaces(text, i);
      if (text[i] === closing) return { value: closing === ']' ? sequence : map, end: i + 1 };
      if (text[i] !== ',') outside();
      i = skipSpaces(text, i + 1);
      // A trailing comma, or an empty entry.
      if (i >= text.length || FLOW_END.has(text[i] as string)) outside();
    }
  }

  /** A value inside a flow collection; a `:` after it (an implicit key) leaves the subset. */
  #flowItem(text: string, start: number): { value: unknown; end: number } {
    const first = text[start];
    let result: { value: unknown; end: number };
    if (first === '{' || first === '[') {
      result = this.#flow(text, start);
    } else if (first === '"' || first === "'") {
      const quoted = readQuoted(text, start);
      result = { value: this.#string(quoted.value, false), end: quoted.end };
    } else {
      const end = flowPlainEnd(text, start);
      const raw = text.slice(start, end).trimEnd();
      if (!startsPlain(raw, true)) outside();
      result = { value: this.#plain(raw), end };
    }
    if (text[skipSpaces(text, result.end)] === ':') outside();
    return result;
  }

  /** A plain scalar, resolved as the core schema does; strings are interpolated. */
  #plain(raw: string): unknown {
    const value = resolvePlain(raw);
    return typeof value === 'string' ? this.#string(value, true) : value;
  }

  /** `${VAR}` interpolation, as `load-yaml.ts` applies it; a problem needs its position: full parser. */
  #string(value: string, plain: boolean): unknown {
    const result = interpolate(value, this.env);
    if (result.problems.length > 0) outside();
    if (!result.changed) return value;
    return plain ? retypePlainScalar(result.value) : result.value;
  }
}

function isSequenceEntry(content: string): boolean {
  return content === '-' || content.startsWith('- ');
}

function skipSpaces(text: string, from: number): number {
  let i = from;
  while (text.charCodeAt(i) === 32) i++;
  return i;
}

/** Whether `raw` may be a plain scalar: not empty, not starting with an indicator. */
function startsPlain(raw: string, inFlow: boolean): boolean {
  const first = raw[0];
  if (first === undefined || raw === '<<') return false;
  if (!INDICATORS.has(first)) return true;
  if (first !== '-' && first !== '?' && first !== ':') return false;
  const second = raw[1];
  return second !== undefined && second !== ' ' && !(inFlow && '[]{},'.includes(second));
}

/** `key: rest` of a block mapping entry, or `undefined` when `entry` is not one. */
function splitKey(entry: string): { key: string; rest: string } | undefined {
  const first = entry[0];
  // A flow collection is a value (as a key it would leave the subset: its row then fails to read).
  if (first === '{' || first === '[') return undefined;
  if (first === '"' || first === "'") {
    const quoted = readQuoted(entry, 0);
    const after = entry[quoted.end + 1];
    if (entry[quoted.end] !== ':' || (after !== undefined && after !== ' ')) return undefined;
    if (quoted.value === '<<') outside();
    return { key: quoted.value, rest: entry.slice(quoted.end + 1) };
  }
  let colon = entry.indexOf(':');
  while (colon >= 0 && colon + 1 < entry.length && entry[colon + 1] !== ' ') colon = entry.indexOf(':', colon + 1);
  if (colon < 0) return undefined;
  const key = entry.slice(0, colon);
  if (
    !startsPlain(key, false) ||
    key.length > MAX_KEY_LENGTH ||
    key.endsWith(' ') ||
    key.includes(' #') ||
    /[[\]{},'"]/.test(key) ||
    typeof resolvePlain(key) !== 'string'
  )
    outside();
  return { key, rest: entry.slice(colon + 1) };
}

/** A flow mapping's key and the position after its `: `. */
function readFlowKey(text: string, start: number): { key: string; end: number } {
  let key: string;
  let colon: number;
  const first = text[start];
  if (first === '"' || first === "'") {
    const quoted = readQuoted(text, start);
    key = quoted.value;
    colon = quoted.end;
  } else {
    colon = flowPlainEnd(text, start);
    key = text.slice(start, colon);
    if (!startsPlain(key, true) || key.endsWith(' ') || typeof resolvePlain(key) !== 'string') outside();
  }
  if (text[colon] !== ':' || text[colon + 1] !== ' ' || key === '<<') outside();
  return { key, end: colon + 2 };
}

/** Where a plain scalar in a flow collection ends: at `,`, `]`, `}` or a `:` indicator. */
function flowPlainEnd(text: string, start: number): number {
  for (let i = start; i < text.length; i++) {
    const c = text[i] as string;
    if (FLOW_END.has(c)) return i;
    if (c === '[' || c === '{') outside();
    if (c === ':') {
      const next = text[i + 1];
      if (next === undefined || next === ' ' || '[]{},'.includes(next)) return i;
    }
    if (c === '#' && text[i - 1] === ' ') outside();
  }
  // The collection does not close on this row.
  return outside();
}

/** A single- or double-quoted scalar closed on the same row; `end` is just after its closing quote. */
function readQuoted(text: string, start: number): { value: string; end: number } {
  const quote = text[start];
  let value = '';
  let i = start + 1;
  for (;;) {
    const next = text.indexOf(quote as string, i);
    const backslash = quote === '"' ? text.indexOf('\\', i) : -1;
    if (next < 0) outside();
    if (backslash >= 0 && backslash < next) {
      const replacement = ESCAPES[text[backslash + 1] as string];
      if (replacement === undefined) outside();
      value += text.slice(i, backslash) + replacement;
      i = backslash + 2;
      continue;
    }
    value += text.slice(i, next);
    if (quote === "'" && text[next + 1] === "'") {
      value += "'";
      i = next + 2;
      continue;
    }
    return { value, end: next + 1 };
  }
}

/**
 * A plain scalar's value under the YAML 1.2 core schema, with the `yaml` package's tests and
 * conversions in its order (null, bool, octal, decimal and hex int, nan/inf, exponent, float).
 */
function resolvePlain(raw: string): unknown {
  if (/^(?:~|[Nn]ull|NULL)?$/.test(raw)) return null;
  if (/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(raw)) return raw[0] === 't' || raw[0] === 'T';
  if (/^0o[0-7]+$/.test(raw)) return Number.parseInt(raw.substring(2), 8);
  if (/^[-+]?[0-9]+$/.test(raw)) return Number.parseInt(raw, 10);
  if (/^0x[0-9a-fA-F]+$/.test(raw)) return Number.parseInt(raw.substring(2), 16);
  if (/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(raw)) {
    if (raw.slice(-3).toLowerCase() === 'nan') return Number.NaN;
    return raw[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(raw)) return Number.parseFloat(raw);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(raw)) return Number.parseFloat(raw);
  return raw;
}
