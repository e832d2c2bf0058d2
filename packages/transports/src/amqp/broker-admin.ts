/**
 * RabbitMQ's own entities (vhosts, users, permissions, topic permissions, policies, operator
 * policies) through the management HTTP API: AMQP cannot list or change any of them. Every `put`
 * is one idempotent PUT that updates in place (a policy change re-applies to matching queues
 * without touching their messages), every `delete` one DELETE where 404 means already gone.
 *
 * Where RabbitMQ's API does not map one to one:
 * - A user PUT replaces the user, password included: a user declared without a credential keeps
 *   the password it has, by sending its current hash back (a change made between our read and our
 *   write would be undone; applies hold the stack lock, so only a hand edit can race it).
 * - RabbitMQ 3.10 takes a vhost's default queue type only when creating it (3.11+ also updates it),
 *   and only under the body key `defaultqueuetype`: both spellings are sent, and a change that did
 *   not take is an {@link UnsupportedFeatureError} instead of a silent success.
 * - DELETE of a user's topic permissions (3.10) removes all of them in the vhost, for every
 *   exchange: neither `?exchange=` nor a body narrows it (tried on 3.10.8). Deleting one exchange's
 *   entry deletes all and puts the others back. Meanwhile the user has no topic permission for
 *   them, which RabbitMQ treats as no restriction: the gap briefly allows more, never less.
 *
 * @module
 */
import type {
  BrokerEntities,
  BrokerEntity,
  BrokerEntityAdmin,
  PasswordCheck,
  PermissionSpec,
  PolicySpec,
  PolicyTarget,
  TopicPermissionSpec,
  UserSpec,
  VhostSpec,
} from '@wakame/core/spi';
import { describeBrokerEntity, UnsupportedFeatureError } from '@wakame/core/spi';
import type { ManagementEndpoint } from './management.js';
import { type ManagementCall, ManagementClient } from './management-client.js';
import { rabbitPasswordMatches } from './password-hash.js';

/** What the broker admin needs: its vhost and how to reach the management API. */
export interface RabbitBrokerAdminOptions {
  /** The connection's vhost (policies declared without one go there). */
  readonly vhost: string;
  /** The management API and its login; called on first use. */
  readonly endpoint: () => ManagementEndpoint;
  /** Deadline of one HTTP call. @defaultValue 10 000 ms */
  readonly timeoutMs?: number;
  /** The fetch to use (tests give a fake one). @defaultValue the global `fetch` */
  readonly fetch?: typeof fetch;
}

/** The management API's shapes, as 3.10 answers (older brokers give tags as one comma-separated string). */
interface ApiVhost {
  name: string;
  description?: string;
  tags?: string[] | string;
  default_queue_type?: string;
  metadata?: { description?: string; tags?: string[] | string; default_queue_type?: string };
}
interface ApiUser {
  name: string;
  tags?: string[] | string;
  password_hash?: string;
  hashing_algorithm?: string;
}
interface ApiPolicy {
  vhost: string;
  name: string;
  pattern: string;
  'apply-to': PolicyTarget;
  priority: number;
  definition: Record<string, unknown>;
}

const QUEUE_TYPES: ReadonlySet<string> = new Set(['classic', 'quorum', 'stream']);

/** {@link BrokerEntityAdmin} of RabbitMQ; see the module description. */
export class RabbitBrokerAdmin implements BrokerEntityAdmin {
  readonly vhost: string;
  readonly passwordMatches: PasswordCheck = rabbitPasswordMatches;
  readonly #api: ManagementClient;

  constructor(options: RabbitBrokerAdminOptions) {
    this.vhost = options.vhost;
    this.#api = new ManagementClient(options);
  }

