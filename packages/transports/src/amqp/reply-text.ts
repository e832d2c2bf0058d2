/**
 * What RabbitMQ's reply texts say beyond their code: the entity a 404 names, and the entity and
 * property an "inequivalent arg" 406 is about, with both values converted back to data.
 *
 * @module
 */
import type { EntityKind } from '@wakame/core/spi';

/** One difference reported by RabbitMQ: `expected` is what was declared now, `actual` what exists. */
export interface Inequivalence {
  readonly entity: { kind: EntityKind; name: string };
  readonly differences: { property: string; expected: unknown; actual: unknown }[];
}

/** RabbitMQ prefixes reply texts with the code's name ("NOT_FOUND - no queue 'q' in vhost '/'"). */
export const NAME_PREFIX = /^[A-Z_]+ - /;

/** amqplib's rendering of a close frame: `404 (NOT-FOUND) with message "NOT_FOUND - …"`. */
export const CLOSE_FRAME = /(\d{3}) \([A-Z-]+\) with message "([\s\S]*)"\s*$/;

/** The reply text itself, whether given bare or inside amqplib's error message. */
function replyTextOf(text: string): string {
  return CLOSE_FRAME.exec(text)?.[2] ?? text;
}

/** A value as RabbitMQ prints it in an inequivalence: `none`, `'v'` or `the value 'v' of type 't'`. */
const VALUE = String.raw`none|the value '[\s\S]*?' of type '\w+'|'[\s\S]*?'`;
const INEQUIVALENT = new RegExp(
  String.raw`inequivalent arg '([^']+)' for (queue|exchange) '([\s\S]*)' in vhost '[\s\S]*?': received (${VALUE}) but current is (${VALUE})$`,
);

/** AMQP field-table types RabbitMQ names in "of type '…'" that hold numbers. */
const NUMERIC_TYPES = new Set(
  'byte unsignedbyte short unsignedshort signedint unsignedint long float double decimal timestamp'.split(' '),
);

/** Arguments whose values are names: "123" there is a string, not a number. */
const STRING_PROPERTIES = new Set([
  ...['type', 'alternate-exchange', 'x-overflow', 'x-queue-type', 'x-queue-mode'],
  ...['x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-dead-letter-strategy'],
  ...['x-queue-master-locator', 'x-queue-leader-locator'],
]);

/** Declaration fields (RabbitMQ's snake-case names); every other name is an entry of the argument table. */
const TOP_LEVEL = new Set(['durable', 'auto_delete', 'exclusive', 'internal', 'type']);

function convertValue(printed: string, property: string): unknown {
  if (printed === 'none') return undefined;
  const typed = /^the value '([\s\S]*)' of type '(\w+)'$/.exec(printed);
  const raw = typed ? (typed[1] ?? '') : printed.slice(1, -1);
  const type = typed?.[2];
  if (type === 'bool' || (type === undefined && (raw === 'true' || raw === 'false'))) return raw === 'true';
  if (type !== undefined ? NUMERIC_TYPES.has(type) : !STRING_PROPERTIES.has(property)) {
    const n = Number(raw);
    if (raw.trim() !== '' && Number.isFinite(n)) return n;
  }
  return raw;
}

/**
 * Parses RabbitMQ's "inequivalent arg" reply text into the entity and the differing property.
 *
 * RabbitMQ words it from the broker's side: "received" is what this client declared (`expected`), "current" is
 * what exists (`actual`). Top-level fields get Wakame's names (`auto_delete` → `autoDelete`); arguments become
 * `arguments.<name>`, as the virtual transport reports them. Values are converted back to data: numbers,
 * booleans, `none` → `undefined`, strings unquoted.
 *
 * @param replyText - The reply text, bare or as amqplib embeds it in its error message.
 * @returns `undefined` when the text is not an inequivalence.
 */
export function parseInequivalence(replyText: string): Inequivalence | undefined {
  const m = INEQUIVALENT.exec(replyTextOf(replyText));
  if (!m) return undefined;
  const [, arg = '', kind = 'queue', name = '', received = 'none', current = 'none'] = m;
  const property = arg === 'auto_delete' ? 'autoDelete' : TOP_LEVEL.has(arg) ? arg : `arguments.${arg}`;
  return {
    entity: { kind: kind as EntityKind, name },
    differences: [{ property, expected: convertValue(received, arg), actual: convertValue(current, arg) }],
  };
}

/**
 * Parses the entity out of a 404 reply text: "NOT_FOUND - no exchange 'x' in vhost '/'" or "… no queue 'q' …".
 *
 * @returns `undefined` when the text names no exchange or queue.
 */
export function parseNotFound(replyText: string): { kind: EntityKind; name: string } | undefined {
  const m = /\bno (queue|exchange) '([\s\S]*)' in vhost '/.exec(replyTextOf(replyText));
  return m ? { kind: m[1] as EntityKind, name: m[2] ?? '' } : undefined;
}
