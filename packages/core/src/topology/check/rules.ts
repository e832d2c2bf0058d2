/**
 * Semantic checks that a JSON Schema cannot express: references between entities, ranges that
 * depend on other fields, dead-letter cycles, features the target transport lacks, and common
 * design mistakes (warnings). Each issue's `keyword` is the rule id and its `path` a JSON pointer
 * to the offending value in the document; a value inherited from `defaults` is reported once, at
 * its place under `/defaults`.
 *
 * Errors: `duplicate-name`, `dangling-reference`, `default-exchange-binding`, `routing-key-length`,
 * `priority-range`, `ttl-range`, `dead-letter-cycle`, `unsupported-feature`, `broadcast-type`.
 * Warnings: `invalid-topic-key`, `unbound-queue`, `shared-fanout-queue`, `quorum-priority`,
 * `unused-exchange`, `route-shadowed`, and the milder cases of `priority-range` and `ttl-range`.
 * This module builds the context the rules share (`./rule-context.ts`) and runs them in order; they
 * live by kind in `./reference-rules.ts`, `./range-rules.ts`, `./feature-rules.ts` and
 * `./design-warnings.ts`. The rules on vhosts, users, permissions and policies are in `./broker-rules.ts`,
 * the routing tests of the `expect:` section (`routing-test`) in `./routing-tests.ts`, those of schedules
 * and task limits in `./schedule-rules.ts`.
 *
 * @module
 */
import type { TopologyIssue } from '../../errors.js';
import { BUILTIN_EXCHANGES } from '../../model/builtin-exchanges.js';
import type { Capabilities, ExchangeType } from '../../transport/spi.js';
import { compileBinding, compileQueueBinding, compileTopology } from '../compile/compile.js';
import type { DesiredTopology } from '../desired.js';
import type { TopologyDocument } from '../document.js';
import { checkBrokerEntities } from './broker-rules.js';
import { designWarnings } from './design-warnings.js';
import { unsupportedFeatures } from './feature-rules.js';
import { priorities, routingKeys, ttls } from './range-rules.js';
import { broadcastTypes, deadLetterCycles, duplicateNames, references } from './reference-rules.js';
import { checkRoutingTests } from './routing-tests.js';
import { type BindingSite, pointer, type RuleContext } from './rule-context.js';
import { checkSchedules } from './schedule-rules.js';

export { pointer } from './rule-context.js';

/** What {@link checkRules} checks against besides the document. */
export interface RuleOptions {
  /** The target transport's capabilities; without them `unsupported-feature` is not checked. */
  readonly capabilities?: Capabilities;
  /** The target transport's name, for messages. @defaultValue 'target' */
  readonly transport?: string;
}

/**
 * Runs every rule on the document (for JSON-pointer paths into it) and on its compiled form.
 * Returns errors and warnings; an empty array means the document is sound. Issues are unique by
 * rule and path, in rule order. `compiled` is the document's compiled form when the caller has it
 * already (the pipeline compiles once); without it the document is compiled here.
 */
export function checkRules(
  doc: TopologyDocument,
  options: RuleOptions = {},
  compiled: DesiredTopology = compileTopology(doc),
): TopologyIssue[] {
  const exchangeTypes = new Map<string, ExchangeType>(BUILTIN_EXCHANGES);
  for (const e of compiled.exchanges) exchangeTypes.set(e.name, e.type);
  const bindings: BindingSite[] = [];
  (doc.queues ?? []).forEach((q, i) => {
    (q.bindings ?? []).forEach((b, j) => {
      const path = pointer('queues', i, 'bindings', j);
      bindings.push({ path, doc: b, spec: compileQueueBinding(q.name, b), topLevel: false });
    });
  });
  (doc.bindings ?? []).forEach((b, i) => {
    bindings.push({ path: pointer('bindings', i), doc: b, spec: compileBinding(b), topLevel: true });
  });
  const issues: TopologyIssue[] = [];
  const seen = new Set<string>();
  const add = (severity: 'error' | 'warning', keyword: string, path: string, message: string): void => {
    // A value inherited from `defaults` is reported once, at its place there.
    if (seen.has(`${keyword}\u0000${path}`)) return;
    seen.add(`${keyword}\u0000${path}`);
    issues.push({ path, message, keyword, severity });
  };
  const ctx: RuleContext = {
    doc,
    compiled,
    exchangeTypes,
    queueNames: new Set(compiled.queues.map((q) => q.name)),
    bindings,
    tasks: new Map(compiled.tasks.map((t) => [t.name, t])),
    transport: options.transport ?? 'target',
    capabilities: options.capabilities,
    error: (keyword, path, message) => add('error', keyword, path, message),
    warn: (keyword, path, message) => add('warning', keyword, path, message),
  };
  for (const rule of RULES) rule(ctx);
  return issues;
}

const RULES: readonly ((ctx: RuleContext) => void)[] = [
  duplicateNames,
  references,
  routingKeys,
  priorities,
  ttls,
  deadLetterCycles,
  unsupportedFeatures,
  broadcastTypes,
  designWarnings,
  checkBrokerEntities,
  checkRoutingTests,
  checkSchedules,
];
