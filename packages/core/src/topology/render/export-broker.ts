/**
 * Listed broker entities → the broker sections of a topology document (`vhosts`, `users`,
 * `permissions`, `topicPermissions`, `policies`, `operatorPolicies`), for `wakame export`. Like the
 * rest of the export, defaults are left out and the result compiles back to the same entities.
 *
 * Users are written without any credential: neither a password (the broker does not give it) nor
 * the stored hash (a secret too, as good as a password against an offline attack). Declared
 * without one, a user's password is left as it is by `apply`, so the exported file still plans
 * no change; add `password: ${VAR}` to a user to manage its password from the file.
 *
 * @module
 */
import type {
  BrokerEntities,
  PermissionSpec,
  PolicySpec,
  TopicPermissionSpec,
  UserSpec,
  VhostSpec,
} from '../../model/broker-entities.js';
import { DEFAULT_POLICY_TARGET } from '../compile/broker.js';
import { compareStrings } from '../compile/compile.js';
import type {
  PermissionDocument,
  PolicyDocument,
  TopicPermissionDocument,
  TopologyDocument,
  UserDocument,
  VhostDocument,
} from '../document.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The document sections that hold broker entities. */
export type BrokerSections = Pick<
  TopologyDocument,
  'vhosts' | 'users' | 'permissions' | 'topicPermissions' | 'policies' | 'operatorPolicies'
>;

function exportVhost(v: VhostSpec): VhostDocument {
  const out: Mutable<VhostDocument> = { name: v.name };
  if (v.description !== undefined && v.description !== '') out.description = v.description;
  if (v.tags.length > 0) out.tags = [...v.tags];
  if (v.defaultQueueType !== undefined) out.defaultQueueType = v.defaultQueueType;
  return out;
}

/** Never a credential: see the module documentation. */
function exportUser(u: UserSpec): UserDocument {
  return u.tags.length > 0 ? { name: u.name, tags: [...u.tags] } : { name: u.name };
}

/**
 * A policy; its vhost is left out when it is the connection's (`vhost`), so the file applies to
 * whichever vhost it is applied to, as a file written by hand would.
 */
function exportPolicy(p: PolicySpec, vhost: string | undefined): PolicyDocument {
  const out: Mutable<PolicyDocument> = { name: p.name, pattern: p.pattern, definition: { ...p.definition } };
  if (p.vhost !== undefined && p.vhost !== vhost) out.vhost = p.vhost;
  if (p.applyTo !== DEFAULT_POLICY_TARGET) out.applyTo = p.applyTo;
  if (p.priority !== 0) out.priority = p.priority;
  return out;
}

function byKeys<T>(items: readonly T[], key: (item: T) => readonly string[]): T[] {
  return [...items].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) {
      const c = compareStrings(ka[i] as string, kb[i] as string);
      if (c !== 0) return c;
    }
    return 0;
  });
}

/**
 * The broker sections of a document for `entities` (as a transport's `BrokerEntityAdmin.list()`
 * gives them); `vhost` is the connection's. Empty sections are left out.
 */
export function exportBrokerEntities(entities: BrokerEntities, vhost?: string): BrokerSections {
  const policies = byKeys(entities.policies, (p) => [p.vhost ?? '', p.name]);
  const sections: Mutable<BrokerSections> = {
    vhosts: byKeys(entities.vhosts, (v) => [v.name]).map(exportVhost),
    users: byKeys(entities.users, (u) => [u.name]).map(exportUser),
    permissions: byKeys(entities.permissions, (p) => [p.vhost, p.user]).map((p): PermissionDocument => {
      const { user, vhost: in_, configure, write, read }: PermissionSpec = p;
      return { user, vhost: in_, configure, write, read };
    }),
    topicPermissions: byKeys(entities.topicPermissions, (p) => [p.vhost, p.user, p.exchange]).map(
      (p): TopicPermissionDocument => {
        const { user, vhost: in_, exchange, write, read }: TopicPermissionSpec = p;
        return { user, vhost: in_, exchange, write, read };
      },
    ),
    policies: policies.filter((p) => !p.operator).map((p) => exportPolicy(p, vhost)),
    operatorPolicies: policies.filter((p) => p.operator).map((p) => exportPolicy(p, vhost)),
  };
  for (const key of Object.keys(sections) as (keyof BrokerSections)[]) {
    if (sections[key]?.length === 0) delete sections[key];
  }
  return sections;
}
