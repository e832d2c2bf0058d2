/**
 * Whether two topology records (an exchange, queue, binding or policy spec) say the same, whatever the
 * order of their keys: a redeclaration that changes nothing must leave a shared record, and every reader's
 * copy, alone.
 *
 * @module
 */
import { stableStringify } from '@wakame/core/spi';

export function sameRecord(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}
