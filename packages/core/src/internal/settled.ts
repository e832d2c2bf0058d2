/**
 * The one promise that stands for "already done". Operations that finished synchronously (an in-memory
 * settle or publish, an AMQP ack written into the channel's batch) return it, so that a caller on the per-message path can tell, by identity, that there
 * is nothing to wait for and go on synchronously: a `then` on it would still cost a promise, a closure and a
 * microtask hop per message.
 *
 * @module
 */

/** Already resolved; returned (never created anew) by whatever finished synchronously. */
export const SETTLED: Promise<void> = Promise.resolve();

/** Whether `promise` is {@link SETTLED}: done already, nothing to wait for. */
export function isSettled(promise: Promise<unknown>): boolean {
  return promise === SETTLED;
}
