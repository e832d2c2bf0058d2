/**
 * The rules on the broker's own entities (`vhosts`, `users`, `permissions`, `topicPermissions`,
 * `policies`, `operatorPolicies`), run by {@link checkRules} after the others. Paths are JSON
 * pointers into the document, as everywhere in the rules.
 *
 * Errors: `duplicate-name` (same identity as an earlier entity), `invalid-regex` (a `pattern`,
 * `configure`, `write` or `read` that does not compile), `policy-definition` (a key RabbitMQ does not
 * know, or does not allow in an operator policy, or that does not apply to the policy's `applyTo`,
 * or a value of the wrong type or range), `password-type` (a password YAML read as a number or
 * boolean), `unsupported-feature` (a kind of entity, or a policy key, the target transport lacks;
 * only with capabilities). Warnings: `undeclared-broker-entity` (a user or vhost named but not
 * declared: it must exist on the broker), `policy-definition` (an empty definition) and
 * `policy-settable-argument` (a queue argument a policy could set instead; only when the transport
 * keeps policies).
 *
 * No message ever quotes a password: they name users, never credentials.
 *
 * @module
 */
import type { BrokerEntity, BrokerEntityKind } from '../../model/broker-entities.js';
import { describeBrokerEntity } from '../../model/broker-entities.js';
import { OPERATOR_POLICY_KEYS, POLICY_KEYS } from '../../model/policies.js';
import type { Capabilities } from '../../transport/spi.js';
import { compilePolicy, compileUser, compileVhost, documentEntityKey } from '../compile/broker.js';
import type { DesiredTopology } from '../desired.js';
import type {
  PermissionDocument,
  PolicyDocument,
  TopicPermissionDocument,
  TopologyDocument,
  UserDocument,
  VhostDocument,
} from '../document.js';
import { checkPolicyValue, policySettableArguments } from './policy-values.js';
import { closest } from './validate-messages.js';

/** What the broker rules need of the rules' shared context (which satisfies it). */
export interface BrokerRuleContext {
  readonly doc: TopologyDocument;
  readonly compiled: DesiredTopology;
  readonly transport: string;
  readonly capabilities: Capabilities | undefined;
  error(keyword: string, path: string, message: string): void;
  warn(keyword: string, path: string, message: string): void;
}

/** A JSON pointer from path segments (RFC 6901 escaping of `~` and `/`). */
function pointer(...segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** The sections, the entity kind each declares and how messages name them. */
const SECTIONS = [
  ['vhosts', 'vhost', 'vhosts'],
  ['users', 'user', 'users'],
  ['permissions', 'permission', 'permissions'],
  ['topicPermissions', 'topic-permission', 'topic permissions'],
  ['policies', 'policy', 'policies'],
  ['operatorPolicies', 'operator-policy', 'operator policies'],
] as const satisfies readonly (readonly [keyof TopologyDocument, BrokerEntityKind, string])[];

/** The vhost every RabbitMQ broker has unless someone deleted it. */
const DEFAULT_VHOST = '/';

/**
 * Keys RabbitMQ applies to queues and exchanges alike, which POLICY_KEYS files under `queues`:
 * the federation plugin federates both.
 */
const EITHER_TARGET: ReadonlySet<string> = new Set(['federation-upstream', 'federation-upstream-set']);

/** Every entity of the broker sections, tagged, with its path. */
function entities(doc: TopologyDocument): { entity: BrokerEntity; path: string }[] {
  const tag = <T>(section: string, items: readonly T[] | undefined, entity: (item: T) => BrokerEntity) =>
    (items ?? []).map((item, i) => ({ entity: entity(item), path: pointer(section, i) }));
  return [
    ...tag('vhosts', doc.vhosts, (v: VhostDocument) => ({ kind: 'vhost', spec: compileVhost(v) })),
    ...tag('users', doc.users, (u: UserDocument) => ({ kind: 'user', spec: compileUser(u) })),
    ...tag('permissions', doc.permissions, (p: PermissionDocument) => ({ kind: 'permission', spec: p })),
    ...tag('topicPermissions', doc.topicPermissions, (p: TopicPermissionDocument) => ({
      kind: 'topic-permission',
      spec: p,
    })),
    ...tag('policies', doc.policies, (p: PolicyDocument) => ({ kind: 'policy', spec: compilePolicy(p, false) })),
    ...tag('operatorPolicies', doc.operatorPolicies, (p: PolicyDocument) => ({
      kind: 'operator-policy',
      spec: compilePolicy(p, true),
    })),
  ];
}

/** Where a duplicate is reported: the entity's name, or the first field of its identity. */
function identityField(kind: BrokerEntityKind): string {
  return kind === 'permission' || kind === 'topic-permission' ? 'user' : 'name';
}

function duplicates(ctx: BrokerRuleContext): void {
  const first = new Map<string, string>();
  for (const { entity, path } of entities(ctx.doc)) {
    const key = documentEntityKey(entity);
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, path);
    else {
      const message = `${describeBrokerEntity(entity)} is already declared at ${earlier}`;
      ctx.error('duplicate-name', `${path}/${identityField(entity.kind)}`, message);
    }
  }
}

