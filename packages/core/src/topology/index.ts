/**
 * Topology as code: load → validate → rules → compile → observe → diff → apply, plus export and graph.
 *
 * @module
 */
export {
  ApplyFailedError,
  type ApplyOptions,
  type ApplyResult,
  applyPlan,
  assertApplicable,
  type PhaseTiming,
  PlanRefusedError,
  type Refusal,
  refusalsOf,
} from './apply.js';
export {
  assertNever,
  type Change,
  type ChangeKind,
  describeBinding,
  describeChange,
  describeEntity,
  type EntityRef,
  queueLoad,
} from './change.js';
export { compileTopology } from './compile.js';
export type { CompiledTask, DesiredTopology } from './desired.js';
export { diff, type ForeignEntity, type Plan } from './diff.js';
export type {
  BindingDocument,
  BroadcastDocument,
  DefaultsDocument,
  ExchangeDocument,
  QueueBindingDocument,
  QueueDocument,
  RetryDocument,
  RouteDocument,
  TaskDocument,
  TopologyDocument,
} from './document.js';
export { defineTopology } from './document.js';
export { DEFAULT_SCHEMA_REF, exportTopology, type ToYamlOptions, toYaml } from './export.js';
export { toDot, toMermaid } from './graph.js';
export {
  type LoadedTopology,
  type LoadOptions,
  type LoadResult,
  loadTopology,
  parseTopologyText,
  topologyFromDocument,
} from './load.js';
export type { LocateOptions, SourceLocation } from './locate.js';
export { type LiveState, type ObserveOptions, observe, type ProbeResult } from './observe.js';
export {
  checkStackName,
  DEFAULT_STACK,
  isRuntimeEntity,
  type OwnedEntities,
  type Ownership,
  ownershipOf,
  type StackState,
} from './ownership.js';
export {
  type CheckedTopology,
  type CheckOptions,
  checkTopology,
  compileDocument,
  loadTopologyOrThrow,
} from './pipeline.js';
export { checkRules, type RuleOptions } from './rules.js';
export {
  fingerprintOf,
  isSavedPlan,
  parseSavedPlan,
  SAVED_PLAN_VERSION,
  type SavedPlan,
  StalePlanError,
  savePlan,
  verifySavedPlan,
} from './saved-plan.js';
export { lockHolder, lockStack, ownedAfter, planStack, readStackState, recordStack, type StackPlan } from './stack.js';
export { formatIssue, formatIssues, topologySchema, validateSchema } from './validate.js';
export type { FormatOptions } from './validate-format.js';
