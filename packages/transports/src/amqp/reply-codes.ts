/**
 * The AMQP 0-9-1 reply codes as data: for each, what the broker closes when it sends it and which
 * Wakame error {@link fromAmqpError} makes of it.
 *
 * @module
 */
import {
  AccessRefusedError,
  type ChannelError,
  ConnectionClosedError,
  ConnectionError,
  type MessageStateError,
  NotFoundError,
  PreconditionFailedError,
  PublishRejectedError,
  type TopologyConflictError,
  UnroutableError,
  type WakameError,
} from '@wakame/core/spi';

/** Any Wakame error class; the constructor signatures differ, so only the instance type is kept. */
export type WakameErrorClass = abstract new (...args: never[]) => WakameError;

/** What a close ends: one channel, or the whole connection. */
export type CloseScope = 'channel' | 'connection';

/** One AMQP 0-9-1 reply code and what Wakame makes of it. */
export interface ReplyCode {
  readonly code: number;
  /** The spec's constant name, as RabbitMQ prefixes it to the reply text (`NOT_FOUND - …`). */
  readonly name: string;
  /** What the broker closes when it sends this code: the channel only, or the whole connection. */
  readonly scope: CloseScope;
  /** The Wakame error class {@link fromAmqpError} produces for it. */
  readonly wakame: WakameErrorClass;
  /** What the code means, for humans. */
  readonly meaning: string;
}

/**
 * AMQP reply codes as data (the kafkajs error-table idea): code → name, scope, Wakame class.
 *
 * 406 is the one code whose class depends on the reply text: an "inequivalent arg" becomes a
 * {@link TopologyConflictError}, an unknown delivery tag a {@link MessageStateError}, an oversized message a
 * {@link PublishRejectedError}, a consumer-timeout close a plain retriable {@link ChannelError}. The table names the
 * class used for every other 406.
 */
export const REPLY_CODES: readonly ReplyCode[] = [
  row(311, 'CONTENT_TOO_LARGE', 'channel', PublishRejectedError, 'the message is too large'),
  row(312, 'NO_ROUTE', 'channel', UnroutableError, 'no queue is bound for the mandatory message'),
  row(313, 'NO_CONSUMERS', 'channel', UnroutableError, 'no consumer could take the immediate message'),
  row(320, 'CONNECTION_FORCED', 'connection', ConnectionClosedError, 'the broker or an operator closed the connection'),
  row(402, 'INVALID_PATH', 'connection', AccessRefusedError, 'the virtual host is unknown'),
  row(403, 'ACCESS_REFUSED', 'channel', AccessRefusedError, 'access refused: permissions, reserved name, or login'),
  row(404, 'NOT_FOUND', 'channel', NotFoundError, 'the exchange or queue does not exist'),
  row(405, 'RESOURCE_LOCKED', 'channel', PreconditionFailedError, 'the queue is exclusive to another connection'),
  row(406, 'PRECONDITION_FAILED', 'channel', PreconditionFailedError, 'a precondition of the operation does not hold'),
  row(501, 'FRAME_ERROR', 'connection', ConnectionError, 'the broker received a malformed frame'),
  row(502, 'SYNTAX_ERROR', 'connection', ConnectionError, 'the broker received a frame with illegal field values'),
  row(503, 'COMMAND_INVALID', 'connection', ConnectionError, 'the broker received an invalid command'),
  row(504, 'CHANNEL_ERROR', 'connection', ConnectionError, 'a channel was used wrongly (not open, or reused)'),
  row(505, 'UNEXPECTED_FRAME', 'connection', ConnectionError, 'the broker received a frame it did not expect'),
  row(506, 'RESOURCE_ERROR', 'connection', ConnectionError, 'the broker ran out of a resource'),
  row(530, 'NOT_ALLOWED', 'connection', AccessRefusedError, 'not allowed: unknown virtual host, or no access to it'),
  row(540, 'NOT_IMPLEMENTED', 'connection', ConnectionError, 'the broker does not implement the operation'),
  row(541, 'INTERNAL_ERROR', 'connection', ConnectionError, 'the broker hit an internal error'),
];

function row(code: number, name: string, scope: CloseScope, wakame: WakameErrorClass, meaning: string): ReplyCode {
  return { code, name, scope, wakame, meaning };
}

export const BY_CODE: ReadonlyMap<number, ReplyCode> = new Map(REPLY_CODES.map((r) => [r.code, r]));
