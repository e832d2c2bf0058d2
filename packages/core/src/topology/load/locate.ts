/**
 * Source positions for topology files: JSON pointers (RFC 6901) into a parsed YAML document are mapped
 * back to `file:line:column`, so that an issue found in the plain JavaScript value (by the JSON Schema or
 * a semantic rule) can point at the text the user wrote.
 *
 * @module
 */
import {
  type Document,
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
} from 'yaml';

/** Where a value is in a source file. Lines and columns are 1-based. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The whole line the position is on, without its line break. */
  readonly sourceLine: string;
}

/** Options of a `locate` call. */
export interface LocateOptions {
  /**
   * Point at the key of the mapping entry rather than at its value (for "unknown property" and
   * "duplicate key" issues, where the key is what is wrong).
   */
  readonly key?: boolean;
}

/** Splits a JSON pointer into its unescaped segments; `''` is the whole document. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** Appends segments to a JSON pointer, escaping `~` and `/` as RFC 6901 requires. */
export function joinPointer(pointer: string, ...segments: readonly (string | number)[]): string {
  return segments.reduce<string>(
    (acc, s) => `${acc}/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`,
    pointer,
  );
}

/** A parsed YAML file with what is needed to turn offsets into line/column and pointers into offsets. */
export interface YamlSource {
  readonly file: string;
  readonly doc: Document.Parsed;
  readonly lineCounter: LineCounter;
  /** The whole source text. */
  readonly text: string;
  /** The source split into lines, for {@link SourceLocation.sourceLine}. */
  readonly lines: readonly string[];
}

/** The location of a character offset in `source`. */
export function positionAt(source: YamlSource, offset: number): SourceLocation {
  const { line, col } = source.lineCounter.linePos(offset);
  // LineCounter reports line 0 when the text has no line break before `offset`.
  const l = Math.max(line, 1);
  return { file: source.file, line: l, column: Math.max(col, 1), sourceLine: source.lines[l - 1] ?? '' };
}

/** Start offset of a node, `undefined` for nodes built without source (never the case after parsing). */
function startOf(node: { range?: readonly [number, number, number] | null | undefined }): number | undefined {
  return node.range?.[0];
}

/** Follows aliases (`*name`) to the node their anchor is on. */
function deref(source: YamlSource, node: unknown): unknown {
  let current = node;
  // An alias can point at another alias only through a chain of anchors; the bound guards malformed input.
  for (let i = 0; i < 100 && isAlias(current); i++) current = current.resolve(source.doc);
  return current;
}

/** The mapping entry of `map` whose key reads `segment`, looking through `<<` merge keys. */
function findPair(
  source: YamlSource,
  map: unknown,
  segment: string,
  depth = 0,
): { key: Node; value: unknown } | undefined {
  if (!isMap(map) || depth > 10) return undefined;
  // The last of duplicate keys wins in the value, so it wins here too.
  for (let i = map.items.length - 1; i >= 0; i--) {
    const pair = map.items[i];
    if (isPair(pair) && isScalar(pair.key) && String(pair.key.value) === segment) {
      return { key: pair.key, value: pair.value };
    }
  }
  for (const pair of map.items) {
    if (!(isPair(pair) && isMergeKey(pair.key))) continue;
    const merged = deref(source, pair.value);
    const sources = isSeq(merged) ? merged.items.map((n) => deref(source, n)) : [merged];
    for (const m of sources) {
      const found = findPair(source, m, segment, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/** Whether `key` is a `<<` merge key (the library parses it to a symbol, not the string '<<'). */
export function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (typeof key.value === 'symbol' || key.value === '<<') && key.source === '<<';
}

/**
 * The location of the value at `pointer` in a YAML document. When the pointer goes further than the
 * document does, the deepest existing ancestor is located instead, so an issue about a missing value
 * still points near where it belongs.
 */
export function locateInYaml(source: YamlSource, pointer: string, options?: LocateOptions): SourceLocation | undefined {
  let node: unknown = deref(source, source.doc.contents);
  let key: Node | undefined;
  for (const segment of parsePointer(pointer)) {
    if (isMap(node)) {
      const pair = findPair(source, node, segment);
      if (!pair) break;
      key = pair.key;
      node = deref(source, pair.value);
    } else if (isSeq(node) && /^(0|[1-9][0-9]*)$/.test(segment)) {
      const item = node.items[Number(segment)];
      if (item === undefined) break;
      key = undefined;
      node = deref(source, item);
    } else {
      break;
    }
  }
  let offset: number | undefined;
  if (key && (options?.key || !hasOwnLine(node))) {
    offset = startOf(key);
  } else if (isScalar(node) || isCollection(node)) {
    offset = startOf(node);
  }
  if (offset === undefined && key) offset = startOf(key);
  return offset === undefined ? undefined : positionAt(source, offset);
}

/**
 * Whether a value can be pointed at itself. Empty values (`name:`) have no text of their own, and block
 * collections start on the line after their key, where the key is the more telling position.
 */
function hasOwnLine(node: unknown): boolean {
  if (isScalar(node)) return node.range ? node.range[1] > node.range[0] : false;
  if (isCollection(node)) return node.flow === true;
  return false;
}

/** The pointer of the deepest node whose text contains `offset` (where a syntax error is). */
export function pointerAtOffset(source: YamlSource, offset: number): string {
  let pointer = '';
  let node: unknown = source.doc.contents;
  const within = (n: unknown): boolean => {
    const range = (n as { range?: readonly number[] | null } | null)?.range;
    return (
      range?.[0] !== undefined &&
      range[2] !== undefined &&
      range[0] <= offset &&
      offset < Math.max(range[2], range[0] + 1)
    );
  };
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => within(p.key) || within(p.value));
      if (!pair || !isScalar(pair.key)) return pointer;
      pointer = joinPointer(pointer, String(pair.key.value));
      if (within(pair.key)) return pointer;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((n) => within(n));
      if (index < 0) return pointer;
      pointer = joinPointer(pointer, index);
      node = node.items[index];
    } else {
      return pointer;
    }
  }
}
