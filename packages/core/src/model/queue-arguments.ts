/**
 * Validation of the typed queue arguments, and their mapping to and from RabbitMQ's `x-*` argument
 * table. The mapping runs both ways: declarations are compared on the broker table (so `maxPriority`
 * and a raw `x-max-priority` of the same value declare the same queue), and stores and transports
 * that read raw tables back lift them into typed fields to apply their meaning. Which arguments exist
 * is defined once, in the argument table.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import {
  type ArgumentDefinition,
  QUEUE_ARGUMENT_ENTRIES,
  QUEUE_ARGUMENTS,
  type QueueArgumentKey,
} from './argument-table.js';
import { checkCount, checkName } from './names.js';
import type { QueueArguments, QueueSpec } from './specs.js';

/** RabbitMQ caps `x-max-priority` at 255. */
export const MAX_PRIORITY = QUEUE_ARGUMENTS.maxPriority.max;

/** Every typed queue argument, in the order declarations list them (`Queue.toJSON` keeps it). */
export const QUEUE_ARGUMENT_KEYS: readonly QueueArgumentKey[] = QUEUE_ARGUMENT_ENTRIES.map(([key]) => key);

type PlainQueueArgument = Exclude<QueueArgumentKey, 'deadLetter'>;

/** The typed queue arguments whose values are copied as they are (all but `deadLetter`, an object). */
export const PLAIN_QUEUE_ARGUMENTS: readonly PlainQueueArgument[] = QUEUE_ARGUMENT_ENTRIES.filter(
  (entry): entry is readonly [PlainQueueArgument, (typeof entry)[1]] => entry[1].kind !== 'target',
).map(([key]) => key);

type MutableArguments = { -readonly [K in keyof QueueArguments]: QueueArguments[K] };
type Loose = Record<string, unknown>;

/** Validates the typed queue arguments, returning a frozen copy with only the fields that are set. */
export function checkQueueArguments(queue: string, args: QueueArguments): QueueArguments {
  const where = `queue '${queue}'`;
  const out: Loose = {};
  for (const [key, def] of QUEUE_ARGUMENT_ENTRIES) {
    const value = (args as Loose)[key];
    if (value === undefined) continue;
    switch (def.kind) {
      case 'count': {
        const what = `${where}: ${key}${def.unit === undefined ? '' : ` (${def.unit})`}`;
        out[key] = checkCount(value, what, def.min, def.max);
        break;
      }
      case 'enum':
        if (!def.values.includes(value as string)) {
          throw new InvalidArgumentError(
            `${where}: ${key} must be one of ${def.values.join(', ')}, got '${String(value)}'`,
          );
        }
        out[key] = value;
        break;
      case 'flag':
        if (typeof value !== 'boolean') throw new InvalidArgumentError(`${where}: ${key} must be a boolean`);
        out[key] = value;
        break;
      case 'target': {
        const { exchange, routingKey } = value as { exchange: unknown; routingKey?: unknown };
        checkName('exchange', exchange);
        out[key] = Object.freeze(routingKey === undefined ? { exchange } : { exchange, routingKey });
        break;
      }
    }
  }
  return Object.freeze(out as MutableArguments);
}

/**
 * The RabbitMQ `x-*` argument table of a queue: raw arguments overlaid with the typed ones.
 * Queue equivalence is decided on this table, so two declarations that mean the same compare equal.
 */
export function toBrokerArguments(spec: QueueSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { ...spec.arguments };
  for (const [key, def] of QUEUE_ARGUMENT_ENTRIES) {
    const value = (spec as unknown as Loose)[key];
    if (value === undefined) continue;
    if (def.kind === 'target') {
      const { exchange, routingKey } = value as { exchange: string; routingKey?: string };
      out[def.broker] = exchange;
      if (routingKey !== undefined) out[def.routingKeyBroker] = routingKey;
    } else out[def.broker] = value;
  }
  return out;
}

/** Broker argument → the typed argument it feeds (a target's routing key feeds the target too). */
interface BrokerName {
  readonly key: QueueArgumentKey;
  readonly def: ArgumentDefinition;
  readonly part: 'value' | 'routingKey';
}
const BY_BROKER_NAME = new Map<string, BrokerName>(
  QUEUE_ARGUMENT_ENTRIES.flatMap(([key, def]): [string, BrokerName][] => [
    [def.broker, { key, def, part: 'value' }],
    ...(def.kind === 'target'
      ? [[def.routingKeyBroker, { key, def, part: 'routingKey' }] as [string, BrokerName]]
      : []),
  ]),
);

/**
 * The inverse of {@link toBrokerArguments}: lifts known `x-*` arguments into typed fields and
 * leaves the rest raw. Lets stores and transports that receive raw tables apply the semantics.
 */
export function fromBrokerArguments(
  table: Readonly<Record<string, unknown>>,
): QueueArguments & { arguments: Record<string, unknown> } {
  const raw: Record<string, unknown> = {};
  const typed: Loose = {};
  const targets = new Map<QueueArgumentKey, { exchange?: string; routingKey?: string }>();
  for (const [name, value] of Object.entries(table)) {
    const known = BY_BROKER_NAME.get(name);
    if (known === undefined) {
      raw[name] = value;
      continue;
    }
    const { key, def, part } = known;
    switch (def.kind) {
      case 'count':
        typed[key] = Number(value);
        break;
      case 'enum':
        typed[key] = value;
        break;
      case 'flag':
        typed[key] = Boolean(value);
        break;
      case 'target': {
        const target = targets.get(key) ?? {};
        if (part === 'value') target.exchange = String(value);
        else target.routingKey = String(value);
        targets.set(key, target);
        break;
      }
    }
  }
  for (const [key, { exchange, routingKey }] of targets) {
    const def = QUEUE_ARGUMENTS[key] as { readonly routingKeyBroker: string };
    if (exchange !== undefined) typed[key] = routingKey === undefined ? { exchange } : { exchange, routingKey };
    else if (routingKey !== undefined) raw[def.routingKeyBroker] = routingKey;
  }
  return { ...(typed as MutableArguments), arguments: raw };
}