function regexes(ctx: BrokerRuleContext): void {
  const check = (path: string, field: string, source: string): void => {
    try {
      // The flags of `applicablePolicy`, which applies these patterns in the virtual transport.
      new RegExp(source, 'u');
    } catch (e) {
      const reason = (e as Error).message.replace(/^Invalid regular expression: \/.*\/u?: /s, '');
      ctx.error('invalid-regex', path, `${field} is not a valid regular expression: ${reason}`);
    }
  };
  const { doc } = ctx;
  (doc.permissions ?? []).forEach((p, i) => {
    for (const field of ['configure', 'write', 'read'] as const)
      check(pointer('permissions', i, field), field, p[field]);
  });
  (doc.topicPermissions ?? []).forEach((p, i) => {
    for (const field of ['write', 'read'] as const) check(pointer('topicPermissions', i, field), field, p[field]);
  });
  for (const section of ['policies', 'operatorPolicies'] as const) {
    (doc[section] ?? []).forEach((p, i) => {
      check(pointer(section, i, 'pattern'), 'pattern', p.pattern);
    });
  }
}

function passwords(ctx: BrokerRuleContext): void {
  (ctx.doc.users ?? []).forEach((u, i) => {
    const password: unknown = 'password' in u ? u.password : undefined;
    if (password === undefined || typeof password === 'string') return;
    // Never the value: it may come from the environment, and this message is printed and logged.
    const message = `user '${u.name}': the password must be a string; YAML read this one as a ${typeof password}, so quote it (password: '\${VAR}')`;
    ctx.error('password-type', pointer('users', i, 'password'), message);
  });
}

function policyDefinitions(ctx: BrokerRuleContext): void {
  for (const section of ['policies', 'operatorPolicies'] as const) {
    const operator = section === 'operatorPolicies';
    const kind = operator ? 'an operator policy' : 'a policy';
    (ctx.doc[section] ?? []).forEach((p, i) => {
      const keys = Object.keys(p.definition);
      if (keys.length === 0) {
        ctx.warn('policy-definition', pointer(section, i, 'definition'), 'the definition is empty: it sets nothing');
      }
      for (const key of keys) {
        const path = pointer(section, i, 'definition', key);
        const allowed = operator ? OPERATOR_POLICY_KEYS : Object.keys(POLICY_KEYS);
        if (!allowed.includes(key)) {
          const guess = closest(key, allowed);
          const known = operator && Object.hasOwn(POLICY_KEYS, key);
          const message = known
            ? `'${key}' cannot be set by an operator policy (only ${OPERATOR_POLICY_KEYS.join(', ')})`
            : `'${key}' is not a RabbitMQ policy key${guess ? ` (did you mean '${guess}'?)` : ''}`;
          ctx.error('policy-definition', path, message);
          continue;
        }
        const mismatch = targetMismatch(key, p);
        if (mismatch) ctx.error('policy-definition', path, `'${key}' ${mismatch}`);
        const problem = checkPolicyValue(key, p.definition[key]);
        if (problem) ctx.error('policy-definition', path, `${key} ${problem} (in ${kind})`);
      }
    });
  }
}

/** Why `key` does not apply to what the policy applies to, if it does not. */
function targetMismatch(key: string, p: PolicyDocument): string | undefined {
  const target = p.applyTo ?? 'all';
  const keyTarget = POLICY_KEYS[key];
  if (target === 'all' || EITHER_TARGET.has(key) || keyTarget === undefined) return undefined;
  if (target === 'exchanges' && keyTarget === 'queues')
    return 'applies to queues, but the policy applies to exchanges only (applyTo: exchanges)';
  if (target !== 'exchanges' && keyTarget === 'exchanges')
    return `applies to exchanges, but the policy applies to queues only (applyTo: ${target})`;
  return undefined;
}

