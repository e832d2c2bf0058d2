/**
 * What `plan` found and `apply` does: an exhaustive union of changes, plain data (so `plan --json`
 * prints it as it is). Renderers switch on `kind` with {@link assertNever}, so a new kind cannot be
 * silently dropped by a renderer that does not know it.
 *
 * @module
 */

import { type BrokerEntity, describeBrokerEntity } from '../../model/broker-entities.js';
import type { Difference } from '../../model/equivalence.js';
import type { BindingSpec, ExchangeSpec, QueueSpec } from '../../transport/spi.js';

/** Names an entity in messages. */
export type EntityRef =
  | { readonly kind: 'exchange'; readonly name: string }
  | { readonly kind: 'queue'; readonly name: string }
  | { readonly kind: 'binding'; readonly binding: BindingSpec }
  /** A vhost, user, permission or policy. */
  | { readonly kind: 'broker'; readonly entity: BrokerEntity };

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
  | { readonly kind: 'extraneous-binding'; readonly binding: BindingSpec }
  /** A declared vhost, user, permission, topic permission or (operator) policy that does not exist. */
  | { readonly kind: 'create-entity'; readonly entity: BrokerEntity }
  /** Changed in place: a policy's definition, a user's tags or password… no queue or message is touched. */
  | { readonly kind: 'update-entity'; readonly entity: BrokerEntity; readonly differences: readonly Difference[] }
  /** A broker entity owned by the stack, no longer declared; deleted only with `prune`. */
  | { readonly kind: 'extraneous-entity'; readonly entity: BrokerEntity }
  /**
   * A queue whose immutable settings change, moved to them without losing a message (`apply
   * --migrate`): its messages are held aside while it is declared again, then put back.
   */
  | {
      readonly kind: 'migrate-queue';
      readonly queue: QueueSpec;
      /** The queue as it exists (or existed when the migration began). */
      readonly from: QueueSpec;
      readonly differences: readonly Difference[];
      /** The bindings the migrated queue gets (the topology's). */
      readonly bindings: readonly BindingSpec[];
      readonly messageCount: number | undefined;
      readonly consumerCount?: number | undefined;
      /** Set when an interrupted migration is resumed: the step it had reached. */
      readonly resumeFrom?: string;
    };

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
    case 'create-entity':
      return `+ ${describeBrokerEntity(c.entity)}${brokerTraits(c.entity)}`;
    case 'update-entity':
      return `~ ${describeBrokerEntity(c.entity)} updated in place: ${differenceText(c.differences)}`;
    case 'extraneous-entity':
      return `- ${describeBrokerEntity(c.entity)} (owned, no longer declared; deleted with --prune)`;
    case 'migrate-queue':
      return c.resumeFrom !== undefined
        ? `» queue ${c.queue.name} migration resumes from step '${c.resumeFrom}' (an earlier apply was interrupted; no message is lost)`
        : `» queue ${c.queue.name}${queueLoad(c.messageCount, c.consumerCount)} will be MIGRATED, every message kept: ${differenceText(c.differences)}`;
    default:
      return assertNever(c);
  }
}

export function describeEntity(e: EntityRef): string {
  if (e.kind === 'broker') return describeBrokerEntity(e.entity);
  return e.kind === 'binding' ? `bind ${describeBinding(e.binding)}` : `${e.kind} ${e.name}`;
}

/** What a broker entity sets, in a few words (a password only ever as `(sensitive)`). */
function brokerTraits(e: BrokerEntity): string {
  switch (e.kind) {
    case 'vhost':
      return e.spec.description ? ` (${e.spec.description})` : '';
    case 'user': {
      const parts = [e.spec.tags.length > 0 ? `tags ${e.spec.tags.join(',')}` : 'no tags'];
      if (e.spec.credential)
        parts.push(`${e.spec.credential.kind === 'hash' ? 'password hash' : 'password'} (sensitive)`);
      return ` (${parts.join('; ')})`;
    }
    case 'permission':
      return ` (configure '${e.spec.configure}', write '${e.spec.write}', read '${e.spec.read}')`;
    case 'topic-permission':
      return ` (write '${e.spec.write}', read '${e.spec.read}')`;
    case 'policy':
    case 'operator-policy':
      return ` (${e.spec.applyTo} matching '${e.spec.pattern}', priority ${e.spec.priority}: ${Object.entries(
        e.spec.definition,
      )
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(', ')})`;
  }
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
