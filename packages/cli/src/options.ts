/**
 * Parsers for numeric command-line options. A bad value is a usage error naming the flag and what
 * it accepts (commander reports it, exit code 64), never a silently misread number.
 *
 * @module
 */
import { InvalidArgumentError } from 'commander';

/** An integer option within `[min, max]`. */
export function integer(
  flag: string,
  range: { readonly min?: number; readonly max?: number } = {},
): (value: string) => number {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
  return (value) => {
    const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} takes an integer ${describeRange(min, max)}, not '${value}'.`);
    }
    return n;
  };
}

/** An integer ≥ 1. */
export function positiveInteger(flag: string): (value: string) => number {
  return integer(flag, { min: 1 });
}

/** A duration in seconds (decimals allowed), ≥ 0. */
export function seconds(flag: string): (value: string) => number {
  return (value) => {
    const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${flag} takes a number of seconds ≥ 0, not '${value}'.`);
    return n;
  };
}

function describeRange(min: number, max: number): string {
  if (min > Number.MIN_SAFE_INTEGER && max < Number.MAX_SAFE_INTEGER) return `from ${min} to ${max}`;
  if (min > Number.MIN_SAFE_INTEGER) return `≥ ${min}`;
  if (max < Number.MAX_SAFE_INTEGER) return `≤ ${max}`;
  return '';
}