  async list(): Promise<BrokerEntities> {
    const get = async <T>(path: string, what: string): Promise<T[]> =>
      (await this.#api.call<T[]>('GET', path, { what: `list the broker's ${what}` })) ?? [];
    const [vhosts, users, permissions, topicPermissions, policies, operatorPolicies] = await Promise.all([
      get<ApiVhost>('vhosts', 'vhosts'),
      get<ApiUser>('users', 'users'),
      get<PermissionSpec>('permissions', 'permissions'),
      get<TopicPermissionSpec>('topic-permissions', 'topic permissions'),
      get<ApiPolicy>('policies', 'policies'),
      get<ApiPolicy>('operator-policies', 'operator policies'),
    ]);
    return {
      vhosts: vhosts.map(toVhost),
      users: users.map(toUser),
      permissions: permissions.map(({ user, vhost, configure, write, read }) => ({
        user,
        vhost,
        configure,
        write,
        read,
      })),
      topicPermissions: topicPermissions.map(({ user, vhost, exchange, write, read }) => ({
        user,
        vhost,
        exchange,
        write,
        read,
      })),
      policies: [...policies.map((p) => toPolicy(p, false)), ...operatorPolicies.map((p) => toPolicy(p, true))],
    };
  }

  async put(entity: BrokerEntity): Promise<void> {
    const what = `put ${describeBrokerEntity(entity)}`;
    switch (entity.kind) {
      case 'vhost':
        return this.#putVhost(entity.spec, what);
      case 'user':
        return this.#putUser(entity.spec, what);
      case 'permission': {
        const { configure, write, read } = entity.spec;
        await this.#api.call('PUT', permissionPath('permissions', entity.spec), {
          what,
          body: { configure, write, read },
        });
        return;
      }
      case 'topic-permission':
        return this.#putTopicPermission(entity.spec, what);
      case 'policy':
      case 'operator-policy': {
        const { pattern, definition, priority, applyTo } = entity.spec;
        const body = { pattern, definition, priority, 'apply-to': applyTo };
        await this.#api.call('PUT', this.#policyPath(entity.kind, entity.spec), { what, body });
        return;
      }
    }
  }

  async delete(entity: BrokerEntity): Promise<void> {
    const call: ManagementCall = { what: `delete ${describeBrokerEntity(entity)}`, notFoundIsAbsent: true };
    switch (entity.kind) {
      case 'vhost':
      case 'user':
        await this.#api.call('DELETE', `${entity.kind}s/${segment(entity.spec.name)}`, call);
        return;
      case 'permission':
        await this.#api.call('DELETE', permissionPath('permissions', entity.spec), call);
        return;
      case 'topic-permission':
        return this.#deleteTopicPermission(entity.spec, call);
      case 'policy':
      case 'operator-policy':
        await this.#api.call('DELETE', this.#policyPath(entity.kind, entity.spec), call);
        return;
    }
  }

  async #putVhost(spec: VhostSpec, what: string): Promise<void> {
    const path = `vhosts/${segment(spec.name)}`;
    const type = spec.defaultQueueType;
    const body = {
      description: spec.description ?? '',
      tags: spec.tags.join(','),
      // 3.10 reads `defaultqueuetype` (creation only); later versions also read `default_queue_type`.
      ...(type !== undefined ? { defaultqueuetype: type, default_queue_type: type } : {}),
    };
    await this.#api.call('PUT', path, { what, body });
    if (type === undefined) return;
    const now = await this.#api.call<ApiVhost>('GET', path, { what: `read vhost ${spec.name}` });
    const actual = now === undefined ? undefined : toVhost(now).defaultQueueType;
    if ((actual ?? 'classic') !== type) {
      throw new UnsupportedFeatureError(
        `changing the default queue type of the existing vhost '${spec.name}' (${actual ?? 'classic'} → ${type}; ` +
          'RabbitMQ 3.11 and later can, or delete and re-create the vhost)',
        'amqp (RabbitMQ before 3.11)',
      );
    }
  }

  async #putUser(spec: UserSpec, what: string): Promise<void> {
    const path = `users/${segment(spec.name)}`;
    const credential = spec.credential;
    let secret: Record<string, string>;
    if (credential?.kind === 'password') {
      secret = { password: credential.password.reveal() };
    } else if (credential?.kind === 'hash') {
      secret = { password_hash: credential.hash, hashing_algorithm: credential.algorithm };
    } else {
      // A PUT replaces the password: send the one the user has back (none for a new user).
      const existing = await this.#api.call<ApiUser>('GET', path, {
        what: `read user ${spec.name}`,
        notFoundIsAbsent: true,
      });
      secret =
        existing === undefined
          ? { password_hash: '' }
          : {
              password_hash: existing.password_hash ?? '',
              ...(existing.hashing_algorithm ? { hashing_algorithm: existing.hashing_algorithm } : {}),
            };
    }
    const body = { tags: spec.tags.join(','), ...secret };
    const secrets = [secret.password, secret.password_hash].filter((s): s is string => s !== undefined);
    await this.#api.call('PUT', path, { what, body, secrets });
  }

  async #putTopicPermission(spec: TopicPermissionSpec, what: string): Promise<void> {
    const { exchange, write, read } = spec;
    await this.#api.call('PUT', permissionPath('topic-permissions', spec), { what, body: { exchange, write, read } });
  }

  async #deleteTopicPermission(spec: TopicPermissionSpec, call: ManagementCall): Promise<void> {
    const path = permissionPath('topic-permissions', spec);
    const read = { what: `read the topic permissions of ${spec.user} (vhost ${spec.vhost})`, notFoundIsAbsent: true };
    const all = (await this.#api.call<TopicPermissionSpec[]>('GET', path, read)) ?? [];
    if (!all.some((p) => p.exchange === spec.exchange)) return;
    // One DELETE removes every exchange's entry (see the module description): put the others back.
    await this.#api.call('DELETE', path, call);
    for (const other of all.filter((p) => p.exchange !== spec.exchange)) {
      await this.#putTopicPermission(
        other,
        `put back ${describeBrokerEntity({ kind: 'topic-permission', spec: other })}`,
      );
    }
  }

  #policyPath(kind: 'policy' | 'operator-policy', spec: PolicySpec): string {
    const collection = kind === 'policy' ? 'policies' : 'operator-policies';
    return `${collection}/${segment(spec.vhost ?? this.vhost)}/${segment(spec.name)}`;
  }
}

