// Errors about exchanges, queues and bindings: invalid documents, conflicting re-declarations, locked stacks.

import { WakameError } from './wakame-error.js';

/** Base of errors about exchanges, queues and bindings. */
export class TopologyError extends WakameError {
  override readonly name: string = 'TopologyError';
  readonly code: string = 'ERR_TOPOLOGY';
}

/** One problem found while validating a topology document. */
export interface TopologyIssue {
  /** JSON pointer into the document, e.g. `/queues/0/maxPriority`. */
  readonly path: string;
  readonly message: string;
  /** The schema keyword (`required`, `type`, …) or the semantic rule id (`dangling-reference`, …). */
  readonly keyword?: string;
  /** Errors fail validation; warnings are reported and do not. @defaultValue 'error' */
  readonly severity?: 'error' | 'warning';
  /** Where it is in the source, when the document came from a file. */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** The offending source line, for display with a caret under `column`. */
  readonly sourceLine?: string;
}

/** A topology document failed validation; every issue found is listed, not only the first. */
export class TopologyValidationError extends TopologyError {
  override readonly name = 'TopologyValidationError';
  override readonly code = 'ERR_TOPOLOGY_VALIDATION';
  constructor(
    readonly issues: readonly TopologyIssue[],
    options?: ErrorOptions,
  ) {
    super(
      issues
        .map((i) => `${i.file ? `${i.file}:${i.line ?? 0}:${i.column ?? 0}: ` : ''}${i.path || '/'}: ${i.message}`)
        .join('\n'),
      options,
    );
  }
}

/** What kind of entity an error is about. */
export type EntityKind = 'exchange' | 'queue' | 'binding';

/** A re-declaration differs from what exists (AMQP 406 PRECONDITION_FAILED; kombu NotEquivalentError). */
export class TopologyConflictError extends TopologyError {
  override readonly name = 'TopologyConflictError';
  override readonly code = 'ERR_TOPOLOGY_CONFLICT';
  constructor(
    readonly entity: { readonly kind: EntityKind; readonly name: string },
    /** Property names whose values differ, when known. */
    readonly differences: readonly { property: string; expected: unknown; actual: unknown }[],
    options?: ErrorOptions & { message?: string },
  ) {
    const what = differences
      .map((d) => `${d.property}: declared ${fmt(d.expected)}, exists as ${fmt(d.actual)}`)
      .join('; ');
    super(
      options?.message ??
        `${entity.kind} '${entity.name}' already exists with different properties${what ? ` (${what})` : ''}`,
      options,
    );
  }
}

/** The operation needs a feature the transport does not have (e.g. headers exchanges). */
export class UnsupportedFeatureError extends TopologyError {
  override readonly name = 'UnsupportedFeatureError';
  override readonly code = 'ERR_UNSUPPORTED_FEATURE';
  constructor(
    readonly feature: string,
    readonly transport: string,
  ) {
    super(`the ${transport} transport does not support ${feature}`);
  }
}

/** Who holds a stack's apply lock, as recorded by the holder (shown to whoever waits for it). */
export interface LockHolder {
  /** Unique per acquisition. */
  readonly id: string;
  /** Human description, e.g. `wakame apply by ci@build-7 (pid 4242)`. */
  readonly description: string;
  /** ISO 8601 time the lock was taken. */
  readonly since: string;
}

/**
 * Another `apply` holds the stack's lock (it waited `waitedMs` for it). A crashed holder's lock
 * expires by itself (its lease lapses, or its broker connection closes).
 */
export class StackLockedError extends WakameError {
  override readonly name = 'StackLockedError';
  readonly code = 'ERR_LOCKED';
  override readonly retriable = true;
  constructor(
    readonly stackName: string,
    readonly holder: LockHolder | undefined,
    readonly waitedMs: number,
  ) {
    super(
      `stack '${stackName}' is locked by ${holder ? `${holder.description}, since ${holder.since}` : 'another apply'}` +
        (waitedMs > 0 ? ` (waited ${Math.round(waitedMs / 1000)} s)` : ''),
    );
  }
}

function fmt(v: unknown): string {
  return v === undefined ? '(unset)' : JSON.stringify(v);
}
