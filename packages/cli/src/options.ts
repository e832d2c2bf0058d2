/**
 * Parsers for numeric command-line options, as commander `argParser`s: commander hands each value
 * over as a string, the parser returns the number the command uses. A bad value is a usage error
 * naming the flag and what it accepts (exit code 64), never a silently misread number: `Number('')`
 * is 0 and `Number('1e3')` 1000, so only plain decimal digits are accepted.
 *
 * Commander does not run parsers on default values: give defaults as numbers.
 *
 * Also {@link collect}, the parser of repeatable string options, and {@link bindAddress}.
 *
 * @module
 */
import { InvalidArgumentError } from 'commander';

/** Bounds of a numeric option, inclusive. */
export interface Range {
  readonly min?: number;
  readonly max?: number;
}

/** The longest wait a timer can express (setTimeout's 2^31 - 1 ms), in whole seconds. */
export const MAX_SECONDS = 2_147_483;

const INTEGER_RE = /^[+-]?\d+$/;
const DECIMAL_RE = /^\d+(\.\d+)?$/;

/** An integer option within `[min, max]` (default: any safe integer). */
export function integer(flag: string, range: Range = {}): (value: string) => number {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
  return (value) => {
    const n = INTEGER_RE.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} takes an integer${describeRange(min, max)}, not '${value}'.`);
    }
    return n;
  };
}

/** An integer ≥ 1. */
export function positiveInteger(flag: string): (value: string) => number {
  return integer(flag, { min: 1 });
}

/** A duration in seconds (decimals allowed) within `[min, max]` (default: 0 to {@link MAX_SECONDS}). */
export function seconds(flag: string, range: Range = {}): (value: string) => number {
  const { min = 0, max = MAX_SECONDS } = range;
  return (value) => {
    const n = DECIMAL_RE.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} takes a number of seconds${describeRange(min, max)}, not '${value}'.`);
    }
    return n;
  };
}

/**
 * A number within `range` or a name (`send --priority high|5`): a value that looks like a number
 * (digits, a sign or a decimal point) must be an integer in range; anything else is returned as the name.
 */
export function integerOrName(flag: string, range: Range): (value: string) => number | string {
  const asInteger = integer(flag, range);
  return (value) => {
    if (!/^\s*[+-]?[\d.]/.test(value)) return value;
    try {
      return asInteger(value);
    } catch {
      throw new InvalidArgumentError(
        `${flag} takes a name or an integer${describeRange(range.min, range.max)}, not '${value}'.`,
      );
    }
  };
}

/** Collects a repeatable option's values (`--header a=1 --header b=2`); give `[]` as its default. */
export function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}

/** An address to bind (`127.0.0.1`, `0.0.0.0`, `::1`, a host name): anything but blank or spaced. */
export function bindAddress(flag: string): (value: string) => string {
  return (value) => {
    const address = value.trim();
    if (address === '' || /\s/.test(address)) {
      throw new InvalidArgumentError(`${flag} takes an address to bind (e.g. 127.0.0.1 or 0.0.0.0), not '${value}'.`);
    }
    return address;
  };
}

/** ` from 1 to 10`, ` ≥ 1`, ` ≤ 10`, or nothing for an unbounded side (with its leading space). */
function describeRange(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): string {
  const hasMin = min > Number.MIN_SAFE_INTEGER;
  const hasMax = max < Number.MAX_SAFE_INTEGER;
  if (hasMin && hasMax) return ` from ${min} to ${max}`;
  if (hasMin) return ` ≥ ${min}`;
  if (hasMax) return ` ≤ ${max}`;
  return '';
}
