/**
 * Parsing one YAML (or JSON) topology file into a plain value that remembers where each value came
 * from. Nothing here executes or constructs anything: only the YAML 1.2 core schema is accepted, and
 * any tag beyond it (`!!js/function`, `!!binary`, `!custom`) is an error.
 *
 * @module
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Scalar, type YAMLError } from 'yaml';
import type { TopologyIssue } from '../../errors.js';
import { interpolate, retypePlainScalar } from './interpolate.js';
import {
  isMergeKey,
  joinPointer,
  type LocateOptions,
  locateInYaml,
  parsePointer,
  pointerAtOffset,
  positionAt,
  type SourceLocation,
  type YamlSource,
} from './locate.js';
import { readYamlSubset } from './yaml-subset.js';

/** One file's document as a plain value, and how to locate pointers into it. */
export interface TopologyPart {
  readonly value: Readonly<Record<string, unknown>>;
  locate(pointer: string, options?: LocateOptions): SourceLocation | undefined;
}

/** An environment to interpolate from. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Anchors may be reused, but a small file must not expand into a huge value (the "billion laughs"). */
const MAX_ALIAS_COUNT = 100;

/** The tags of the YAML 1.2 core schema: writing them out explicitly (`!!str 10`) is harmless. */
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/**
 * Parses `text` (YAML or JSON, which is YAML) as the topology file `file`, interpolating `${VAR}` in
 * every string value. Returns no part when the text is not a well-formed mapping; otherwise the part,
 * possibly with issues (an unset variable, a duplicate key) that the caller must still treat as errors.
 *
 * A file in the common subset of YAML is read by the fast reader (`yaml-subset.ts`), without source
 * positions; the full parser reads it again only if an issue has to be located. Anything else, and
 * every file with a problem of its own, is read by the full parser straight away.
 */
export function parseYamlPart(text: string, file: string, env: Env): { part?: TopologyPart; issues: TopologyIssue[] } {
  const value = readYamlSubset(text, env);
  if (value === undefined) return parseYamlDocument(text, file, env);
  let located: TopologyPart | undefined;
  const locate = (pointer: string, options?: LocateOptions): SourceLocation | undefined => {
    // Same text, same environment: the full parser gives the same value, with its positions.
    located ??= parseYamlDocument(text, file, env).part;
    return located?.locate(pointer, options);
  };
  return { part: { value, locate }, issues: [] };
}

/**
 * {@link parseYamlPart} with the `yaml` package's Document API: every node keeps its source range.
 * Exported for the tests that hold the fast reader to the same values.
 * @internal
 */
export function parseYamlDocument(
  text: string,
  file: string,
  env: Env,
): { part?: TopologyPart; issues: TopologyIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    customTags: [],
    schema: 'core',
    uniqueKeys: true,
    prettyErrors: true,
    strict: true,
    lineCounter,
    // Without this, `!!binary`, `!!set`, `!!timestamp`, … resolve to Buffers, Sets and Dates.
    resolveKnownTags: false,
    // `<<: *defaults` is the usual way to share settings between queues; YAML 1.2 leaves it opt-in.
    merge: true,
    // Problems are returned as issues; the library must not print them as well.
    logLevel: 'silent',
  });
  const source: YamlSource = { file, doc, lineCounter, text, lines: text.split(/\r?\n/) };
  const issues: TopologyIssue[] = [];
  let fatal = false;
  for (const error of doc.errors) {
    if (error.code === 'DUPLICATE_KEY') {
      issues.push(duplicateKeyIssue(source, error));
    } else {
      fatal = true;
      issues.push({
        path: pointerAtOffset(source, error.pos[0]),
        message: `YAML syntax error: ${plainMessage(error)}`,
        keyword: 'yaml-syntax',
        severity: 'error',
        ...positionAt(source, error.pos[0]),
      });
    }
  }
  for (const warning of doc.warnings) {
    // Unknown tags are reported, as errors, by the walk below, which knows their path.
    if (warning.code === 'TAG_RESOLVE_FAILED') continue;
    issues.push({
      path: pointerAtOffset(source, warning.pos[0]),
      message: plainMessage(warning),
      keyword: 'yaml-warning',
      severity: 'warning',
      ...positionAt(source, warning.pos[0]),
    });
  }
  if (fatal) return { issues };
  if (!isMap(doc.contents)) {
    const what =
      doc.contents === null ? 'the file is empty' : `found ${isSeq(doc.contents) ? 'a list' : 'a single value'}`;
    issues.push({
      path: '',
      message: `a topology file must be a mapping such as 'version: 1' (${what})`,
      keyword: 'type',
      severity: 'error',
      ...positionAt(source, doc.contents?.range[0] ?? 0),
    });
    return { issues };
  }
  walk(source, doc.contents, '', env, issues);
  let value: Record<string, unknown>;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as Record<string, unknown>;
  } catch {
    // toJS throws only for aliases: an unknown anchor (reported by the walk) or too much expansion.
    if (!issues.some((i) => i.keyword === 'yaml-alias')) {
      issues.push({
        path: '',
        message: `anchors and aliases expand to too much data (over ${MAX_ALIAS_COUNT} alias uses); write the values out instead`,
        keyword: 'yaml-alias',
        severity: 'error',
        ...positionAt(source, 0),
      });
    }
    return { issues };
  }
  return { part: { value, locate: (pointer, options) => locateInYaml(source, pointer, options) }, issues };
}

