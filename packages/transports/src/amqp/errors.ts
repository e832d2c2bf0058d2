/**
 * Broker errors → typed Wakame errors.
 *
 * amqplib reports failures in several shapes: channel closes (`code` + `classId` + `methodId`, message
 * "Operation failed: …" or "Channel closed by server: …"), connection closes (`code` only, "Connection closed: …"),
 * handshake failures (no `code`, "Handshake terminated by server: 403 (…) with message \"…\""), Node socket errors
 * (`code: 'ECONNREFUSED'`, `address`, `port`), its own `IllegalOperationError`s, and plain `Error`s for lost
 * confirms and heartbeats. Everything here only reads those fields and RabbitMQ's reply text, so nothing needs the
 * amqplib module at runtime (it is an optional peer dependency).
 *
 * This module maps; the reply codes as data are in `./reply-codes.ts`, the parsers of RabbitMQ's reply texts
 * in `./reply-text.ts`, and the reading of amqplib's shapes (and which scope each closed) in `./error-facts.ts`.
 *
 * @module
 */
import {
  AccessRefusedError,
  ChannelError,
  ConnectionClosedError,
  ConnectionError,
  MessageStateError,
  NotFoundError,
  PreconditionFailedError,
  PublishRejectedError,
  QueueUnavailableError,
  TopologyConflictError,
  TransportError,
  UnroutableError,
  WakameError,
} from '@wakame/core/spi';
import {
  type AmqpErrorContext,
  type Facts,
  factsOf,
  knownScope,
  PLAIN,
  type PlainClass,
  scopeOf,
} from './error-facts.js';
import { BY_CODE, type CloseScope } from './reply-codes.js';
import { NAME_PREFIX, parseInequivalence, parseNotFound } from './reply-text.js';

export type { AmqpErrorContext } from './error-facts.js';
export { type CloseScope, REPLY_CODES, type ReplyCode, type WakameErrorClass } from './reply-codes.js';
export { type Inequivalence, parseInequivalence, parseNotFound } from './reply-text.js';

/** Masks the password of any `scheme://user:password@` in a text (up to the last `@`: raw `@`s in passwords occur). */
function sanitize(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):[^\s/]*@/gi, '$1$2:***@');
}

const LOGIN_REFUSED = 'login refused by the broker: the username or password is wrong, or the user may not log in';

/** The Node socket error codes that mean an established connection was lost (rather than never made). */
const LOST = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

const SOCKET_REASONS: ReadonlyMap<string, string> = new Map([
  ['ECONNREFUSED', 'connection refused'],
  ['ECONNRESET', 'connection reset by the peer'],
  ['EPIPE', 'connection broken (write after the peer closed)'],
  ['ECONNABORTED', 'connection aborted'],
  ['ETIMEDOUT', 'timed out'],
  ['EHOSTUNREACH', 'host unreachable'],
  ['ENETUNREACH', 'network unreachable'],
  ['ENOTFOUND', 'host not found'],
  ['EAI_AGAIN', 'temporary DNS failure'],
]);

/**
 * Maps whatever amqplib threw or emitted (channel/connection close error, socket error, basic.return,
 * `IllegalOperationError`) to a {@link WakameError}.
 *
 * Already-Wakame errors are returned unchanged. The original is kept as `cause`. Messages never contain
 * credentials: amqplib's do not, and any `user:password@` in a URL is masked just in case.
 *
 * Choices worth knowing:
 * - 406 "unknown delivery tag" → {@link MessageStateError}: the message cannot be settled (already settled, or it
 *   arrived on a channel that has since closed). The broker closes the channel too; the transport learns that
 *   from the channel's close event, not from this error.
 * - 406 consumer timeout ("delivery acknowledgement … timed out") → retriable {@link ChannelError}: reopening the
 *   channel recovers, and the unacknowledged messages are redelivered.
 * - A connection-level code on a channel close (amqplib closes a channel with 505/541 itself) → {@link ChannelError}.
 * - Anything unrecognised → retriable {@link ConnectionError} (or {@link ChannelError} when it has the
 *   channel-close shape).
 */
export function fromAmqpError(error: unknown, context?: AmqpErrorContext): WakameError {
  if (error instanceof WakameError) return error;
  const f = factsOf(error, context);
  const scope = scopeOf(f);
  const say = (text: string): string => sanitize(context?.operation ? `${context.operation} failed: ${text}` : text);
  const options = { cause: error };

  if (f.name === 'IllegalOperationError') {
    if (scope === 'channel') return new ChannelError(say('the channel is closed; open a new one'), options);
    // "Connection closed (by client)", "Connection closed (Error: <why the broker or socket closed it>)".
    const why = /^Connection closed \(([\s\S]*)\)$/.exec(f.message)?.[1]?.replace(/^Error: /, '');
    const text = why === 'by client' ? 'the connection was closed by this client' : `the connection is closed: ${why}`;
    return new ConnectionClosedError(say(why === undefined ? 'the connection is closing' : text), options);
  }
  if (f.reply !== undefined) return fromReply(f, f.reply, scope, context, say, error);
  if (f.nodeCode !== undefined) {
    const reason = SOCKET_REASONS.get(f.nodeCode) ?? f.message;
    const Class = LOST.has(f.nodeCode) ? ConnectionClosedError : ConnectionError;
    const verb = LOST.has(f.nodeCode) ? 'lost the connection to' : 'cannot connect to';
    return new Class(say(`${verb} ${f.endpoint ?? 'the broker'}: ${reason} (${f.nodeCode})`), options);
  }
  const plain = PLAIN.find(([re]) => re.test(f.message));
  if (plain) return new plain[2](say(plain[3].replace('{at}', f.endpoint ?? 'the broker')), options);
  return scope === 'channel'
    ? new ChannelError(say(f.message), options)
    : new ConnectionError(say(f.message || 'unknown connection failure'), options);
}

