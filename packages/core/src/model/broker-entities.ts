/**
 * The broker's own entities as plain data: virtual hosts, users, permissions, topic permissions,
 * policies and operator policies. A topology declares them beside exchanges and queues; the planner
 * compares them ({@link brokerEntityDifferences}) and a transport's broker
 * admin lists, writes and deletes them. A user's password travels as a {@link Sensitive}, which
 * prints, logs and serialises as `(sensitive)` and never as itself.
 *
 * @module
 */
import { inspect } from 'node:util';
import { stableStringify } from '../internal/stable-stringify.js';
import type { Difference } from './equivalence.js';
import type { QueueType } from './specs.js';

/** A secret (a password) that never shows: `String()`, JSON, `util.inspect` and logs all give `(sensitive)`. */
export class Sensitive {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret itself: only for the one call that sends it to the broker. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '(sensitive)';
  }
  toJSON(): string {
    return '(sensitive)';
  }
  [inspect.custom](): string {
    return '(sensitive)';
  }
}

/** What a policy applies to (RabbitMQ's `apply-to`). */
export type PolicyTarget = 'queues' | 'exchanges' | 'all' | 'classic_queues' | 'quorum_queues' | 'streams';

/** A virtual host. */
export interface VhostSpec {
  readonly name: string;
  readonly description?: string;
  readonly tags: readonly string[];
  /** The queue type of queues declared without one (RabbitMQ 3.8+ vhost metadata). */
  readonly defaultQueueType?: QueueType;
}

/** How a user logs in: a password (compared with the broker's stored hash), or a ready hash. */
export type UserCredential =
  | { readonly kind: 'password'; readonly password: Sensitive }
  /** RabbitMQ's stored form: base64 of salt and digest, with its hashing algorithm. */
  | { readonly kind: 'hash'; readonly hash: string; readonly algorithm: string };

/** A broker user. Listed users carry their stored hash; declared ones a password or a hash. */
export interface UserSpec {
  readonly name: string;
  readonly tags: readonly string[];
  /** Absent: the user is created without a password (it can only log in by other means). */
  readonly credential?: UserCredential;
}

