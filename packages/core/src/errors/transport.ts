// Failures talking to a broker, each saying how far recovery must reach, and the retry policy's giving up on them.

import type { EntityKind } from './topology.js';
import { WakameError } from './wakame-error.js';

/** How much must be rebuilt before an operation that failed with this error can be retried. */
export type RecoveryScope = 'connection' | 'channel' | 'none';

/** Base of failures talking to a broker. Retriable unless a subclass says otherwise. */
export class TransportError extends WakameError {
  override readonly name: string = 'TransportError';
  readonly code: string = 'ERR_TRANSPORT';
  override readonly retriable: boolean = true;
  /** What must be rebuilt before retrying. */
  readonly recovery: RecoveryScope = 'connection';
}

/** The connection failed or was lost; reconnect before retrying. */
export class ConnectionError extends TransportError {
  override readonly name: string = 'ConnectionError';
  override readonly code: string = 'ERR_CONNECTION';
}

/** The connection is closed (by us or by the broker). */
export class ConnectionClosedError extends ConnectionError {
  override readonly name = 'ConnectionClosedError';
  override readonly code = 'ERR_CONNECTION_CLOSED';
}

/** Authentication or authorisation failed (AMQP 403). Retrying will not help. */
export class AccessRefusedError extends ConnectionError {
  override readonly name = 'AccessRefusedError';
  override readonly code = 'ERR_ACCESS_REFUSED';
  override readonly retriable = false;
  override readonly recovery: RecoveryScope = 'none';
}

/** A channel-level failure: reopen the channel, the connection is fine. */
export class ChannelError extends TransportError {
  override readonly name: string = 'ChannelError';
  override readonly code: string = 'ERR_CHANNEL';
  override readonly recovery: RecoveryScope = 'channel';
}

/** The exchange or queue does not exist (AMQP 404). */
export class NotFoundError extends ChannelError {
  override readonly name = 'NotFoundError';
  override readonly code = 'ERR_NOT_FOUND';
  override readonly retriable = false;
  override readonly recovery: RecoveryScope = 'none';
  constructor(
    readonly entity: { readonly kind: EntityKind; readonly name: string },
    options?: ErrorOptions,
  ) {
    super(`${entity.kind} '${entity.name}' not found`, options);
  }
}

/**
 * The queue exists but cannot be used right now: a classic queue whose node is down, a quorum queue without a
 * leader (AMQP 404 "home node … is down or inaccessible"). Unlike {@link NotFoundError} it is retriable: the
 * queue comes back with its node, and nothing about it must be re-created (a plan must never offer to).
 */
export class QueueUnavailableError extends ChannelError {
  override readonly name = 'QueueUnavailableError';
  override readonly code = 'ERR_QUEUE_UNAVAILABLE';
  override readonly retriable = true;
  override readonly recovery: RecoveryScope = 'channel';
  constructor(
    readonly queue: string,
    /** The broker's own words (names the node, when it says). */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`queue '${queue}' exists but is unavailable: ${reason}`, options);
  }
}

/** The broker refused an operation whose precondition does not hold (delete `ifEmpty` of a non-empty queue). */
export class PreconditionFailedError extends ChannelError {
  override readonly name = 'PreconditionFailedError';
  override readonly code = 'ERR_PRECONDITION_FAILED';
  override readonly retriable = false;
  override readonly recovery: RecoveryScope = 'none';
}

/** A `mandatory` publish that no queue could receive (AMQP basic.return). */
export class UnroutableError extends ChannelError {
  override readonly name = 'UnroutableError';
  override readonly code = 'ERR_UNROUTABLE';
  override readonly retriable = false;
  override readonly recovery: RecoveryScope = 'none';
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    reason = 'no queue is bound for it',
  ) {
    super(`message to exchange '${exchange || '(default)'}' with routing key '${routingKey}' is unroutable: ${reason}`);
  }
}

/** The broker refused a published message (negative confirm, or a full queue with reject-publish). */
export class PublishRejectedError extends ChannelError {
  override readonly name = 'PublishRejectedError';
  override readonly code = 'ERR_PUBLISH_REJECTED';
  override readonly retriable = false;
  override readonly recovery: RecoveryScope = 'none';
}

/** An operation did not complete before its deadline. */
export class TimeoutError extends TransportError {
  override readonly name = 'TimeoutError';
  override readonly code = 'ERR_TIMEOUT';
}

/** A retry policy gave up; `cause` is the last error. */
export class RetriesExhaustedError extends WakameError {
  override readonly name = 'RetriesExhaustedError';
  readonly code = 'ERR_RETRIES_EXHAUSTED';
  constructor(
    readonly attempts: number,
    options: ErrorOptions & { reason?: string },
  ) {
    const last = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      `gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}${options.reason ? ` (${options.reason})` : ''}${last}`,
      options,
    );
  }
}