function undeclared(ctx: BrokerRuleContext): void {
  const { doc } = ctx;
  const users = new Set((doc.users ?? []).map((u) => u.name));
  const vhosts = new Set((doc.vhosts ?? []).map((v) => v.name));
  const vhost = (path: string, name: string): void => {
    if (vhosts.has(name) || name === DEFAULT_VHOST) return;
    const message = `vhost '${name}' is not declared in vhosts: it must already exist on the broker`;
    ctx.warn('undeclared-broker-entity', path, message);
  };
  for (const section of ['permissions', 'topicPermissions'] as const) {
    (doc[section] ?? []).forEach((p, i) => {
      if (!users.has(p.user)) {
        const message = `user '${p.user}' is not declared in users: it must already exist on the broker`;
        ctx.warn('undeclared-broker-entity', pointer(section, i, 'user'), message);
      }
      vhost(pointer(section, i, 'vhost'), p.vhost);
    });
  }
  for (const section of ['policies', 'operatorPolicies'] as const) {
    (doc[section] ?? []).forEach((p, i) => {
      if (p.vhost !== undefined) vhost(pointer(section, i, 'vhost'), p.vhost);
    });
  }
}

function support(ctx: BrokerRuleContext): void {
  const caps = ctx.capabilities;
  if (caps === undefined) return;
  const kinds = caps.brokerEntities ?? new Set<BrokerEntityKind>();
  const keys = caps.policyKeys ?? new Set<string>();
  for (const [section, kind, label] of SECTIONS) {
    const items = ctx.doc[section] ?? [];
    if (items.length === 0) continue;
    if (!kinds.has(kind)) {
      ctx.error('unsupported-feature', pointer(section), `the ${ctx.transport} transport does not support ${label}`);
      continue;
    }
    if (section !== 'policies' && section !== 'operatorPolicies') continue;
    (items as readonly PolicyDocument[]).forEach((p, i) => {
      for (const key of Object.keys(p.definition)) {
        if (keys.has(key)) continue;
        const message = `the ${ctx.transport} transport does not support the policy key '${key}'`;
        ctx.error('unsupported-feature', pointer(section, i, 'definition', key), message);
      }
    });
  }
}

/** A YAML flow scalar: plain when YAML would read it back as the same string, else single-quoted. */
function flow(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(value) && !/^(true|false|null|yes|no|on|off)$/i.test(value)
    ? value
    : `'${value.replace(/'/g, "''")}'`;
}

/** `'^name$'`, with the name's regular-expression characters escaped. */
function exactPattern(names: readonly string[]): string {
  const escaped = names.map((n) => n.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'));
  return escaped.length === 1 ? `^${escaped[0]}$` : `^(?:${escaped.join('|')})$`;
}

/** The one-line `policies: [...]` a queue's settable arguments would move to. */
function policySnippet(name: string, names: readonly string[], definition: Readonly<Record<string, unknown>>): string {
  const pairs = Object.entries(definition).map(([k, v]) => `${k}: ${flow(v)}`);
  return `policies: [{ name: ${flow(name)}, pattern: ${flow(exactPattern(names))}, applyTo: queues, definition: { ${pairs.join(', ')} } }]`;
}

function settableArguments(ctx: BrokerRuleContext): void {
  if (!ctx.capabilities?.brokerEntities?.has('policy')) return;
  const why =
    'arguments are fixed once the queue exists, and changing one means replacing the queue, while a policy changes in place';
  (ctx.doc.queues ?? []).forEach((q, i) => {
    const settable = policySettableArguments(q);
    if (settable.fields.length === 0) return;
    const path = pointer('queues', i, settable.fields[0] as string);
    const snippet = policySnippet(`${q.name}-settings`, [q.name], settable.definition);
    const fields = settable.fields.join(', ');
    const message = `queue '${q.name}' sets ${fields} as arguments; consider a policy instead (${why}): ${snippet}`;
    ctx.warn('policy-settable-argument', path, message);
  });
  const defaults = ctx.doc.defaults?.queue;
  if (defaults === undefined) return;
  const settable = policySettableArguments(defaults);
  // The queues that take at least one of those defaults (the others set every one themselves).
  const inheriting = (ctx.doc.queues ?? [])
    .filter((q) => settable.fields.some((f) => q[f] === undefined))
    .map((q) => q.name);
  if (settable.fields.length === 0 || inheriting.length === 0) return;
  const snippet = policySnippet('queue-defaults', inheriting, settable.definition);
  const message = `defaults.queue sets ${settable.fields.join(', ')} as arguments of every queue; consider a policy instead (${why}): ${snippet}`;
  ctx.warn('policy-settable-argument', pointer('defaults', 'queue', settable.fields[0] as string), message);
}

/** Every broker-entity rule, in order. */
export function checkBrokerEntities(ctx: BrokerRuleContext): void {
  duplicates(ctx);
  regexes(ctx);
  passwords(ctx);
  policyDefinitions(ctx);
  undeclared(ctx);
  support(ctx);
  settableArguments(ctx);
}
