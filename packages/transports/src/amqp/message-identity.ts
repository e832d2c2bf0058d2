/**
 * What makes two copies of a message "the same message" during a queue migration (see
 * `migrate-queue.ts`): while bindings are handed over, one publish can reach both the old queue and
 * the holding queue, and the migration must keep exactly one of the two copies.
 *
 * The identity is the `message_id` when the publisher set one; else a SHA-256 over the body and the
 * properties and headers the broker copies unchanged into every queue a publish reaches. Headers a
 * broker adds or rewrites after routing (a quorum queue's delivery count, dead-lettering history,
 * shovel/federation provenance) are left out: the twin in the other queue does not have them.
 * Content identity cannot tell apart two publishes of byte-identical messages without an id; the
 * migration only compares copies routed within the same few milliseconds (the handover), which
 * narrows but does not remove that ambiguity. Publishers that need certainty set `message_id`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Message, MessageProperties } from 'amqplib';

/** The header that marks a migration's fence message; its value is the migration id. */
export const FENCE_HEADER = 'x-wakame-fence';

/** Headers the broker adds to one copy and not the other (never part of an identity). */
const VOLATILE_HEADERS = new Set([
  'x-delivery-count',
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-received-from',
  'x-shovelled',
  'x-shovelled-timestamp',
]);

/** The stable AMQP properties, in a fixed order (the hash must not depend on decoding order). */
const STABLE_PROPERTIES = [
  'contentType',
  'contentEncoding',
  'deliveryMode',
  'priority',
  'correlationId',
  'replyTo',
  'expiration',
  'messageId',
  'timestamp',
  'type',
  'userId',
  'appId',
] as const satisfies readonly (keyof MessageProperties)[];

/** The identity of a message: `id:<message_id>`, else `sha256:<hex>` of its content. */
export function messageIdentity(message: Pick<Message, 'content' | 'properties'>): string {
  const id = message.properties.messageId;
  if (id !== undefined && id !== null && String(id) !== '') return `id:${String(id)}`;
  const hash = createHash('sha256');
  const props: unknown[] = STABLE_PROPERTIES.map((key) => message.properties[key] ?? null);
  const headers = Object.entries((message.properties.headers ?? {}) as Record<string, unknown>)
    .filter(([key]) => !VOLATILE_HEADERS.has(key))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  hash.update(canonical([props, headers]));
  hash.update('\0');
  hash.update(message.content);
  return `sha256:${hash.digest('hex')}`;
}

/** Whether `message` is the fence of migration `id`. */
export function isFence(message: Pick<Message, 'properties'>, id: string): boolean {
  const value = (message.properties.headers as Record<string, unknown> | undefined)?.[FENCE_HEADER];
  return value !== undefined && String(value) === id;
}

/** A multiset of identities: each copy seen once can excuse exactly one twin. */
export class IdentityMultiset {
  readonly #counts = new Map<string, number>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(identity: string): void {
    this.#counts.set(identity, (this.#counts.get(identity) ?? 0) + 1);
    this.#size++;
  }

  /** Removes one occurrence; whether there was one. */
  take(identity: string): boolean {
    const count = this.#counts.get(identity);
    if (count === undefined) return false;
    if (count === 1) this.#counts.delete(identity);
    else this.#counts.set(identity, count - 1);
    this.#size--;
    return true;
  }
}

/**
 * A deterministic text for header values: JSON with object keys sorted, Buffers as hex, and the
 * numeric types amqplib may decode to (bigint) as strings.
 */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (o.type === 'Buffer' && Array.isArray(o.data)) return `buf:${Buffer.from(o.data as number[]).toString('hex')}`;
      return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}
