/**
 * Policies as topology records: the one identity every store keys them by, and the queue settings
 * they give once applied. Kept apart from the stores so that memory, file and Redis key, replace and
 * apply policies identically, and the transport applies them only when the topology revision moves.
 *
 * @module
 */
import type { PolicySpec } from '../model/broker-entities.js';
import { effectiveQueueArguments } from '../model/policies.js';
import type { QueueSpec } from '../transport/spi.js';

/**
 * The identity of a stored policy: its kind, vhost and name (RabbitMQ keeps a policy and an operator
 * policy of the same name apart, and the same name in two vhosts too).
 */
export function policyRecordKey(operator: boolean, vhost: string, name: string): string {
  return `${operator ? 'operator-policy' : 'policy'}\u0000${vhost}\u0000${name}`;
}

/** {@link policyRecordKey} of a stored policy (whose `vhost` is set; `''` stands in when it is not). */
export function policyKeyOf(spec: PolicySpec): string {
  return policyRecordKey(spec.operator, spec.vhost ?? '', spec.name);
}

/**
 * Every queue with its policy-given settings in effect (RabbitMQ's precedence, see
 * {@link effectiveQueueArguments}), among the policies of `vhost` (a policy without one belongs to
 * it). When no policy applies, `queues` itself is returned: a store without policies pays nothing.
 */
export function queuesWithPolicies(
  queues: ReadonlyMap<string, QueueSpec>,
  policies: readonly PolicySpec[] | undefined,
  vhost: string,
): ReadonlyMap<string, QueueSpec> {
  const own = (policies ?? []).filter((p) => (p.vhost ?? vhost) === vhost);
  if (own.length === 0) return queues;
  const out = new Map<string, QueueSpec>();
  for (const [name, queue] of queues) out.set(name, { ...queue, ...effectiveQueueArguments(queue, own) });
  return out;
}
