/**
 * Topology as code, in the order it runs: load (`load/`) → check (`check/`: schema, then rules) →
 * compile (`compile/`) → plan (`plan/`: observe, diff, ownership) → apply (`apply/`); `render/`
 * turns a topology into YAML or diagrams. `pipeline.ts` runs load → check → compile in one call.
 *
 * @module
 */
export {
  type ApplyOptions,
  type ApplyResult,
  applyPhases,
  applyPlan,
  assertApplicable,
  type PhaseTiming,
  refusalsOf,
} from './apply/apply.js';
export { stackMigrationJournal } from './apply/migration-journal.js';
export type { FormatOptions } from './check/format-issues.js';
export { formatIssue, formatIssues } from './check/format-issues.js';
export { checkRules, type RuleOptions } from './check/rules.js';
export { topologySchema, validateSchema } from './check/validate.js';
export { compileTopology } from './compile/compile.js';
export type { CompiledSchedule, CompiledTask, DesiredTopology } from './desired.js';
export type {
  BindingDocument,
  BroadcastDocument,
  DefaultsDocument,
  DurationDocument,
  ExchangeDocument,
  HashingAlgorithm,
  PermissionDocument,
  PolicyDocument,
  QueueBindingDocument,
  QueueDocument,
  RateLimitDocument,
  RetryDocument,
  RouteDocument,
  RoutingTestDocument,
  ScheduleDocument,
  TaskDocument,
  TopicPermissionDocument,
  TopologyDocument,
  UserDocument,
  UserHashDocument,
  UserPasswordDocument,
  VhostDocument,
} from './document.js';
export { defineTopology } from './document.js';
export { ApplyFailedError, PlanRefusedError, type Refusal, StalePlanError } from './errors.js';
export {
  type LoadedTopology,
  type LoadOptions,
  type LoadResult,
  loadTopology,
  parseTopologyText,
  topologyFromDocument,
} from './load/load.js';
export type { LocateOptions, SourceLocation } from './load/locate.js';
export {
  type CheckedTopology,
  type CheckOptions,
  checkTopology,
  compileDocument,
  loadTopologyOrThrow,
} from './pipeline.js';
export {
  assertNever,
  atRisk,
  type Change,
  type ChangeKind,
  describeBinding,
  describeChange,
  describeEntity,
  type EntityRef,
  queueLoad,
} from './plan/change.js';
export { type DiffOptions, diff } from './plan/diff.js';
export { type BrokerDiff, diffBroker, type LiveBroker, withoutSecrets } from './plan/diff-broker.js';
export { type LiveState, type ObserveOptions, observe, observeBroker, type ProbeResult } from './plan/observe.js';
export {
  checkStackName,
  DEFAULT_STACK,
  isRuntimeEntity,
  type OwnedEntities,
  type Ownership,
  ownershipOf,
  type StackState,
} from './plan/ownership.js';
export {
  type ForeignEntity,
  type FormatPlanOptions,
  formatPlan,
  type Plan,
  planSummary,
} from './plan/plan.js';
export {
  fingerprintOf,
  isSavedPlan,
  parseSavedPlan,
  SAVED_PLAN_VERSION,
  type SavedPlan,
  savePlan,
  verifySavedPlan,
} from './plan/saved-plan.js';
export {
  lockHolder,
  lockStack,
  ownedAfter,
  type PlanStackOptions,
  planStack,
  readStackState,
  recordStack,
  type StackPlan,
} from './plan/stack.js';
export {
  DEFAULT_SCHEMA_REF,
  type ExportTopologyOptions,
  exportTopology,
  type ToYamlOptions,
  toYaml,
} from './render/export.js';
export {
  type GraphEdge,
  type GraphNode,
  type GraphNodeKind,
  toDot,
  toMermaid,
  topologyGraph,
} from './render/graph.js';
