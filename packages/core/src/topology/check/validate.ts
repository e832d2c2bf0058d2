/**
 * JSON Schema validation of a loaded topology, with every error turned into a located
 * {@link TopologyIssue} whose message a person understands.
 *
 * The schema is written once, in `schemas/topology.schema.json` at the repository root (its
 * queue-argument properties generated from the queue-argument table, `model/argument-table.ts`, by
 * `pnpm schema:generate`). The package ships a copy, `schema/topology.schema.json` (exported as
 * `@wakame/core/schema.json`), that the build makes and git ignores. Which file this module reads
 * depends on how it runs (see `SCHEMA_URL`).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { TopologyIssue } from '../../errors.js';
import type { LoadedTopology } from '../load/load.js';
import { explain } from './validate-messages.js';

/**
 * Compiled (`dist/topology/check/validate.js`, in an installed package or after `pnpm build`), this
 * module reads the packaged copy, three levels up in the package. Run from its TypeScript source (tests,
 * tsx, the `@wakame/source` condition, a clean clone before any build), it reads the source of truth at
 * the repository root instead: the packaged copy does not exist there yet, and where an earlier build
 * left one it may be stale. Deciding by the module's own extension keeps each mode on one file, with no
 * fallback that could pick the wrong one. Read at run time rather than imported: a JSON import outside
 * `rootDir` would drag the file into the build output.
 */
const SCHEMA_URL = new URL(
  new URL(import.meta.url).pathname.endsWith('.ts')
    ? '../../../../../schemas/topology.schema.json'
    : '../../../schema/topology.schema.json',
  import.meta.url,
);

let schema: Readonly<Record<string, unknown>> | undefined;
let validator: ValidateFunction | undefined;

/** The topology JSON Schema (draft 2020-12), parsed once per process. */
export function topologySchema(): Readonly<Record<string, unknown>> {
  schema ??= JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as Record<string, unknown>;
  return schema;
}

/** The compiled schema; compiling takes milliseconds, so it happens once per process, on first use. */
function compiled(): ValidateFunction {
  validator ??= new Ajv2020({
    allErrors: true,
    strict: true,
    // `headers` values are `string | number | boolean`: a type list reads better in editors than anyOf.
    allowUnionTypes: true,
    // Adds the value and the schema to each error, which the messages quote ("got 300", "allowed here: …").
    verbose: true,
  }).compile(topologySchema());
  return validator;
}

/**
 * Validates `topology.document` against the JSON Schema (ajv, draft 2020-12, all errors). Returns one
 * issue per problem, located in its source file when known, in file and line order; an empty array
 * means the document has the right shape (references between entities are checked elsewhere).
 */
export function validateSchema(topology: LoadedTopology): TopologyIssue[] {
  const validate = compiled();
  if (validate(topology.document)) return [];
  const seen = new Set<string>();
  const issues: TopologyIssue[] = [];
  for (const error of withoutBranchNoise(validate.errors ?? [])) {
    const { path, message, atKey } = explain(error);
    const id = `${path}\u0000${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push({
      path,
      message,
      keyword: error.keyword,
      severity: 'error',
      ...topology.locate(path, atKey ? { key: true } : {}),
    });
  }
  return sortByLocation(issues, topology.files);
}

/**
 * A value that matches no branch of a `oneOf`/`anyOf` makes ajv report every branch's failure, then the
 * composite one ("must be string", "must be <= 255", "must match exactly one schema in oneOf"). Only
 * the composite is kept: its message names all the accepted forms.
 */
function withoutBranchNoise(errors: readonly ErrorObject[]): ErrorObject[] {
  const composites = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  if (composites.length === 0) return [...errors];
  return errors.filter(
    (e) =>
      !composites.some(
        (c) =>
          c !== e &&
          e.schemaPath.startsWith(`${c.schemaPath}/`) &&
          (e.instancePath === c.instancePath || e.instancePath.startsWith(`${c.instancePath}/`)),
      ),
  );
}

/** Orders located issues by file (as loaded) then position; unlocated ones keep their order, last. */
function sortByLocation(issues: TopologyIssue[], files: readonly string[]): TopologyIssue[] {
  const rank = (i: TopologyIssue): number => (i.file === undefined ? files.length : Math.max(files.indexOf(i.file), 0));
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort(
      (a, b) =>
        rank(a.issue) - rank(b.issue) ||
        (a.issue.line ?? Number.MAX_SAFE_INTEGER) - (b.issue.line ?? Number.MAX_SAFE_INTEGER) ||
        (a.issue.column ?? 0) - (b.issue.column ?? 0) ||
        a.index - b.index,
    )
    .map((e) => e.issue);
}
