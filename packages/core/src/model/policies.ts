/**
 * RabbitMQ's policy rules, as data and one pure function: which keys a policy definition may hold
 * (and an operator policy), which policy applies to a queue, and what a queue's settings are once its
 * own arguments, its policy and its operator policy are combined ({@link effectiveQueueArguments}).
 * The virtual transport applies policies with these rules; the planner and the validator read them.
 *
 * RabbitMQ's precedence, as its documentation and `rabbit_policy` give it: of the policies whose
 * pattern matches a queue's name and whose `apply-to` covers the queue, the one with the highest
 * priority applies (one user policy and one operator policy at most). A queue's own `x-` argument
 * wins over the user policy, except for the limits `message-ttl`, `expires`, `max-length` and
 * `max-length-bytes`, where the lower value wins. An operator policy's limits also merge by the
 * lower value, with the argument and the user policy alike.
 *
 * @module
 */
import { QUEUE_ARGUMENT_ENTRIES } from './argument-table.js';
import type { PolicySpec, PolicyTarget } from './broker-entities.js';
import type { QueueArguments, QueueSpec } from './specs.js';

/** Every key RabbitMQ (3.10–4.x, core and bundled plugins) accepts in a user policy, with what it applies to. */
export const POLICY_KEYS: Readonly<Record<string, 'queues' | 'exchanges'>> = {
  'message-ttl': 'queues',
  expires: 'queues',
  'max-length': 'queues',
  'max-length-bytes': 'queues',
  overflow: 'queues',
  'dead-letter-exchange': 'queues',
  'dead-letter-routing-key': 'queues',
  'dead-letter-strategy': 'queues',
  'delivery-limit': 'queues',
  'queue-mode': 'queues',
  'queue-version': 'queues',
  'queue-master-locator': 'queues',
  'queue-leader-locator': 'queues',
  'initial-cluster-size': 'queues',
  'target-group-size': 'queues',
  'max-age': 'queues',
  'stream-max-segment-size-bytes': 'queues',
  'max-in-memory-length': 'queues',
  'max-in-memory-bytes': 'queues',
  'consumer-timeout': 'queues',
  'ha-mode': 'queues',
  'ha-params': 'queues',
  'ha-sync-mode': 'queues',
  'ha-sync-batch-size': 'queues',
  'ha-promote-on-shutdown': 'queues',
  'ha-promote-on-failure': 'queues',
  'alternate-exchange': 'exchanges',
  'federation-upstream': 'queues',
  'federation-upstream-set': 'queues',
};

/** The keys an operator policy may hold (RabbitMQ refuses any other). */
export const OPERATOR_POLICY_KEYS: readonly string[] = [
  'expires',
  'message-ttl',
  'max-length',
  'max-length-bytes',
  'max-in-memory-length',
  'max-in-memory-bytes',
  'delivery-limit',
];

/** Limits where the lower of argument, policy and operator policy wins. */
const LOWEST_WINS: ReadonlySet<string> = new Set(['message-ttl', 'expires', 'max-length', 'max-length-bytes']);

/** Whether `policy` is written for a queue of type `queueType` (RabbitMQ's `apply-to`). */
export function policyTargetsQueue(target: PolicyTarget, queueType: string | undefined): boolean {
  switch (target) {
    case 'queues':
    case 'all':
      return true;
    case 'exchanges':
      return false;
    case 'classic_queues':
      return (queueType ?? 'classic') === 'classic';
    case 'quorum_queues':
      return queueType === 'quorum';
    case 'streams':
      return queueType === 'stream';
  }
}

/**
 * The policy that applies to `queue` among `policies` (all of one kind, user or operator): the
 * matching one of highest priority, ties broken by name so the choice is stable.
 */
export function applicablePolicy(queue: QueueSpec, policies: readonly PolicySpec[]): PolicySpec | undefined {
  let best: PolicySpec | undefined;
  for (const p of policies) {
    if (!policyTargetsQueue(p.applyTo, queue.queueType)) continue;
    if (!new RegExp(p.pattern, 'u').test(queue.name)) continue;
    if (!best || p.priority > best.priority || (p.priority === best.priority && p.name < best.name)) best = p;
  }
  return best;
}

/**
 * The typed arguments a queue has in effect once `policies` (user and operator policies of its vhost)
 * are combined with its own, by RabbitMQ's precedence (see the module comment). Keys a policy sets that
 * are not typed queue arguments (e.g. `delivery-limit`) are left out: the caller's transport either
 * honours them elsewhere or validation refused them.
 */
export function effectiveQueueArguments(queue: QueueSpec, policies: readonly PolicySpec[]): QueueArguments {
  const user = applicablePolicy(
    queue,
    policies.filter((p) => !p.operator),
  )?.definition;
  const operator = applicablePolicy(
    queue,
    policies.filter((p) => p.operator),
  )?.definition;
  const out: Record<string, unknown> = {};
  for (const [key, def] of QUEUE_ARGUMENT_ENTRIES) {
    const own = (queue as unknown as Record<string, unknown>)[key];
    if (!def.policy) {
      if (own !== undefined) out[key] = own;
      continue;
    }
    const policyKey = def.broker.replace(/^x-/, '');
    if (def.kind === 'target') {
      // Two keys, each looked up on its own as RabbitMQ does: an argument's exchange with the policy's
      // routing key when the argument names none.
      const routingKeyKey = def.routingKeyBroker.replace(/^x-/, '');
      const target = own as { exchange: string; routingKey?: string } | undefined;
      const exchange = target?.exchange ?? user?.[policyKey];
      if (typeof exchange !== 'string') continue;
      const routingKey = target?.routingKey ?? user?.[routingKeyKey];
      out[key] = typeof routingKey === 'string' ? { exchange, routingKey } : { exchange };
      continue;
    }
    let value = own ?? user?.[policyKey];
    if (LOWEST_WINS.has(policyKey)) {
      const candidates = [own, user?.[policyKey], operator?.[policyKey]].filter(
        (v): v is number => typeof v === 'number',
      );
      value = candidates.length > 0 ? Math.min(...candidates) : undefined;
    } else if (value === undefined && operator?.[policyKey] !== undefined) {
      value = operator[policyKey];
    }
    if (value !== undefined) out[key] = value;
  }
  return out as QueueArguments;
}
