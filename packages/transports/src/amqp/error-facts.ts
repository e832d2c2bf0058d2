/**
 * The shapes of what amqplib throws or emits, read into one normalised record ({@link Facts}), and
 * which scope (channel or connection) each shape closed. Only fields and texts are read, so nothing
 * here needs the amqplib module at runtime.
 *
 * @module
 */
import {
  AccessRefusedError,
  ChannelError,
  ConnectionClosedError,
  ConnectionError,
  type EntityKind,
  PublishRejectedError,
  type WakameError,
} from '@wakame/core/spi';
import { BY_CODE, type CloseScope } from './reply-codes.js';
import { CLOSE_FRAME } from './reply-text.js';

/** What {@link fromAmqpError} may know about the failed call, used when the error itself does not say. */
export interface AmqpErrorContext {
  /** The exchange or queue the operation was about (for 404s whose text cannot be parsed, and 312 returns). */
  readonly entity?: { readonly kind: EntityKind; readonly name: string };
  /** The operation that failed, e.g. `'declareQueue'`; prefixed to messages ("declareQueue failed: …"). */
  readonly operation?: string;
  /** `host:port` to name in socket errors that do not carry the address themselves (ECONNRESET, EPIPE). */
  readonly endpoint?: string;
}

/** The fields read from a thrown value; any may be missing or of another type. */
type Fields = Partial<Record<AmqpField | SocketField, unknown>>;
type AmqpField = 'code' | 'replyCode' | 'replyText' | 'classId' | 'methodId' | 'exchange' | 'routingKey' | 'fields';
type SocketField = 'address' | 'port' | 'hostname' | 'name' | 'message';

/**
 * What one thrown or emitted value says, normalised; `undefined` where it does not say. `reply` is the AMQP reply
 * code (from `code`, a `replyCode` field, or amqplib's message), `text` the reply text without amqplib's wrapper,
 * `nodeCode` Node's code for socket, DNS and TLS errors; `exchange`/`routingKey` come with a basic.return.
 */
export interface Facts {
  readonly message: string;
  readonly name: string;
  readonly reply: number | undefined;
  readonly text: string;
  readonly nodeCode: string | undefined;
  readonly classId: number | undefined;
  readonly methodId: number | undefined;
  readonly exchange: string | undefined;
  readonly routingKey: string | undefined;
  readonly endpoint: string | undefined;
}

function asFields(v: unknown): Fields {
  return typeof v === 'object' && v !== null ? (v as Fields) : {};
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function factsOf(error: unknown, context: AmqpErrorContext | undefined): Facts {
  const top = asFields(error);
  // A basic.return is a message whose `fields` carry the reply; also accept the fields object itself.
  const inner = asFields(top.fields);
  const f = inner.replyCode !== undefined ? inner : top;
  const message = str(top.message) ?? (typeof error === 'string' ? error : String(error));
  const frame = CLOSE_FRAME.exec(message);
  const host = str(top.address) ?? str(top.hostname);
  const port = num(top.port);
  return {
    message,
    name: str(top.name) ?? '',
    reply: num(f.code) ?? num(f.replyCode) ?? (frame ? Number(frame[1]) : undefined),
    text: str(f.replyText) ?? frame?.[2] ?? message,
    nodeCode: str(top.code),
    classId: num(f.classId),
    methodId: num(f.methodId),
    exchange: str(f.exchange),
    routingKey: str(f.routingKey),
    endpoint: host !== undefined ? (port !== undefined ? `${bracket(host)}:${port}` : host) : context?.endpoint,
  };
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

const VHOST_REFUSED = 'the broker refused to open the virtual host: it does not exist, or the user has no access to it';

/** A Wakame error class whose constructor takes just a message and options. */
export type PlainClass = new (message: string, options?: ErrorOptions) => WakameError;

/**
 * amqplib's own plain `Error`s: message → scope, class, and what to say instead (`{at}` becomes the endpoint).
 * amqplib drops the reply text of a connection.close sent in answer to connection.open: RabbitMQ sends 530
 * NOT_ALLOWED there (unknown virtual host, or no access to it).
 */
export const PLAIN: readonly (readonly [RegExp, CloseScope, PlainClass, string])[] = [
  [/^connect ETIMEDOUT$/, 'connection', ConnectionError, 'cannot connect to {at}: timed out (ETIMEDOUT)'],
  [/^Heartbeat timeout$/, 'connection', ConnectionClosedError, 'lost the connection to {at}: heartbeat timeout'],
  [/^(Unexpected close|Socket closed abruptly)/, 'connection', ConnectionClosedError, 'lost the connection to {at}'],
  [/^Expected ConnectionOpenOk; got <ConnectionClose/, 'connection', AccessRefusedError, VHOST_REFUSED],
  [/^message nacked$/, 'channel', PublishRejectedError, 'the broker rejected the message (basic.nack)'],
  [/^channel closed$/, 'channel', ChannelError, 'the channel closed before the broker confirmed the message'],
  [/^Channel ended, no reply/, 'channel', ChannelError, 'the channel closed before the broker replied'],
];

/**
 * Which scope a raw error closed, or `undefined` when its shape is not one amqplib produces. amqplib's own wording
 * is the most reliable signal: channel closes carry a `classId`, connection closes and handshake failures say so in
 * their message, socket errors have a Node code.
 */
export function knownScope(f: Facts): CloseScope | undefined {
  if (f.name === 'IllegalOperationError') return /^Connection/.test(f.message) ? 'connection' : 'channel';
  if (/^(Connection closed|Handshake terminated)/.test(f.message)) return 'connection';
  if (/^(Channel closed by server|Operation failed)/.test(f.message)) return 'channel';
  if (f.classId !== undefined || f.exchange !== undefined) return 'channel';
  if (f.reply !== undefined) return BY_CODE.get(f.reply)?.scope ?? 'connection';
  if (f.nodeCode !== undefined) return 'connection';
  return PLAIN.find(([re]) => re.test(f.message))?.[1];
}

/** Unknown failures are treated as connection-wide: reconnecting is the recovery that always works. */
export function scopeOf(f: Facts): CloseScope {
  return knownScope(f) ?? 'connection';
}
