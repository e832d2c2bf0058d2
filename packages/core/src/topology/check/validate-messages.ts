/**
 * Turning ajv's errors into messages a person understands: no "must NOT have additional properties",
 * but "unknown property 'maxPriorty' (did you mean 'maxPriority'?)".
 *
 * @module
 */
import type { ErrorObject } from 'ajv/dist/2020.js';
import { joinPointer } from '../load/locate.js';

/** What one ajv error says, in words, and where. */
export interface ExplainedError {
  readonly path: string;
  readonly message: string;
  /** The problem is the key (an unknown property), not the value. */
  readonly atKey: boolean;
}

/** Explains one ajv error (compiled with `verbose: true`, so `data`, `schema` and `parentSchema` are set). */
export function explain(error: ErrorObject): ExplainedError {
  const params = error.params as Record<string, unknown>;
  const at = (message: string): ExplainedError => ({ path: error.instancePath, message, atKey: false });
  switch (error.keyword) {
    case 'required':
      return at(`missing required property '${String(params.missingProperty)}'`);
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const name = String(params.additionalProperty ?? params.unevaluatedProperty);
      const allowed = Object.keys((error.parentSchema?.properties as object | undefined) ?? {});
      const guess = closest(name, allowed);
      const hint = guess
        ? ` (did you mean '${guess}'?)`
        : allowed.length > 0
          ? ` (allowed here: ${allowed.join(', ')})`
          : ' (no properties are allowed here)';
      return { path: joinPointer(error.instancePath, name), message: `unknown property '${name}'${hint}`, atKey: true };
    }
    case 'enum': {
      const allowed = (params.allowedValues as readonly unknown[]).map(show);
      const guess =
        typeof error.data === 'string'
          ? closest(error.data, (params.allowedValues as unknown[]).map(String))
          : undefined;
      return at(
        `must be one of ${allowed.join(', ')}, got ${show(error.data)}${guess ? ` (did you mean '${guess}'?)` : ''}`,
      );
    }
    case 'const':
      return at(`must be ${show(params.allowedValue)}, got ${show(error.data)}`);
    case 'type':
      return at(`expected ${typeNames(params.type)}, got ${describe(error.data)}`);
    case 'minimum':
      return at(`must be at least ${String(params.limit)}, got ${show(error.data)}`);
    case 'maximum':
      return at(`must be at most ${String(params.limit)}, got ${show(error.data)}`);
    case 'exclusiveMinimum':
      return at(`must be greater than ${String(params.limit)}, got ${show(error.data)}`);
    case 'exclusiveMaximum':
      return at(`must be less than ${String(params.limit)}, got ${show(error.data)}`);
    case 'minLength':
      return at(params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long`);
    case 'maxLength':
      return at(
        `must be at most ${String(params.limit)} characters long, got ${String((error.data as string).length)}`,
      );
    case 'minItems':
      return at(
        params.limit === 1 ? 'must not be an empty list' : `must have at least ${String(params.limit)} entries`,
      );
    case 'maxItems':
      return at(`must have at most ${String(params.limit)} entries`);
    case 'oneOf':
    case 'anyOf':
      return at(`must be ${alternatives(error.schema)}, got ${describe(error.data)}`);
    default:
      return at(error.message ?? `fails the schema rule '${error.keyword}'`);
  }
}

/** "a priority class name or an integer 0–255", from the `title` of each branch of a oneOf/anyOf. */
function alternatives(branches: unknown): string {
  const titles = Array.isArray(branches)
    ? branches.map((b) => (b as { title?: unknown } | null)?.title).filter((t) => typeof t === 'string')
    : [];
  if (titles.length === 0) return 'one of the allowed forms';
  return titles.length === 1 ? String(titles[0]) : `${titles.slice(0, -1).join(', ')} or ${String(titles.at(-1))}`;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'an empty value',
};

function typeNames(type: unknown): string {
  const types = Array.isArray(type) ? type : [type];
  // "true or false" is clearer alone; inside a list of alternatives it would read as two of them.
  if (types.length === 1 && types[0] === 'boolean') return 'true or false';
  const names = types.map((t) => (t === 'boolean' ? 'a boolean' : (TYPE_NAMES[String(t)] ?? String(t))));
  return names.length === 1 ? String(names[0]) : `${names.slice(0, -1).join(', ')} or ${String(names.at(-1))}`;
}

/** What a value is, for "expected …, got …". */
function describe(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${show(value)}`;
  if (typeof value === 'number' && !Number.isInteger(value)) return `the number ${value}`;
  return show(value);
}

/** A value as the user would write it, shortened. */
function show(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 37)}...` : value}'`;
  if (value === null || value === undefined) return 'an empty value';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a mapping';
  return String(value);
}

/** The candidate within edit distance 2 of `word` (ignoring case), if there is exactly one best. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // Short words are a couple of edits away from many others: a suggestion must keep most of the word.
  const allowed = Math.min(word.length <= 3 ? 1 : 2, word.length - 1);
  return bestDistance <= allowed ? best : undefined;
}

/** Levenshtein distance, with transpositions counted as one edit (typos swap letters). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const cell = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(cell(i - 1, j) + 1, cell(i, j - 1) + 1, cell(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, cell(i - 2, j - 2) + 1);
      row[j] = d;
    }
  }
  return cell(a.length, b.length);
}