function fromReply(
  f: Facts,
  code: number,
  scope: CloseScope,
  context: AmqpErrorContext | undefined,
  say: (text: string) => string,
  error: unknown,
): WakameError {
  const options = { cause: error };
  if (code === 404) {
    // It exists, its node does not answer: "home node 'rabbit@b' of durable queue 'q' in vhost '/' is down or
    // inaccessible", or, while that node shuts down, "queue 'q' in vhost '/' process is stopped by supervisor".
    const down = /queue '([\s\S]*)' in vhost '[^']*' (?:is down or inaccessible|process is stopped by supervisor)/.exec(
      f.text,
    );
    if (down) return new QueueUnavailableError(down[1] ?? '', f.text.replace(NAME_PREFIX, ''), options);
    // With nothing named: AMQP class 40 is exchange.*, and basic.publish (60.40) is about an exchange too.
    const kind = f.classId === 40 || (f.classId === 60 && f.methodId === 40) ? 'exchange' : 'queue';
    const entity = parseNotFound(f.text) ?? context?.entity ?? { kind, name: '(unknown)' };
    return new NotFoundError(entity, options);
  }
  const conflict = code === 406 ? parseInequivalence(f.text) : undefined;
  if (conflict) return new TopologyConflictError(conflict.entity, conflict.differences, options);
  if (code === 312 || code === 313) {
    const exchange = f.exchange ?? (context?.entity?.kind === 'exchange' ? context.entity.name : '');
    const reason = code === 312 ? 'no queue is bound for it' : 'no consumer could take it';
    const unroutable = new UnroutableError(exchange, f.routingKey ?? '', reason);
    // Its constructor takes no options: set `cause` the way the native option does (own, non-enumerable).
    return Object.defineProperty(unroutable, 'cause', { value: error, writable: true, configurable: true });
  }
  const [Class, text] = plainReply(code, f.text.replace(NAME_PREFIX, ''), scope);
  const name = BY_CODE.get(code)?.name;
  return new Class(say(`${text} (AMQP ${code}${name ? ` ${name}` : ''})`), options);
}

/** The replies whose Wakame class takes only a message: which class, and what to say. */
function plainReply(code: number, detail: string, scope: CloseScope): readonly [PlainClass, string] {
  switch (code) {
    case 406:
      if (/unknown delivery tag/.test(detail)) {
        return [MessageStateError, `cannot settle the message (${detail}): already settled, or its channel has closed`];
      }
      if (/delivery acknowledgement on channel \d+ timed out/.test(detail)) {
        return [ChannelError, `the broker closed the channel: ${detail}`];
      }
      return [/message size \d+ is larger than/.test(detail) ? PublishRejectedError : PreconditionFailedError, detail];
    case 405: {
      const queue = /locked queue '([\s\S]*)' in vhost/.exec(detail)?.[1] ?? '';
      return [PreconditionFailedError, `queue '${queue}' is exclusive to another connection (or declared differently)`];
    }
    case 403:
      return [AccessRefusedError, /Login was refused/i.test(detail) ? LOGIN_REFUSED : detail];
    case 402:
    case 530:
      return [AccessRefusedError, detail];
    case 311:
      return [PublishRejectedError, detail];
    case 320:
      return [ConnectionClosedError, `the broker closed the connection: ${detail}`];
    default:
      return scope === 'channel'
        ? [ChannelError, `the channel was closed: ${detail}`]
        : [ConnectionError, `the broker closed the connection: ${detail}`];
  }
}

/**
 * Whether the error ended the whole connection (reconnect) rather than one channel.
 *
 * Raw amqplib errors are judged by their shape; Wakame errors by their `cause` when it is there (an
 * {@link AccessRefusedError} for an `amq.*` name closed only a channel), otherwise by their class.
 */
export function isConnectionError(error: unknown): boolean {
  // Follow `cause` while it leads to something recognisable; the first Wakame error without one decides by class.
  let judged: WakameError | undefined;
  for (let depth = 0; depth < 8; depth++) {
    if (error instanceof WakameError) {
      judged = error;
      error = error.cause;
      continue;
    }
    const scope = error === undefined ? undefined : knownScope(factsOf(error, undefined));
    if (scope !== undefined) return scope === 'connection';
    break;
  }
  if (judged === undefined) return true; // an unknown raw error maps to ConnectionError
  return judged instanceof ConnectionError || (judged instanceof TransportError && judged.recovery === 'connection');
}