/** The library's message without its own position and excerpt, which the issue carries separately. */
function plainMessage(error: YAMLError): string {
  return error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '').trim();
}

function duplicateKeyIssue(source: YamlSource, error: YAMLError): TopologyIssue {
  const path = pointerAtOffset(source, error.pos[0]);
  const name = parsePointer(path).at(-1) ?? '';
  const first = findFirstKey(source.doc.contents, name, error.pos[0]);
  const where = first === undefined ? '' : ` (first defined on line ${positionAt(source, first).line})`;
  return {
    path,
    message: `duplicate key '${name}'${where}; only the last one would count`,
    keyword: 'duplicate-key',
    severity: 'error',
    ...positionAt(source, error.pos[0]),
  };
}

/** Offset of the first key `name` in the mapping that holds the duplicate at `offset`. */
function findFirstKey(node: unknown, name: string, offset: number): number | undefined {
  if (isMap(node)) {
    const keys = node.items.filter((p) => isScalar(p.key) && String(p.key.value) === name).map((p) => p.key as Scalar);
    if (keys.length > 1 && keys.some((k) => k.range?.[0] === offset)) return keys[0]?.range?.[0];
    for (const pair of node.items) {
      const found = findFirstKey(pair.value, name, offset);
      if (found !== undefined) return found;
    }
  } else if (isSeq(node)) {
    for (const item of node.items) {
      const found = findFirstKey(item, name, offset);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Checks tags, keys and aliases and interpolates string values, in place. */
function walk(source: YamlSource, node: unknown, pointer: string, env: Env, issues: TopologyIssue[]): void {
  if (isAlias(node)) {
    if (!node.resolve(source.doc)) {
      issues.push({
        path: pointer,
        message: `unknown anchor '*${node.source}' (an anchor '&${node.source}' must come before its use)`,
        keyword: 'yaml-alias',
        severity: 'error',
        ...positionAt(source, node.range?.[0] ?? 0),
      });
    }
    return;
  }
  if (!isScalar(node) && !isMap(node) && !isSeq(node)) return;
  checkTag(source, node, pointer, issues);
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      if (!isScalar(pair.key)) {
        issues.push({
          path: pointer,
          message: 'mapping keys must be plain strings, not lists or mappings',
          keyword: 'yaml-key',
          severity: 'error',
          ...positionAt(source, (pair.key as { range?: number[] } | null)?.range?.[0] ?? node.range?.[0] ?? 0),
        });
        continue;
      }
      checkTag(source, pair.key, pointer, issues);
      // The entries of a `<<` merge land in this mapping itself.
      const at = isMergeKey(pair.key) ? pointer : joinPointer(pointer, String(pair.key.value));
      walk(source, pair.value, at, env, issues);
    }
  } else if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) walk(source, item, joinPointer(pointer, index), env, issues);
  } else if (typeof node.value === 'string') {
    interpolateScalar(source, node as Scalar<string>, pointer, env, issues);
  }
}

function checkTag(
  source: YamlSource,
  node: { tag?: string; range?: [number, number, number] | null },
  pointer: string,
  issues: TopologyIssue[],
): void {
  if (node.tag === undefined || CORE_TAGS.has(node.tag)) return;
  const tag = node.tag.replace(/^tag:yaml\.org,2002:/, '!!');
  const start = node.range?.[0] ?? 0;
  // The node's range starts after its tag; point at the tag itself when it is on the same line.
  const tagOffset = findBackwards(source, tag, start);
  issues.push({
    path: pointer,
    message: `unsupported YAML tag '${tag}': topology files hold plain data only (strings, numbers, booleans, lists, mappings)`,
    keyword: 'yaml-tag',
    severity: 'error',
    ...positionAt(source, tagOffset),
  });
}

/** Offset of the last `needle` between the start of the line `offset` is on and `offset`, else `offset`. */
function findBackwards(source: YamlSource, needle: string, offset: number): number {
  const lineStart = source.text.lastIndexOf('\n', offset - 1) + 1;
  const at = source.text.slice(lineStart, offset).lastIndexOf(needle);
  return at < 0 ? offset : lineStart + at;
}

function interpolateScalar(
  source: YamlSource,
  node: Scalar<string>,
  pointer: string,
  env: Env,
  issues: TopologyIssue[],
): void {
  const result = interpolate(node.value, env);
  const [start = 0, end = start] = node.range ?? [];
  const text = source.text.slice(start, end);
  let searchFrom = 0;
  for (const problem of result.problems) {
    // Point at the expression itself; block and quoted scalars shift it from the value's start.
    const at = text.indexOf(problem.expression, searchFrom);
    if (at >= 0) searchFrom = at + problem.expression.length;
    issues.push({
      path: pointer,
      message: problem.message,
      keyword: problem.kind === 'missing' ? 'env' : 'interpolation',
      severity: 'error',
      ...positionAt(source, at >= 0 ? start + at : start),
    });
  }
  if (!result.changed) return;
  (node as Scalar<unknown>).value =
    node.type === 'PLAIN' && node.tag === undefined && result.problems.length === 0
      ? retypePlainScalar(result.value)
      : result.value;
}
