/**
 * What `plan` found and `apply` does: an exhaustive union of changes, plain data (so `plan --json`
 * prints it as it is). Renderers switch on `kind` with {@link assertNever}, so a new kind cannot be
 * silently dropped by a renderer that does not know it.
 *
 * @module
 */

import type { Difference } from '../../model/equivalence.js';
import type { BindingSpec, ExchangeSpec, QueueSpec } from '../../transport/spi.js';

/** Names an entity in messages. */
export type EntityRef =
  | { readonly kind: 'exchange'; readonly name: string }
  | { readonly kind: 'queue'; readonly name: string }
  | { readonly kind: 'binding'; readonly binding: BindingSpec };

export type Change =
  | { readonly kind: 'create-exchange'; readonly exchange: ExchangeSpec }
  | { readonly kind: 'create-queue'; readonly queue: QueueSpec }
  | { readonly kind: 'bind'; readonly binding: BindingSpec }
  | { readonly kind: 'unchanged'; readonly entity: EntityRef }
  /** An immutable property differs: the exchange must be deleted and declared again (its bindings go too). */
  | {
      readonly kind: 'replace-exchange';
      readonly exchange: ExchangeSpec;
      readonly differences: readonly Difference[];
      readonly destructive: true;
    }
  /** A queue argument differs: the queue must be deleted (with its messages) and declared again. */
  | {
      readonly kind: 'replace-queue';
      readonly queue: QueueSpec;
      readonly differences: readonly Difference[];
      /** Messages that would be lost; unknown when the transport cannot count them. */
      readonly messageCount: number | undefined;
      /** Consumers that would be cut off; unknown when the transport cannot count them. */
      readonly consumerCount?: number | undefined;
      readonly destructive: true;
    }
  /** Could not be checked on this transport (no management API); `apply` declares it, idempotently. */
  | { readonly kind: 'unverifiable'; readonly entity: EntityRef; readonly reason: string }
  /** Owned by the stack, exists, no longer declared (drift); deleted only with `prune`. */
  | { readonly kind: 'extraneous-exchange'; readonly exchange: ExchangeSpec }
  | {
      readonly kind: 'extraneous-queue';
      readonly queue: QueueSpec;
      readonly messageCount: number | undefined;
      readonly consumerCount: number | undefined;
    }
  | { readonly kind: 'extraneous-binding'; readonly binding: BindingSpec };

export type ChangeKind = Change['kind'];

/** Exhaustiveness guard for `switch (change.kind)`. */
export function assertNever(value: never): never {
  throw new TypeError(`unhandled case: ${JSON.stringify(value)}`);
}

/** Human name of a binding: `tasks → hipri [hipri]`. */
export function describeBinding(b: BindingSpec): string {
  const { 'x-match': match, ...headers } = b.arguments as Record<string, unknown>;
  const key =
    match !== undefined
      ? `headers ${String(match)} ${JSON.stringify(headers)}`
      : b.routingKey === ''
        ? '(no key)'
        : `[${b.routingKey}]`;
  return `${b.source} → ${b.destinationType === 'exchange' ? 'exchange ' : ''}${b.destination} ${key}`;
}

/** One line describing a change, for plans printed to people. */
export function describeChange(c: Change): string {
  switch (c.kind) {
    case 'create-exchange':
      return `+ exchange ${c.exchange.name} (${c.exchange.type}${c.exchange.durable ? ', durable' : ''})`;
    case 'create-queue':
      return `+ queue ${c.queue.name}${queueTraits(c.queue)}`;
    case 'bind':
      return `+ bind ${describeBinding(c.binding)}`;
    case 'unchanged':
      return `  ${describeEntity(c.entity)} (unchanged)`;
    case 'replace-exchange':
      return `~ exchange ${c.exchange.name} must be REPLACED (destructive): ${differenceText(c.differences)}`;
    case 'replace-queue':
      return `~ queue ${c.queue.name}${queueLoad(c.messageCount, c.consumerCount)} must be REPLACED (destructive): ${differenceText(c.differences)}`;
    case 'unverifiable':
      return `? ${describeEntity(c.entity)}: ${c.reason}`;
    case 'extraneous-exchange':
      return `- exchange ${c.exchange.name} (owned, no longer declared; deleted with --prune)`;
    case 'extraneous-queue':
      return `- queue ${c.queue.name}${queueLoad(c.messageCount, c.consumerCount)} (owned, no longer declared; deleted with --prune)`;
    case 'extraneous-binding':
      return `- bind ${describeBinding(c.binding)} (owned, no longer declared; removed with --prune)`;
    default:
      return assertNever(c);
  }
}

export function describeEntity(e: EntityRef): string {
  return e.kind === 'binding' ? `bind ${describeBinding(e.binding)}` : `${e.kind} ${e.name}`;
}

/**
 * What deleting a queue would give up, for refusals and warnings: `3 message(s) and 1 consumer(s)`,
 * `an unknown number of messages` when the transport cannot count, `''` when nothing.
 */
export function atRisk(messages: number | undefined, consumers: number | undefined): string {
  const parts: string[] = [];
  if (messages === undefined) parts.push('an unknown number of messages');
  else if (messages > 0) parts.push(`${messages} message(s)`);
  if (consumers) parts.push(`${consumers} consumer(s)`);
  return parts.join(' and ');
}

/** ` holding 3 message(s), 1 consumer(s)`, or nothing for an idle empty queue. */
export function queueLoad(messages: number | undefined, consumers: number | undefined): string {
  const parts: string[] = [];
  if (messages) parts.push(`${messages} message(s)`);
  if (consumers) parts.push(`${consumers} consumer(s)`);
  return parts.length > 0 ? ` holding ${parts.join(', ')}` : '';
}

function differenceText(differences: readonly Difference[]): string {
  return differences.map((d) => `${d.property}: declared ${show(d.expected)}, exists as ${show(d.actual)}`).join('; ');
}

function queueTraits(q: QueueSpec): string {
  const traits: string[] = [];
  if (q.queueType && q.queueType !== 'classic') traits.push(q.queueType);
  if (q.maxPriority !== undefined) traits.push(`max priority ${q.maxPriority}`);
  if (q.messageTtl !== undefined) traits.push(`ttl ${q.messageTtl} ms`);
  if (q.deadLetter) traits.push(`dead-letters to ${q.deadLetter.exchange || '(default)'}`);
  if (!q.durable) traits.push('transient');
  return traits.length > 0 ? ` (${traits.join(', ')})` : '';
}

function show(v: unknown): string {
  return v === undefined ? '(unset)' : JSON.stringify(v);
}
