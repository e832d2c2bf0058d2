/**
 * The broker-entity sections of a document (`vhosts`, `users`, `permissions`, `topicPermissions`,
 * `policies`, `operatorPolicies`) → {@link BrokerEntities}. Defaults applied, each list sorted by
 * the entities' identity ({@link brokerEntityKey}), the first of duplicates kept (the rules report
 * the others), passwords wrapped in {@link Sensitive} so that no log, plan or `JSON.stringify` of
 * the desired state shows them.
 *
 * @module
 */
import {
  type BrokerEntities,
  type BrokerEntity,
  brokerEntityKey,
  type PermissionSpec,
  type PolicySpec,
  Sensitive,
  type TopicPermissionSpec,
  type UserSpec,
  type VhostSpec,
} from '../../model/broker-entities.js';
import type { PolicyDocument, TopologyDocument, UserDocument, VhostDocument } from '../document.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The hashing algorithm of a `passwordHash` that names none (RabbitMQ's default since 3.6). */
export const DEFAULT_HASHING_ALGORITHM = 'rabbit_password_hashing_sha256';

/** What a policy applies to when it does not say (RabbitMQ's default `apply-to`). */
export const DEFAULT_POLICY_TARGET = 'all';

/**
 * Stands for "the connection's vhost" in identities: a policy without `vhost` is a different
 * entity from one naming a vhost, as far as a document can tell (the connection decides).
 */
const CONNECTION_VHOST = '\u0001connection';

/** The identity of a broker entity in a document, with a policy's absent vhost kept apart. */
export function documentEntityKey(entity: BrokerEntity): string {
  return brokerEntityKey(entity, CONNECTION_VHOST);
}

export function compileVhost(doc: VhostDocument): VhostSpec {
  const spec: Mutable<VhostSpec> = { name: doc.name, tags: [...(doc.tags ?? [])] };
  if (doc.description !== undefined) spec.description = doc.description;
  if (doc.defaultQueueType !== undefined) spec.defaultQueueType = doc.defaultQueueType;
  return spec;
}

export function compileUser(doc: UserDocument): UserSpec {
  const spec: Mutable<UserSpec> = { name: doc.name, tags: [...(doc.tags ?? [])] };
  if ('passwordHash' in doc && doc.passwordHash !== undefined) {
    spec.credential = {
      kind: 'hash',
      hash: doc.passwordHash,
      algorithm: doc.hashingAlgorithm ?? DEFAULT_HASHING_ALGORITHM,
    };
  } else if ('password' in doc && doc.password !== undefined) {
    // String(): the schema lets a number or boolean through so that its error never quotes a
    // password; the rules refuse it, and a compile of an unchecked document must still not leak it.
    spec.credential = { kind: 'password', password: new Sensitive(String(doc.password)) };
  }
  return spec;
}

export function compilePolicy(doc: PolicyDocument, operator: boolean): PolicySpec {
  const spec: Mutable<PolicySpec> = {
    name: doc.name,
    operator,
    pattern: doc.pattern,
    applyTo: doc.applyTo ?? DEFAULT_POLICY_TARGET,
    priority: doc.priority ?? 0,
    definition: { ...doc.definition },
  };
  if (doc.vhost !== undefined) spec.vhost = doc.vhost;
  return spec;
}

/** Keeps the first entity of each identity and sorts by identity. */
function unique<S>(specs: readonly S[], tag: (spec: S) => BrokerEntity): S[] {
  const seen = new Map<string, S>();
  for (const spec of specs) {
    const key = documentEntityKey(tag(spec));
    if (!seen.has(key)) seen.set(key, spec);
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, spec]) => spec);
}

/** Whether the document declares any broker entity. */
export function declaresBrokerEntities(doc: TopologyDocument): boolean {
  return [doc.vhosts, doc.users, doc.permissions, doc.topicPermissions, doc.policies, doc.operatorPolicies].some(
    (section) => (section?.length ?? 0) > 0,
  );
}

/** The broker entities a schema-valid document declares. */
export function compileBrokerEntities(doc: TopologyDocument): BrokerEntities {
  return {
    vhosts: unique((doc.vhosts ?? []).map(compileVhost), (spec) => ({ kind: 'vhost', spec })),
    users: unique((doc.users ?? []).map(compileUser), (spec) => ({ kind: 'user', spec })),
    permissions: unique(
      (doc.permissions ?? []).map((p): PermissionSpec => ({ ...p })),
      (spec) => ({ kind: 'permission', spec }),
    ),
    topicPermissions: unique(
      (doc.topicPermissions ?? []).map((p): TopicPermissionSpec => ({ ...p })),
      (spec) => ({ kind: 'topic-permission', spec }),
    ),
    policies: unique(
      [
        ...(doc.policies ?? []).map((p) => compilePolicy(p, false)),
        ...(doc.operatorPolicies ?? []).map((p) => compilePolicy(p, true)),
      ],
      (spec) => ({ kind: spec.operator ? 'operator-policy' : 'policy', spec }),
    ),
  };
}
