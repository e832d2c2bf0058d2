/**
 * RabbitMQ headers-exchange matching.
 *
 * A headers binding's arguments are the headers to look for, plus `x-match`:
 *
 * - `'all'` (also the fallback for a missing or unknown value, as in RabbitMQ): every header must match;
 * - `'any'`: at least one must;
 * - `'all-with-x'` / `'any-with-x'`: the same, but arguments whose name starts with `x-` take part too.
 *
 * With plain `all`/`any` every `x-` argument is ignored; `x-match` itself is always ignored. A header matches when
 * the message has it with an equal value. As in RabbitMQ, an argument without a value (`null` or `undefined` here,
 * AMQP's void) only asks for the header to be present. Left with no arguments to check, `all` matches every
 * message and `any` matches none.
 *
 * @module
 */

/** A compiled headers binding, reusable for any number of messages. */
export interface HeadersPattern {
  /** Whether a message with `messageHeaders` matches the binding. */
  matches(messageHeaders: Readonly<Record<string, unknown>> | undefined): boolean;
}

/** One argument that takes part in matching. */
interface Condition {
  readonly name: string;
  /** Void argument: the header only has to exist. */
  readonly presence: boolean;
  readonly value: unknown;
}

const hasOwn = Object.hasOwn;

/**
 * Value equality for header values. Numbers compare by value, also across `number` and `bigint` (a 64-bit AMQP
 * integer may decode as either); byte arrays compare by content, dates by instant, arrays and plain objects
 * (AMQP arrays and tables) element by element.
 */
function valueEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'bigint' && typeof b === 'number') return Number.isInteger(b) && a === BigInt(b);
  if (typeof a === 'number' && typeof b === 'bigint') return Number.isInteger(a) && BigInt(a) === b;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valueEquals(a[i], b[i])) return false;
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  for (const key of keys) {
    if (!hasOwn(right, key) || !valueEquals(left[key], right[key])) return false;
  }
  return true;
}

function conditionHolds(condition: Condition, headers: Readonly<Record<string, unknown>>): boolean {
  if (!hasOwn(headers, condition.name)) return false;
  return condition.presence || valueEquals(condition.value, headers[condition.name]);
}

class AllPattern implements HeadersPattern {
  constructor(private readonly conditions: readonly Condition[]) {}
  matches(messageHeaders: Readonly<Record<string, unknown>> | undefined): boolean {
    if (this.conditions.length === 0) return true;
    if (messageHeaders === undefined) return false;
    for (const condition of this.conditions) if (!conditionHolds(condition, messageHeaders)) return false;
    return true;
  }
}

class AnyPattern implements HeadersPattern {
  constructor(private readonly conditions: readonly Condition[]) {}
  matches(messageHeaders: Readonly<Record<string, unknown>> | undefined): boolean {
    if (messageHeaders === undefined) return false;
    for (const condition of this.conditions) if (conditionHolds(condition, messageHeaders)) return true;
    return false;
  }
}

/**
 * Compiles a headers binding's arguments once (reading `x-match` and selecting the arguments that take part), so
 * that routing only compares values. An unknown `x-match` value falls back to `'all'` as RabbitMQ's router does;
 * rejecting it is the job of whoever validates the binding when it is made.
 */
export function compileHeaders(bindingArguments: Readonly<Record<string, unknown>>): HeadersPattern {
  const mode = bindingArguments['x-match'];
  const any = mode === 'any' || mode === 'any-with-x';
  const withX = mode === 'all-with-x' || mode === 'any-with-x';
  const conditions: Condition[] = [];
  for (const name of Object.keys(bindingArguments)) {
    if (name === 'x-match' || (!withX && name.startsWith('x-'))) continue;
    const value = bindingArguments[name];
    conditions.push({ name, presence: value === null || value === undefined, value });
  }
  return any ? new AnyPattern(conditions) : new AllPattern(conditions);
}

/**
 * Whether a message with `messageHeaders` matches a headers binding with `bindingArguments`. Compiles on every
 * call; code that checks one binding repeatedly should hold on to {@link compileHeaders}'s result instead.
 *
 * @example
 * headersMatch({ 'x-match': 'any', format: 'pdf', type: 'report' }, { type: 'report' }); // true
 */
export function headersMatch(
  bindingArguments: Readonly<Record<string, unknown>>,
  messageHeaders: Readonly<Record<string, unknown>> | undefined,
): boolean {
  return compileHeaders(bindingArguments).matches(messageHeaders);
}
