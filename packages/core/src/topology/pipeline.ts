/**
 * The topology pipeline in one call: load (YAML/JSON/TS, includes, `${ENV}`) → JSON Schema →
 * compile → semantic rules (which read the compiled form, so a document is compiled once). Every
 * problem comes back as a located {@link TopologyIssue}; nothing is thrown for a user's mistake
 * except by {@link loadTopologyOrThrow}.
 *
 * @module
 */
import { type TopologyIssue, TopologyValidationError } from '../errors.js';
import type { Capabilities } from '../transport/spi.js';
import { checkRules, type RuleOptions } from './check/rules.js';
import { validateSchema } from './check/validate.js';
import { compileTopology } from './compile/compile.js';
import type { DesiredTopology } from './desired.js';
import type { TopologyDocument } from './document.js';
import { type LoadedTopology, type LoadOptions, loadTopology, topologyFromDocument } from './load/load.js';

/** Options of {@link checkTopology}. */
export interface CheckOptions extends LoadOptions {
  /** Check the topology against what this transport can do. */
  readonly capabilities?: Capabilities;
  /** Transport name used in messages. */
  readonly transport?: string;
}

/** The outcome: `desired` is set when there are no errors (warnings may remain). */
export interface CheckedTopology {
  readonly document?: TopologyDocument;
  readonly desired?: DesiredTopology;
  readonly issues: readonly TopologyIssue[];
  readonly errors: readonly TopologyIssue[];
  readonly warnings: readonly TopologyIssue[];
  readonly files: readonly string[];
}

/** Loads, validates, checks and compiles the topology file at `path`. */
export async function checkTopology(path: string, options: CheckOptions = {}): Promise<CheckedTopology> {
  const loaded = await loadTopology(path, options);
  if (!loaded.topology || hasErrors(loaded.issues)) return outcome(loaded.issues, loaded.topology);
  const topology = loaded.topology;
  const schemaIssues = validateSchema(topology);
  if (hasErrors(schemaIssues)) return outcome([...loaded.issues, ...schemaIssues], topology);
  const desired = compileTopology(topology.document);
  const ruleIssues = checkRules(topology.document, ruleOptions(options), desired).map((issue) =>
    locate(issue, topology),
  );
  const issues = [...loaded.issues, ...schemaIssues, ...ruleIssues];
  if (hasErrors(issues)) return outcome(issues, topology);
  return { ...outcome(issues, topology), desired };
}

/**
 * Checks and compiles a topology written in code (`defineTopology(...)`): the same schema and
 * rules as a file, without positions.
 * @throws {@link TopologyValidationError} listing every error.
 */
export function compileDocument(
  document: TopologyDocument,
  options: Omit<CheckOptions, keyof LoadOptions> = {},
): DesiredTopology {
  const topology = topologyFromDocument(document);
  const desired = compileTopology(document);
  const issues = [...validateSchema(topology), ...checkRules(document, ruleOptions(options), desired)];
  const errors = issues.filter((i) => (i.severity ?? 'error') === 'error');
  if (errors.length > 0) throw new TopologyValidationError(errors);
  return desired;
}

/** Like {@link checkTopology}, but throws {@link TopologyValidationError} listing every error. */
export async function loadTopologyOrThrow(path: string, options: CheckOptions = {}): Promise<DesiredTopology> {
  const checked = await checkTopology(path, options);
  if (!checked.desired) throw new TopologyValidationError(checked.errors);
  return checked.desired;
}

function ruleOptions(options: Omit<CheckOptions, keyof LoadOptions>): RuleOptions {
  return {
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
    ...(options.transport ? { transport: options.transport } : {}),
  };
}

function hasErrors(issues: readonly TopologyIssue[]): boolean {
  return issues.some((i) => (i.severity ?? 'error') === 'error');
}

function outcome(issues: readonly TopologyIssue[], topology: LoadedTopology | undefined): CheckedTopology {
  return {
    ...(topology ? { document: topology.document } : {}),
    issues,
    errors: issues.filter((i) => (i.severity ?? 'error') === 'error'),
    warnings: issues.filter((i) => i.severity === 'warning'),
    files: topology?.files ?? [],
  };
}

function locate(issue: TopologyIssue, topology: LoadedTopology): TopologyIssue {
  if (issue.file !== undefined) return issue;
  const at = topology.locate(issue.path);
  return at ? { ...issue, file: at.file, line: at.line, column: at.column, sourceLine: at.sourceLine } : issue;
}
