/**
 * RabbitMQ's equivalence rules: when re-declaring an existing exchange or queue is a no-op and when
 * it is a conflict. The virtual transport uses them to refuse a conflicting declaration as RabbitMQ
 * would, and the topology planner to tell an unchanged entity from one that must be re-created. Each
 * difference is reported by property, so an error or a plan can say exactly what differs.
 *
 * @module
 */
import { stableStringify } from '../internal/stable-stringify.js';
import { toBrokerArguments } from './queue-arguments.js';
import type { ExchangeSpec, QueueSpec } from './specs.js';

/** One property where a re-declaration differs from what exists. */
export interface Difference {
  readonly property: string;
  readonly expected: unknown;
  readonly actual: unknown;
}

/**
 * What makes two exchange declarations non-equivalent, by RabbitMQ's rules: type, durability,
 * auto-delete, internal and the argument table (the alternate exchange is an argument there).
 */
export function exchangeDifferences(declared: ExchangeSpec, existing: ExchangeSpec): Difference[] {
  const out: Difference[] = [];
  for (const property of ['type', 'durable', 'autoDelete', 'internal'] as const) {
    if (declared[property] !== existing[property]) {
      out.push({ property, expected: declared[property], actual: existing[property] });
    }
  }
  diffTables(exchangeArguments(declared), exchangeArguments(existing), out);
  return out;
}

/** Queue equivalence: durable, exclusive, auto-delete and the effective `x-*` argument table. */
export function queueDifferences(declared: QueueSpec, existing: QueueSpec): Difference[] {
  const out: Difference[] = [];
  for (const property of ['durable', 'exclusive', 'autoDelete'] as const) {
    if (declared[property] !== existing[property]) {
      out.push({ property, expected: declared[property], actual: existing[property] });
    }
  }
  diffTables(toBrokerArguments(declared), toBrokerArguments(existing), out);
  return out;
}

/** The exchange's argument table with `alternateExchange` folded in, as a broker stores it. */
export function exchangeArguments(spec: ExchangeSpec): Record<string, unknown> {
  const args: Record<string, unknown> = { ...spec.arguments };
  if (spec.alternateExchange !== undefined) args['alternate-exchange'] = spec.alternateExchange;
  return args;
}

function diffTables(declared: Record<string, unknown>, existing: Record<string, unknown>, out: Difference[]): void {
  const keys = new Set([...Object.keys(declared), ...Object.keys(existing)]);
  for (const key of [...keys].sort()) {
    if (stableStringify(declared[key]) !== stableStringify(existing[key])) {
      out.push({ property: `arguments.${key}`, expected: declared[key], actual: existing[key] });
    }
  }
}