/** What a user may configure, write and read in a vhost (three regular expressions over names). */
export interface PermissionSpec {
  readonly user: string;
  readonly vhost: string;
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

/** What routing keys a user may publish (write) and bind (read) through one topic exchange. */
export interface TopicPermissionSpec {
  readonly user: string;
  readonly vhost: string;
  readonly exchange: string;
  readonly write: string;
  readonly read: string;
}

/** A policy (or, with `operator`, an operator policy): settings for the entities whose names match. */
export interface PolicySpec {
  readonly name: string;
  /** Operator policies cap what users may set; they merge with the user policy (lowest limit wins). */
  readonly operator: boolean;
  /** Where it applies; `undefined` means the connection's vhost. */
  readonly vhost?: string;
  readonly pattern: string;
  readonly applyTo: PolicyTarget;
  /** The highest-priority matching policy is the one that applies. @defaultValue 0 */
  readonly priority: number;
  /** RabbitMQ's policy keys (`message-ttl`, `dead-letter-exchange`, …) and their values. */
  readonly definition: Readonly<Record<string, unknown>>;
}

/** The broker entity kinds, as topology files and plans name them. */
export type BrokerEntityKind = 'vhost' | 'user' | 'permission' | 'topic-permission' | 'policy' | 'operator-policy';

/** One broker entity, tagged with its kind. */
export type BrokerEntity =
  | { readonly kind: 'vhost'; readonly spec: VhostSpec }
  | { readonly kind: 'user'; readonly spec: UserSpec }
  | { readonly kind: 'permission'; readonly spec: PermissionSpec }
  | { readonly kind: 'topic-permission'; readonly spec: TopicPermissionSpec }
  | { readonly kind: 'policy' | 'operator-policy'; readonly spec: PolicySpec };

/** Every broker entity of a topology, or of a broker, by kind. */
export interface BrokerEntities {
  readonly vhosts: readonly VhostSpec[];
  readonly users: readonly UserSpec[];
  readonly permissions: readonly PermissionSpec[];
  readonly topicPermissions: readonly TopicPermissionSpec[];
  /** Policies and operator policies (`operator` tells them apart). */
  readonly policies: readonly PolicySpec[];
}

/** No broker entities. */
export const NO_BROKER_ENTITIES: BrokerEntities = {
  vhosts: [],
  users: [],
  permissions: [],
  topicPermissions: [],
  policies: [],
};

/** Every entity of `entities`, tagged, in dependency order (vhosts and users before what names them). */
export function brokerEntityList(entities: BrokerEntities): BrokerEntity[] {
  return [
    ...entities.vhosts.map((spec) => ({ kind: 'vhost' as const, spec })),
    ...entities.users.map((spec) => ({ kind: 'user' as const, spec })),
    ...entities.permissions.map((spec) => ({ kind: 'permission' as const, spec })),
    ...entities.topicPermissions.map((spec) => ({ kind: 'topic-permission' as const, spec })),
    ...entities.policies.map((spec) => ({
      kind: spec.operator ? ('operator-policy' as const) : ('policy' as const),
      spec,
    })),
  ];
}

/**
 * The identity of a broker entity: two entities with the same key are the same entity (possibly
 * with different settings). `vhost` resolves a policy's absent vhost.
 */
export function brokerEntityKey(entity: BrokerEntity, vhost: string): string {
  switch (entity.kind) {
    case 'vhost':
    case 'user':
      return `${entity.kind}\u0000${entity.spec.name}`;
    case 'permission':
      return `permission\u0000${entity.spec.vhost}\u0000${entity.spec.user}`;
    case 'topic-permission':
      return `topic-permission\u0000${entity.spec.vhost}\u0000${entity.spec.user}\u0000${entity.spec.exchange}`;
    case 'policy':
    case 'operator-policy':
      return `${entity.kind}\u0000${entity.spec.vhost ?? vhost}\u0000${entity.spec.name}`;
  }
}

/** How the entity is named to people: `policy ttl-lopri (vhost orders)`, `user orders-svc`. */
export function describeBrokerEntity(entity: BrokerEntity): string {
  switch (entity.kind) {
    case 'vhost':
      return `vhost ${entity.spec.name}`;
    case 'user':
      return `user ${entity.spec.name}`;
    case 'permission':
      return `permission ${entity.spec.user} on vhost ${entity.spec.vhost}`;
    case 'topic-permission':
      return `topic permission ${entity.spec.user} on ${entity.spec.exchange} (vhost ${entity.spec.vhost})`;
    case 'policy':
    case 'operator-policy':
      return `${entity.kind === 'policy' ? 'policy' : 'operator policy'} ${entity.spec.name}${entity.spec.vhost !== undefined ? ` (vhost ${entity.spec.vhost})` : ''}`;
  }
}

/**
 * Whether a declared password is the one a listed user's stored hash was made from. Given by the
 * transport (only it knows its broker's hashing); without one, a password cannot be verified.
 */
export type PasswordCheck = (password: string, stored: UserCredential) => boolean;

/**
 * What differs between a declared broker entity and the listed one with the same key. A password
 * difference is reported as `(sensitive)` on both sides. Entities of different kinds never compare.
 */
export function brokerEntityDifferences(
  declared: BrokerEntity,
  listed: BrokerEntity,
  options: { readonly vhost: string; readonly passwordMatches?: PasswordCheck },
): Difference[] {
  const out: Difference[] = [];
  const compare = (property: string, expected: unknown, actual: unknown): void => {
    // Shown with sorted keys, so a policy definition reads the same way on both sides.
    if (stableStringify(expected) !== stableStringify(actual))
      out.push({ property, expected: sortedKeys(expected), actual: sortedKeys(actual) });
  };
  if (declared.kind === 'user' && listed.kind === 'user') {
    compare('tags', [...declared.spec.tags].sort(), [...listed.spec.tags].sort());
    if (!credentialMatches(declared.spec.credential, listed.spec.credential, options.passwordMatches)) {
      out.push({ property: 'password', expected: '(sensitive)', actual: '(sensitive)' });
    }
    return out;
  }
  if (declared.kind === 'vhost' && listed.kind === 'vhost') {
    compare('description', declared.spec.description ?? '', listed.spec.description ?? '');
    compare('tags', [...declared.spec.tags].sort(), [...listed.spec.tags].sort());
    if (declared.spec.defaultQueueType !== undefined)
      compare('defaultQueueType', declared.spec.defaultQueueType, listed.spec.defaultQueueType ?? 'classic');
    return out;
  }
  if (
    (declared.kind === 'policy' || declared.kind === 'operator-policy') &&
    (listed.kind === 'policy' || listed.kind === 'operator-policy')
  ) {
    for (const property of ['pattern', 'applyTo', 'priority', 'definition'] as const)
      compare(property, declared.spec[property], listed.spec[property]);
    return out;
  }
  if (declared.kind === 'permission' && listed.kind === 'permission') {
    for (const property of ['configure', 'write', 'read'] as const)
      compare(property, declared.spec[property], listed.spec[property]);
    return out;
  }
  if (declared.kind === 'topic-permission' && listed.kind === 'topic-permission') {
    for (const property of ['write', 'read'] as const)
      compare(property, declared.spec[property], listed.spec[property]);
    return out;
  }
  return [{ property: 'kind', expected: declared.kind, actual: listed.kind }];
}

function sortedKeys(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(stableStringify(value));
}

function credentialMatches(
  declared: UserCredential | undefined,
  listed: UserCredential | undefined,
  check: PasswordCheck | undefined,
): boolean {
  if (declared === undefined) return true; // no password declared: whatever the broker has stays
  if (listed === undefined) return false;
  if (declared.kind === 'hash') return listed.kind === 'hash' && listed.hash === declared.hash;
  return check?.(declared.password.reveal(), listed) ?? false;
}
