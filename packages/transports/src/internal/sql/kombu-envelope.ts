/**
 * kombu's JSON envelope as its SQLAlchemy transport stores it: the `payload` text of a `kombu_message`
 * row, written with Python's `json.dumps` (the same bytes as a Redis list element, so the Redis
 * transport's encoder and decoder serve here too; see `../kombu-envelope.ts`).
 *
 * What differs from Redis is the priority. kombu's SQL transport keeps no priority order: the envelope's
 * `"priority"` is the publisher's AMQP-style number, passed through untouched. So a kombu priority k > 0
 * reads as Wakame priority k, kombu's default 0 (every kombu publish writes it) as none, and a Wakame
 * priority p is written as p (none as 0). The one value that cannot travel that way, an explicit Wakame
 * 0, rides in the envelope's `wakame.priority`, which kombu passes through.
 *
 * kombu marks a message it puts back (a reject with requeue, unacked messages of a closed channel) with a
 * top-level `"redelivered": true` in a fresh copy; Wakame reads that too, and marks its own requeues as
 * kombu's Redis transport does (`delivery_info.redelivered`), which kombu's SQL consumers ignore.
 *
 * @module
 */
import type { StoredMessage } from '@wakame/core/spi';
import { decodeEnvelope, encodeEnvelope } from '../kombu-envelope.js';

/** The kombu priority of an envelope as a Wakame priority: kombu's default 0 is none, k > 0 is k. */
export function sqlPriorityOf(kombu: unknown): number | undefined {
  return typeof kombu === 'number' && Number.isInteger(kombu) && kombu > 0 ? kombu : undefined;
}

/** The `payload` kombu would have written for `message`. */
export function encodeKombuPayload(message: StoredMessage): string {
  const priority = message.properties.priority;
  const wire = typeof priority === 'number' && Number.isInteger(priority) && priority > 0 ? priority : 0;
  return encodeEnvelope(message, wire, sqlPriorityOf);
}

/**
 * A `payload` written by kombu or Wakame as a stored message. The queue keeps no priority order, so the
 * queue-effective priority is 0.
 * @throws EnvelopeError when the payload is not a kombu envelope.
 */
export function decodeKombuPayload(payload: string): StoredMessage {
  const message = decodeEnvelope(payload, 0, sqlPriorityOf);
  if (message.redelivered || !payload.includes('"redelivered": true')) return message;
  // kombu's restore marks the copy at the top level (`message['redelivered'] = True`).
  const top = (JSON.parse(payload) as { redelivered?: unknown }).redelivered;
  return top === true ? { ...message, redelivered: true } : message;
}
