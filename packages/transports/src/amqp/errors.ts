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
 * @module
 */
import {
  AccessRefusedError,
  ChannelError,
  ConnectionClosedError,
  ConnectionError,
  type EntityKind,
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

const BY_CODE: ReadonlyMap<number, ReplyCode> = new Map(REPLY_CODES.map((r) => [r.code, r]));

/** What {@link fromAmqpError} may know about the failed call, used when the error itself does not say. */
export interface AmqpErrorContext {
  /** The exchange or queue the operation was about (for 404s whose text cannot be parsed, and 312 returns). */
  readonly entity?: { readonly kind: EntityKind; readonly name: string };
  /** The operation that failed, e.g. `'declareQueue'`; prefixed to messages ("declareQueue failed: …"). */
  readonly operation?: string;
  /** `host:port` to name in socket errors that do not carry the address themselves (ECONNRESET, EPIPE). */
  readonly endpoint?: string;
}

/** One difference reported by RabbitMQ: `expected` is what was declared now, `actual` what exists. */
export interface Inequivalence {
  readonly entity: { kind: EntityKind; name: string };
  readonly differences: { property: string; expected: unknown; actual: unknown }[];
}

// ---------------------------------------------------------------------------------------------
// Reply-text parsing

/** RabbitMQ prefixes reply texts with the code's name ("NOT_FOUND - no queue 'q' in vhost '/'"). */
const NAME_PREFIX = /^[A-Z_]+ - /;

/** amqplib's rendering of a close frame: `404 (NOT-FOUND) with message "NOT_FOUND - …"`. */
const CLOSE_FRAME = /(\d{3}) \([A-Z-]+\) with message "([\s\S]*)"\s*$/;

/** The reply text itself, whether given bare or inside amqplib's error message. */
function replyTextOf(text: string): string {
  return CLOSE_FRAME.exec(text)?.[2] ?? text;
}

/** A value as RabbitMQ prints it in an inequivalence: `none`, `'v'` or `the value 'v' of type 't'`. */
const VALUE = String.raw`none|the value '[\s\S]*?' of type '\w+'|'[\s\S]*?'`;
const INEQUIVALENT = new RegExp(
  String.raw`inequivalent arg '([^']+)' for (queue|exchange) '([\s\S]*)' in vhost '[\s\S]*?': received (${VALUE}) but current is (${VALUE})$`,
);

/** AMQP field-table types RabbitMQ names in "of type '…'" that hold numbers. */
const NUMERIC_TYPES = new Set(
  'byte unsignedbyte short unsignedshort signedint unsignedint long float double decimal timestamp'.split(' '),
);

/** Arguments whose values are names: "123" there is a string, not a number. */
const STRING_PROPERTIES = new Set([
  ...['type', 'alternate-exchange', 'x-overflow', 'x-queue-type', 'x-queue-mode'],
  ...['x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-dead-letter-strategy'],
  ...['x-queue-master-locator', 'x-queue-leader-locator'],
]);

/** Declaration fields (RabbitMQ's snake-case names); every other name is an entry of the argument table. */
const TOP_LEVEL = new Set(['durable', 'auto_delete', 'exclusive', 'internal', 'type']);

function convertValue(printed: string, property: string): unknown {
  if (printed === 'none') return undefined;
  const typed = /^the value '([\s\S]*)' of type '(\w+)'$/.exec(printed);
  const raw = typed ? (typed[1] ?? '') : printed.slice(1, -1);
  const type = typed?.[2];
  if (type === 'bool' || (type === undefined && (raw === 'true' || raw === 'false'))) return raw === 'true';
  if (type !== undefined ? NUMERIC_TYPES.has(type) : !STRING_PROPERTIES.has(property)) {
    const n = Number(raw);
    if (raw.trim() !== '' && Number.isFinite(n)) return n;
  }
  return raw;
}

/**
 * Parses RabbitMQ's "inequivalent arg" reply text into the entity and the differing property.
 *
 * RabbitMQ words it from the broker's side: "received" is what this client declared (`expected`), "current" is
 * what exists (`actual`). Top-level fields get Wakame's names (`auto_delete` → `autoDelete`); arguments become
 * `arguments.<name>`, as the virtual transport reports them. Values are converted back to data: numbers,
 * booleans, `none` → `undefined`, strings unquoted.
 *
 * @param replyText - The reply text, bare or as amqplib embeds it in its error message.
 * @returns `undefined` when the text is not an inequivalence.
 */
export function parseInequivalence(replyText: string): Inequivalence | undefined {
  const m = INEQUIVALENT.exec(replyTextOf(replyText));
  if (!m) return undefined;
  const [, arg = '', kind = 'queue', name = '', received = 'none', current = 'none'] = m;
  const property = arg === 'auto_delete' ? 'autoDelete' : TOP_LEVEL.has(arg) ? arg : `arguments.${arg}`;
  return {
    entity: { kind: kind as EntityKind, name },
    differences: [{ property, expected: convertValue(received, arg), actual: convertValue(current, arg) }],
  };
}

/**
 * Parses the entity out of a 404 reply text: "NOT_FOUND - no exchange 'x' in vhost '/'" or "… no queue 'q' …".
 *
 * @returns `undefined` when the text names no exchange or queue.
 */
export function parseNotFound(replyText: string): { kind: EntityKind; name: string } | undefined {
  const m = /\bno (queue|exchange) '([\s\S]*)' in vhost '/.exec(replyTextOf(replyText));
  return m ? { kind: m[1] as EntityKind, name: m[2] ?? '' } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Shapes of what amqplib throws

/** The fields read from a thrown value; any may be missing or of another type. */
type Fields = Partial<Record<AmqpField | SocketField, unknown>>;
type AmqpField = 'code' | 'replyCode' | 'replyText' | 'classId' | 'methodId' | 'exchange' | 'routingKey' | 'fields';
type SocketField = 'address' | 'port' | 'hostname' | 'name' | 'message';

/**
 * What one thrown or emitted value says, normalised; `undefined` where it does not say. `reply` is the AMQP reply
 * code (from `code`, a `replyCode` field, or amqplib's message), `text` the reply text without amqplib's wrapper,
 * `nodeCode` Node's code for socket, DNS and TLS errors; `exchange`/`routingKey` come with a basic.return.
 */
interface Facts {
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

function factsOf(error: unknown, context: AmqpErrorContext | undefined): Facts {
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
const LOGIN_REFUSED = 'login refused by the broker: the username or password is wrong, or the user may not log in';

/** A Wakame error class whose constructor takes just a message and options. */
type PlainClass = new (message: string, options?: ErrorOptions) => WakameError;

/**
 * amqplib's own plain `Error`s: message → scope, class, and what to say instead (`{at}` becomes the endpoint).
 * amqplib drops the reply text of a connection.close sent in answer to connection.open: RabbitMQ sends 530
 * NOT_ALLOWED there (unknown virtual host, or no access to it).
 */
const PLAIN: readonly (readonly [RegExp, CloseScope, PlainClass, string])[] = [
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
function knownScope(f: Facts): CloseScope | undefined {
  if (f.name === 'IllegalOperationError') return /^Connection/.test(f.message) ? 'connection' : 'channel';
  if (/^(Connection closed|Handshake terminated)/.test(f.message)) return 'connection';
  if (/^(Channel closed by server|Operation failed)/.test(f.message)) return 'channel';
  if (f.classId !== undefined || f.exchange !== undefined) return 'channel';
  if (f.reply !== undefined) return BY_CODE.get(f.reply)?.scope ?? 'connection';
  if (f.nodeCode !== undefined) return 'connection';
  return PLAIN.find(([re]) => re.test(f.message))?.[1];
}

/** Unknown failures are treated as connection-wide: reconnecting is the recovery that always works. */
function scopeOf(f: Facts): CloseScope {
  return knownScope(f) ?? 'connection';
}

// ---------------------------------------------------------------------------------------------
// Mapping

/** Masks the password of any `scheme://user:password@` in a text (up to the last `@`: raw `@`s in passwords occur). */
function sanitize(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):[^\s/]*@/gi, '$1$2:***@');
}

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
