/**
 * Reading the claim script's reply (`lua/claim.lua`): `[moved_aside, listIndex, element, …]`, where a
 * message whose body was over the receiver's bound comes as `-listIndex, bodyBytes, element without
 * its body`. Kept apart from the store so the store holds only what needs its state.
 *
 * @module
 */
import type { StoredMessage } from '@wakame/core/spi';
import { decodeEnvelope } from '../internal/kombu-envelope.js';

/** One claimed element: the list it came from (1-based, as in the script's KEYS order) and the message. */
export interface ClaimedElement {
  readonly index: number;
  /** The element as it was in the list; undefined when its body stayed in Redis (over the bound). */
  readonly raw: string | undefined;
  readonly message: StoredMessage;
}

/**
 * The messages of a claim reply. `priorityOf(index)` is the queue-effective priority of list `index`.
 * @throws EnvelopeError for an element that is not a kombu envelope (the script moves those aside first).
 */
export function readClaimReply(
  reply: readonly (number | string)[],
  priorityOf: (index: number) => number,
): ClaimedElement[] {
  const out: ClaimedElement[] = [];
  for (let i = 1; i < reply.length; i += 2) {
    const index = reply[i] as number;
    if (index < 0) {
      // A body over the bound: the element came without it, its size in between.
      const withheldBodyBytes = Number(reply[i + 1]);
      const message = decodeEnvelope(reply[i + 2] as string, priorityOf(-index));
      out.push({ index: -index, raw: undefined, message: { ...message, withheldBodyBytes } });
      i++;
    } else {
      const raw = reply[i + 1] as string;
      out.push({ index, raw, message: decodeEnvelope(raw, priorityOf(index)) });
    }
  }
  return out;
}
