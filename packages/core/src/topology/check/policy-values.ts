/**
 * Policy values, from the queue-argument table: which values a policy key takes (a policy's
 * `message-ttl` has the range of a queue's `messageTtl`), and which of a queue's arguments a policy
 * could set instead, as a policy definition. Pure helpers of the broker rules.
 *
 * @module
 */
import {
  type ArgumentDefinition,
  MAX_TTL_MS,
  QUEUE_ARGUMENT_ENTRIES,
  type QueueArgumentKey,
} from '../../model/argument-table.js';
import type { QueueArguments } from '../../transport/spi.js';

/** RabbitMQ's policy key of a queue argument: its broker name without `x-`. */
function policyKey(broker: string): string {
  return broker.replace(/^x-/, '');
}

function bound(n: number): string {
  return n === MAX_TTL_MS ? '2^32-1' : String(n);
}

type Check = (value: unknown) => string | undefined;

const isString: Check = (value) => (typeof value === 'string' ? undefined : `must be a string, got ${show(value)}`);

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'a list' : 'a mapping';
}

/** The checks of the policy keys of one queue argument (two for a target: exchange and routing key). */
function checksOf(def: ArgumentDefinition): [string, Check][] {
  if (def.kind === 'count') {
    const max = def.max ?? Number.MAX_SAFE_INTEGER;
    const range = def.max === undefined ? `of at least ${def.min}` : `from ${def.min} to ${bound(max)}`;
    const unit = def.unit === 'ms' ? ' of ms' : '';
    const check: Check = (value) =>
      typeof value === 'number' && Number.isInteger(value) && value >= def.min && value <= max
        ? undefined
        : `must be a whole number${unit} ${range}, got ${show(value)}`;
    return [[policyKey(def.broker), check]];
  }
  if (def.kind === 'enum') {
    const check: Check = (value) =>
      typeof value === 'string' && def.values.includes(value)
        ? undefined
        : `must be one of ${def.values.join(', ')}, got ${show(value)}`;
    return [[policyKey(def.broker), check]];
  }
  if (def.kind === 'target') {
    return [
      [policyKey(def.broker), isString],
      [policyKey(def.routingKeyBroker), isString],
    ];
  }
  return [];
}

/** The value checks of the common keys; RabbitMQ checks the others when the policy is set. */
const VALUE_CHECKS: ReadonlyMap<string, Check> = new Map<string, Check>([
  ...QUEUE_ARGUMENT_ENTRIES.filter(([, def]) => def.policy).flatMap(([, def]) => checksOf(def)),
  ['alternate-exchange', isString],
]);

/** What is wrong with `value` for the policy key `key` (`must be …, got …`), if the key is checked. */
export function checkPolicyValue(key: string, value: unknown): string | undefined {
  return VALUE_CHECKS.get(key)?.(value);
}

/**
 * The arguments of `queue` a policy could set instead (the table's `policy` entries), in table
 * order, and the policy definition that sets the same values.
 */
export function policySettableArguments(queue: QueueArguments): {
  fields: QueueArgumentKey[];
  definition: Record<string, unknown>;
} {
  const fields: QueueArgumentKey[] = [];
  const definition: Record<string, unknown> = {};
  for (const [key, def] of QUEUE_ARGUMENT_ENTRIES) {
    const value = queue[key];
    if (!def.policy || value === undefined) continue;
    fields.push(key);
    if (def.kind === 'target') {
      const target = value as { exchange: string; routingKey?: string };
      definition[policyKey(def.broker)] = target.exchange;
      if (target.routingKey !== undefined) definition[policyKey(def.routingKeyBroker)] = target.routingKey;
    } else definition[policyKey(def.broker)] = value;
  }
  return { fields, definition };
}