function segment(name: string): string {
  return encodeURIComponent(name);
}

function permissionPath(collection: string, spec: { readonly vhost: string; readonly user: string }): string {
  return `${collection}/${segment(spec.vhost)}/${segment(spec.user)}`;
}

/** Tags as a list: 3.9+ answer one, older brokers a comma-separated string. */
function tagsOf(tags: string[] | string | undefined): string[] {
  if (Array.isArray(tags)) return tags.map(String);
  return (tags ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

function toVhost(v: ApiVhost): VhostSpec {
  const description = v.metadata?.description ?? v.description ?? '';
  // 3.10 answers the string "undefined" for a vhost created without one.
  const type = v.metadata?.default_queue_type ?? v.default_queue_type;
  return {
    name: v.name,
    ...(description !== '' ? { description } : {}),
    tags: tagsOf(v.metadata?.tags ?? v.tags),
    ...(type !== undefined && QUEUE_TYPES.has(type)
      ? { defaultQueueType: type as NonNullable<VhostSpec['defaultQueueType']> }
      : {}),
  };
}

function toUser(u: ApiUser): UserSpec {
  const hash = u.password_hash ?? '';
  return {
    name: u.name,
    tags: tagsOf(u.tags),
    ...(hash !== ''
      ? {
          credential: {
            kind: 'hash' as const,
            hash,
            algorithm: u.hashing_algorithm ?? 'rabbit_password_hashing_sha256',
          },
        }
      : {}),
  };
}

function toPolicy(p: ApiPolicy, operator: boolean): PolicySpec {
  return {
    name: p.name,
    operator,
    vhost: p.vhost,
    pattern: p.pattern,
    applyTo: p['apply-to'],
    priority: p.priority,
    definition: p.definition,
  };
}
