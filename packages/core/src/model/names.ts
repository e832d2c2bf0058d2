/**
 * Input checks shared by the broker model and the options of the messaging layer. Exchange names,
 * queue names and routing keys are AMQP short strings (at most 255 bytes); checking them when a
 * declaration is built reports a bad name where it was written, not as a broker error at the first
 * declare.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';

/** AMQP short strings are at most 255 bytes. */
const MAX_NAME_BYTES = 255;

/** Checks an exchange or queue name; `''` is allowed (default exchange / server-named queue). */
export function checkName(kind: 'exchange' | 'queue', name: unknown): string {
  if (typeof name !== 'string') {
    throw new InvalidArgumentError(`${kind} name must be a string, got ${typeof name}`);
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw new InvalidArgumentError(`${kind} name '${name.slice(0, 40)}…' is longer than ${MAX_NAME_BYTES} bytes`);
  }
  return name;
}

/** Checks a routing or binding key (an AMQP short string). */
export function checkRoutingKey(key: unknown, what = 'routing key'): string {
  if (typeof key !== 'string') {
    throw new InvalidArgumentError(`${what} must be a string, got ${typeof key}`);
  }
  if (Buffer.byteLength(key, 'utf8') > MAX_NAME_BYTES) {
    throw new InvalidArgumentError(`${what} '${key.slice(0, 40)}…' is longer than ${MAX_NAME_BYTES} bytes`);
  }
  return key;
}

/** Checks an optional non-negative integer option. */
export function checkCount(value: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Brokers reserve the `amq.` prefix: such entities can be used and checked, not declared. */
export function isReservedName(name: string): boolean {
  return name.startsWith('amq.');
}
