/**
 * How the {@link Publisher} fails publishes past their deadline, with an error that says how far each
 * got: a waiting one was never sent, a held one waited for a queue that did not come back, an
 * in-flight one may or may not have arrived.
 *
 * @module
 */
import { QueueUnavailableError, TimeoutError } from '@wakame/core/spi';
import { finish, type Pending } from './pending-publish.js';

/** The publisher's publishes, by where they are. */
export interface PublishQueues {
  /** Written to no channel yet. */
  readonly waiting: Pending[];
  /** Held until a queue on their route is available again. */
  readonly held: Pending[];
  /** Written and not yet confirmed, in publish order. */
  readonly inflight: Set<Pending>;
}

/**
 * Fails (and removes) the publishes past their deadline at `now`, and drops settled ones from the waiting and
 * held lists. `unavailableOn` says which unavailable queue a held publish waited for.
 */
export function expireOverdue(
  queues: PublishQueues,
  now: number,
  timeoutMs: number,
  unavailableOn: (p: Pending) => QueueUnavailableError | undefined,
): void {
  const { waiting, held, inflight } = queues;
  for (let i = waiting.length - 1; i >= 0; i--) {
    const p = waiting[i] as Pending;
    if (p.done) waiting.splice(i, 1);
    else if (p.deadline <= now) {
      waiting.splice(i, 1);
      finish(p, new TimeoutError(`message not sent within ${timeoutMs} ms: the broker was unreachable or blocked`));
    }
  }
  for (let i = held.length - 1; i >= 0; i--) {
    const p = held[i] as Pending;
    if (p.done) held.splice(i, 1);
    else if (p.deadline <= now) {
      held.splice(i, 1);
      finish(p, heldTooLong(unavailableOn(p), timeoutMs));
    }
  }
  for (const p of inflight) {
    if (p.deadline > now) break; // in publish order: the rest are younger
    inflight.delete(p);
    finish(p, new TimeoutError(`no publisher confirm within ${timeoutMs} ms; the message may or may not have arrived`));
  }
}

/** A held publish past its deadline: the queue's own error says which queue and why. */
function heldTooLong(cause: QueueUnavailableError | undefined, timeoutMs: number): Error {
  if (cause === undefined) return new TimeoutError(`message not sent within ${timeoutMs} ms`);
  const why = `${cause.reason}; the message was not sent within ${timeoutMs} ms`;
  return new QueueUnavailableError(cause.queue, why, { cause });
}
