// Errors of the messaging objects themselves (declarations, messages, pools, simple queues), not of the broker.

import { WakameError } from './wakame-error.js';

/** A declaration was used for a broker operation before being attached to a connection (kombu's NotBoundError). */
export class NotBoundError extends WakameError {
  override readonly name = 'NotBoundError';
  readonly code = 'ERR_NOT_BOUND';
}

/** Settling a message that is already settled, or that cannot be settled. */
export class MessageStateError extends WakameError {
  override readonly name = 'MessageStateError';
  readonly code = 'ERR_MESSAGE_STATE';
}

/** A pool has no free resource within the wait allowed. */
export class ResourceLimitError extends WakameError {
  override readonly name = 'ResourceLimitError';
  readonly code = 'ERR_RESOURCE_LIMIT';
  override readonly retriable = true;
}

/**
 * No message was available: a `getNowait()` on an empty queue, or a `get()` that waited its whole
 * timeout (kombu's `Empty`). Not a {@link TimeoutError}: nothing is wrong with the connection, so
 * `Connection.ensure` must not reconnect over it. Retriable, as a later attempt may find a message.
 */
export class QueueEmptyError extends WakameError {
  override readonly name = 'QueueEmptyError';
  readonly code = 'ERR_QUEUE_EMPTY';
  override readonly retriable = true;
  constructor(
    readonly queue: string,
    message: string,
  ) {
    super(message);
  }
}
