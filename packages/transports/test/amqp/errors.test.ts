/**
 * Unit tests of the broker-error mapping, over the reply texts RabbitMQ 3.10 actually sends (collected with
 * errors.int.test.ts) wrapped the way amqplib 2.3 wraps them.
 */
import {
  AccessRefusedError,
  ChannelError,
  ConnectionClosedError,
  ConnectionError,
  InvalidArgumentError,
  MessageStateError,
  NotFoundError,
  PreconditionFailedError,
  PublishRejectedError,
  TopologyConflictError,
  TransportError,
  UnroutableError,
  type WakameError,
} from '@wakame/core/spi';
import amqplib from 'amqplib';
import { describe, expect, it } from 'vitest';
import {
  fromAmqpError,
  isConnectionError,
  parseInequivalence,
  parseNotFound,
  REPLY_CODES,
} from '../../src/amqp/errors.js';

type Fields = Record<string, unknown>;

/** The dashed constant name amqplib prints in its messages ("PRECONDITION-FAILED"). */
function dashed(code: number): string {
  return (REPLY_CODES.find((r) => r.code === code)?.name ?? 'UNKNOWN').replace(/_/g, '-');
}

/** A channel close as amqplib rejects an RPC with it (convertCloseFrameToError). */
function rpcFailure(code: number, text: string, method = 'QueueDeclare', classId = 50, methodId = 10): Error {
  const e = new Error(`Operation failed: ${method}; ${code} (${dashed(code)}) with message "${text}"`);
  return Object.assign(e, { code, classId, methodId });
}

/** A channel close as amqplib emits it on the channel's 'error' event (no RPC was waiting for it). */
function channelClose(code: number, text: string, classId = 60, methodId = 40): Error {
  const e = new Error(`Channel closed by server: ${code} (${dashed(code)}) with message "${text}"`);
  return Object.assign(e, { code, classId, methodId });
}

/** A connection.close from the broker: `code` only. */
function connectionClose(code: number, text: string): Error {
  return Object.assign(new Error(`Connection closed: ${code} (${dashed(code)}) with message "${text}"`), { code });
}

/** A Node socket error (what net.connect / the socket emits). */
function socketError(message: string, fields: Fields): Error {
  return Object.assign(new Error(message), fields);
}

const Q = 't-6scibzonv2y';
const X = 'tx-6scibzonv2y';

interface Row {
  readonly title: string;
  readonly error: unknown;
  readonly type: abstract new (...args: never[]) => WakameError;
  readonly code: string;
  readonly message?: RegExp;
  readonly entity?: { kind: string; name: string };
  readonly differences?: readonly Fields[];
  readonly connection: boolean;
}

const rows: readonly Row[] = [
  {
    title: '406 x-max-priority added (typed received, none current)',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue '${Q}' in vhost '/': received the value '5' of type 'signedint' but current is none`,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    message: new RegExp(
      `^queue '${Q}' already exists with different properties \\(arguments.x-max-priority: declared 5, exists as \\(unset\\)\\)$`,
    ),
    entity: { kind: 'queue', name: Q },
    differences: [{ property: 'arguments.x-max-priority', expected: 5, actual: undefined }],
    connection: false,
  },
  {
    title: '406 x-max-priority removed (none received, typed current)',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue '${Q}' in vhost '/': received none but current is the value '5' of type 'byte'`,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    differences: [{ property: 'arguments.x-max-priority', expected: undefined, actual: 5 }],
    connection: false,
  },
  {
    title: '406 x-max-priority changed',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue '${Q}' in vhost '/': received '7' but current is '5'`,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    differences: [{ property: 'arguments.x-max-priority', expected: 7, actual: 5 }],
    connection: false,
  },
  {
    title: '406 queue durable flipped',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${Q}' in vhost '/': received 'false' but current is 'true'`,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    differences: [{ property: 'durable', expected: false, actual: true }],
    connection: false,
  },
  {
    title: '406 queue auto_delete flipped → autoDelete',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue '${Q}' in vhost '/': received 'true' but current is 'false'`,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    differences: [{ property: 'autoDelete', expected: true, actual: false }],
    connection: false,
  },
  {
    title: '406 x-queue-type added (longstr)',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '${Q}' in vhost '/': received the value 'quorum' of type 'longstr' but current is none`,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    differences: [{ property: 'arguments.x-queue-type', expected: 'quorum', actual: undefined }],
    connection: false,
  },
  {
    title: '406 dead-letter exchange changed (a name stays a string, even when numeric)',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue 't2-6scibzonv2y' in vhost '/': received '123' but current is 'dlx'`,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    entity: { kind: 'queue', name: 't2-6scibzonv2y' },
    differences: [{ property: 'arguments.x-dead-letter-exchange', expected: '123', actual: 'dlx' }],
    connection: false,
  },
  {
    title: '406 message TTL changed',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 't2-6scibzonv2y' in vhost '/': received '2000' but current is '1000'`,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    differences: [{ property: 'arguments.x-message-ttl', expected: 2000, actual: 1000 }],
    connection: false,
  },
  {
    title: '406 exchange type changed',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${X}' in vhost '/': received 'topic' but current is 'direct'`,
      'ExchangeDeclare',
      40,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    message: new RegExp(`^exchange '${X}' already exists with different properties \\(type: declared "topic"`),
    entity: { kind: 'exchange', name: X },
    differences: [{ property: 'type', expected: 'topic', actual: 'direct' }],
    connection: false,
  },
  {
    title: '406 exchange internal flipped',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'internal' for exchange '${X}' in vhost '/': received 'true' but current is 'false'`,
      'ExchangeDeclare',
      40,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    differences: [{ property: 'internal', expected: true, actual: false }],
    connection: false,
  },
  {
    title: '406 alternate exchange added',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '${X}' in vhost '/': received the value 'ae' of type 'longstr' but current is none`,
      'ExchangeDeclare',
      40,
    ),
    type: TopologyConflictError,
    code: 'ERR_TOPOLOGY_CONFLICT',
    differences: [{ property: 'arguments.alternate-exchange', expected: 'ae', actual: undefined }],
    connection: false,
  },
  {
    title: '406 delete ifEmpty of a non-empty queue',
    error: rpcFailure(406, `PRECONDITION_FAILED - queue '${Q}' in vhost '/' not empty`, 'QueueDelete', 50, 40),
    type: PreconditionFailedError,
    code: 'ERR_PRECONDITION_FAILED',
    message: new RegExp(`^queue '${Q}' in vhost '/' not empty \\(AMQP 406 PRECONDITION_FAILED\\)$`),
    connection: false,
  },
  {
    title: '406 delete ifUnused of a bound exchange',
    error: rpcFailure(406, `PRECONDITION_FAILED - exchange '${X}' in vhost '/' in use`, 'ExchangeDelete', 40, 20),
    type: PreconditionFailedError,
    code: 'ERR_PRECONDITION_FAILED',
    message: /in use \(AMQP 406 PRECONDITION_FAILED\)$/,
    connection: false,
  },
  {
    title: '406 invalid argument value',
    error: rpcFailure(
      406,
      `PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'tt-r5pp6znez7e' in vhost '/': {max_value_exceeded,1000}`,
    ),
    type: PreconditionFailedError,
    code: 'ERR_PRECONDITION_FAILED',
    message: /^invalid arg 'x-max-priority'.*max_value_exceeded/,
    connection: false,
  },
  {
    title: '406 unknown delivery tag (channel error event)',
    error: channelClose(406, 'PRECONDITION_FAILED - unknown delivery tag 5', 60, 80),
    type: MessageStateError,
    code: 'ERR_MESSAGE_STATE',
    message: /^cannot settle the message \(unknown delivery tag 5\)/,
    connection: false,
  },
  {
    title: '406 consumer timeout → retriable channel error',
    error: channelClose(
      406,
      'PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 1800000 ms. This timeout value can be configured, see consumers doc guide to learn more',
      0,
      0,
    ),
    type: ChannelError,
    code: 'ERR_CHANNEL',
    connection: false,
  },
  {
    title: '406 message larger than max_message_size',
    error: channelClose(406, 'PRECONDITION_FAILED - message size 2000 is larger than configured max size 1000'),
    type: PublishRejectedError,
    code: 'ERR_PUBLISH_REJECTED',
    connection: false,
  },
  {
    title: '404 passive check of a missing exchange',
    error: rpcFailure(404, "NOT_FOUND - no exchange 'nope' in vhost '/'", 'ExchangeDeclare', 40),
    type: NotFoundError,
    code: 'ERR_NOT_FOUND',
    message: /^exchange 'nope' not found$/,
    entity: { kind: 'exchange', name: 'nope' },
    connection: false,
  },
  {
    title: '404 passive check of a missing queue',
    error: rpcFailure(404, "NOT_FOUND - no queue 'nope' in vhost '/'"),
    type: NotFoundError,
    code: 'ERR_NOT_FOUND',
    entity: { kind: 'queue', name: 'nope' },
    connection: false,
  },
  {
    title: '404 publish to a missing exchange (channel error event)',
    error: channelClose(404, "NOT_FOUND - no exchange 'nope' in vhost '/'", 60, 40),
    type: NotFoundError,
    code: 'ERR_NOT_FOUND',
    entity: { kind: 'exchange', name: 'nope' },
    connection: false,
  },
  {
    title: '403 reserved amq. prefix',
    error: rpcFailure(
      403,
      "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'",
      'ExchangeDeclare',
      40,
    ),
    type: AccessRefusedError,
    code: 'ERR_ACCESS_REFUSED',
    message: /^exchange name 'amq.foo' contains reserved prefix 'amq.\*' \(AMQP 403 ACCESS_REFUSED\)$/,
    connection: false,
  },
  {
    title: '403 deleting a system exchange',
    error: rpcFailure(
      403,
      "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed",
      'ExchangeDelete',
      40,
      20,
    ),
    type: AccessRefusedError,
    code: 'ERR_ACCESS_REFUSED',
    connection: false,
  },
  {
    title: '403 login refused at the handshake',
    error: new Error(
      'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."',
    ),
    type: AccessRefusedError,
    code: 'ERR_ACCESS_REFUSED',
    message: /username or password is wrong/,
    connection: true,
  },
  {
    title: '405 exclusive queue of another connection',
    error: rpcFailure(
      405,
      "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'amq.gen-36XEEP0pg1ezlJjxTR215Q' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.",
      'BasicConsume',
      60,
      20,
    ),
    type: PreconditionFailedError,
    code: 'ERR_PRECONDITION_FAILED',
    message: /^queue 'amq.gen-36XEEP0pg1ezlJjxTR215Q' is exclusive to another connection/,
    connection: false,
  },
  {
    title: '320 closed via the management plugin',
    error: connectionClose(320, 'CONNECTION_FORCED - Closed via management plugin'),
    type: ConnectionClosedError,
    code: 'ERR_CONNECTION_CLOSED',
    message: /^the broker closed the connection: Closed via management plugin \(AMQP 320 CONNECTION_FORCED\)$/,
    connection: true,
  },
  {
    title: '320 broker shutdown',
    error: connectionClose(320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"),
    type: ConnectionClosedError,
    code: 'ERR_CONNECTION_CLOSED',
    connection: true,
  },
  {
    title: '503 unknown exchange type (closes the connection)',
    error: connectionClose(503, "COMMAND_INVALID - unknown exchange type 'bogus'"),
    type: ConnectionError,
    code: 'ERR_CONNECTION',
    message: /^the broker closed the connection: unknown exchange type 'bogus' \(AMQP 503 COMMAND_INVALID\)$/,
    connection: true,
  },
  {
    title: '530 vhost not found',
    error: connectionClose(530, 'NOT_ALLOWED - vhost nope not found'),
    type: AccessRefusedError,
    code: 'ERR_ACCESS_REFUSED',
    connection: true,
  },
  {
    title: 'unknown vhost at the handshake (amqplib drops the 530 text)',
    error: new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'),
    type: AccessRefusedError,
    code: 'ERR_ACCESS_REFUSED',
    message: /virtual host/,
    connection: true,
  },
  {
    title: 'a channel closed by amqplib itself with a connection-level code stays a channel error',
    error: Object.assign(new Error('Expected QueueDeclareOk; got BasicGetEmpty'), {
      code: 505,
      classId: 50,
      methodId: 11,
    }),
    type: ChannelError,
    code: 'ERR_CHANNEL',
    connection: false,
  },
  {
    title: 'an unknown code with the channel-close shape',
    error: channelClose(999, 'SOMETHING - new'),
    type: ChannelError,
    code: 'ERR_CHANNEL',
    connection: false,
  },
  {
    title: 'ECONNREFUSED names host:port',
    error: socketError('connect ECONNREFUSED 127.0.0.1:5999', {
      code: 'ECONNREFUSED',
      errno: -111,
      syscall: 'connect',
      address: '127.0.0.1',
      port: 5999,
    }),
    type: ConnectionError,
    code: 'ERR_CONNECTION',
    message: /^cannot connect to 127.0.0.1:5999: connection refused \(ECONNREFUSED\)$/,
    connection: true,
  },
  {
    title: 'ENOTFOUND names the host',
    error: socketError('getaddrinfo ENOTFOUND no-such-host.invalid', {
      code: 'ENOTFOUND',
      syscall: 'getaddrinfo',
      hostname: 'no-such-host.invalid',
    }),
    type: ConnectionError,
    code: 'ERR_CONNECTION',
    message: /^cannot connect to no-such-host.invalid: host not found \(ENOTFOUND\)$/,
    connection: true,
  },
  {
    title: 'EHOSTUNREACH on IPv6 brackets the address',
    error: socketError('connect EHOSTUNREACH ::1:5672', { code: 'EHOSTUNREACH', address: '::1', port: 5672 }),
    type: ConnectionError,
    code: 'ERR_CONNECTION',
    message: /\[::1\]:5672: host unreachable/,
    connection: true,
  },
  {
    title: 'ECONNRESET is a lost connection',
    error: socketError('read ECONNRESET', { code: 'ECONNRESET', syscall: 'read' }),
    type: ConnectionClosedError,
    code: 'ERR_CONNECTION_CLOSED',
    message: /^lost the connection to the broker: connection reset by the peer \(ECONNRESET\)$/,
    connection: true,
  },
  {
    title: 'EPIPE is a lost connection',
    error: socketError('write EPIPE', { code: 'EPIPE', syscall: 'write' }),
    type: ConnectionClosedError,
    code: 'ERR_CONNECTION_CLOSED',
    connection: true,
  },
  {
    title: "amqplib's connect timeout",
    error: new Error('connect ETIMEDOUT'),
    type: ConnectionError,
    code: 'ERR_CONNECTION',
    message: /timed out \(ETIMEDOUT\)/,
    connection: true,
  },
  {
    title: 'heartbeat timeout',
    error: new Error('Heartbeat timeout'),
    type: ConnectionClosedError,
    code: 'ERR_CONNECTION_CLOSED',
    connection: true,
  },
  {
    title: 'socket closed during the handshake',
    error: new Error('Socket closed abruptly during opening handshake'),
    type: ConnectionClosedError,
    code: 'ERR_CONNECTION_CLOSED',
    connection: true,
  },
  {
    title: 'unexpected close',
    error: new Error('Unexpected close'),
    type: ConnectionClosedError,
    code: 'ERR_CONNECTION_CLOSED',
    connection: true,
  },
  {
    title: 'IllegalOperationError: channel closed',
    error: new amqplib.IllegalOperationError('Channel closed'),
    type: ChannelError,
    code: 'ERR_CHANNEL',
    connection: false,
  },
  {
    title: 'IllegalOperationError: connection closed by the broker',
    error: new amqplib.IllegalOperationError(
      `Connection closed (Error: Connection closed: 503 (COMMAND-INVALID) with message "COMMAND_INVALID - unknown exchange type 'bogus'")`,
    ),
    type: ConnectionClosedError,
    code: 'ERR_CONNECTION_CLOSED',
    message: /^the connection is closed: Connection closed: 503/,
    connection: true,
  },
  {
    title: 'IllegalOperationError: connection closed by this client',
    error: new amqplib.IllegalOperationError('Connection closed (by client)'),
    type: ConnectionClosedError,
    code: 'ERR_CONNECTION_CLOSED',
    message: /^the connection was closed by this client$/,
    connection: true,
  },
  {
    title: 'pending RPC lost with its channel',
    error: new Error('Channel ended, no reply will be forthcoming'),
    type: ChannelError,
    code: 'ERR_CHANNEL',
    connection: false,
  },
  {
    title: 'confirm lost with its channel',
    error: new Error('channel closed'),
    type: ChannelError,
    code: 'ERR_CHANNEL',
    connection: false,
  },
  {
    title: 'negative confirm',
    error: new Error('message nacked'),
    type: PublishRejectedError,
    code: 'ERR_PUBLISH_REJECTED',
    connection: false,
  },
  {
    title: 'basic.return NO_ROUTE (the returned message)',
    error: {
      fields: { replyCode: 312, replyText: 'NO_ROUTE', exchange: 'amq.direct', routingKey: 'nowhere' },
      properties: {},
      content: Buffer.from('x'),
    },
    type: UnroutableError,
    code: 'ERR_UNROUTABLE',
    message: /^message to exchange 'amq.direct' with routing key 'nowhere' is unroutable/,
    connection: false,
  },
  {
    title: 'an unknown error',
    error: new TypeError('something odd'),
    type: ConnectionError,
    code: 'ERR_CONNECTION',
    message: /^something odd$/,
    connection: true,
  },
  {
    title: 'a thrown string',
    error: 'Expected content frame after headers',
    type: ConnectionError,
    code: 'ERR_CONNECTION',
    message: /^Expected content frame after headers$/,
    connection: true,
  },
];

describe('fromAmqpError', () => {
  it.each(rows)('$title', (row) => {
    const mapped = fromAmqpError(row.error);
    expect(mapped).toBeInstanceOf(row.type);
    expect(mapped.code).toBe(row.code);
    expect(mapped.cause).toBe(row.error);
    if (row.message) expect(mapped.message).toMatch(row.message);
    if (row.entity) expect(mapped).toHaveProperty('entity', row.entity);
    if (row.differences) expect(mapped).toHaveProperty('differences', row.differences);
    expect(isConnectionError(row.error)).toBe(row.connection);
    expect(isConnectionError(mapped)).toBe(row.connection);
  });

  it('sets the recovery scope retry policies read', () => {
    const recovery = (e: unknown): [boolean, string] => {
      const m = fromAmqpError(e);
      return [m.retriable, m instanceof TransportError ? m.recovery : '-'];
    };
    expect(recovery(new amqplib.IllegalOperationError('Channel closed'))).toEqual([true, 'channel']);
    expect(recovery(connectionClose(320, 'CONNECTION_FORCED - Closed via management plugin'))).toEqual([
      true,
      'connection',
    ]);
    expect(recovery(new Error('Heartbeat timeout'))).toEqual([true, 'connection']);
    expect(recovery(rpcFailure(404, "NOT_FOUND - no queue 'q' in vhost '/'"))).toEqual([false, 'none']);
    expect(recovery(rpcFailure(403, "ACCESS_REFUSED - queue name 'amq.q' contains reserved prefix 'amq.*'"))).toEqual([
      false,
      'none',
    ]);
    expect(recovery(new TypeError('?'))).toEqual([true, 'connection']);
  });

  it('returns Wakame errors unchanged', () => {
    const original = new NotFoundError({ kind: 'queue', name: 'q' });
    expect(fromAmqpError(original, { operation: 'declareQueue' })).toBe(original);
    const invalid = new InvalidArgumentError('bad');
    expect(fromAmqpError(invalid)).toBe(invalid);
  });

  it('prefixes the operation to messages it writes', () => {
    const e = fromAmqpError(rpcFailure(406, "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty"), {
      operation: 'deleteQueue',
    });
    expect(e.message).toBe("deleteQueue failed: queue 'q' in vhost '/' not empty (AMQP 406 PRECONDITION_FAILED)");
  });

  it('falls back to the context, then to the AMQP class, for a 404 whose text names nothing', () => {
    const bare = () => rpcFailure(404, 'NOT_FOUND - gone', 'ExchangeDeclare', 40);
    expect(fromAmqpError(bare(), { entity: { kind: 'exchange', name: 'e' } })).toHaveProperty('entity', {
      kind: 'exchange',
      name: 'e',
    });
    expect(fromAmqpError(bare())).toHaveProperty('entity', { kind: 'exchange', name: '(unknown)' });
    expect(fromAmqpError(rpcFailure(404, 'NOT_FOUND - gone'))).toHaveProperty('entity.kind', 'queue');
  });

  it('reads a queue whose node is down (or shutting down) as unavailable, not as missing', () => {
    const down = fromAmqpError(
      rpcFailure(
        404,
        "NOT_FOUND - home node 'wkt1@localhost' of durable queue 'orders' in vhost '/' is down or inaccessible",
      ),
    );
    expect(down).toMatchObject({ code: 'ERR_QUEUE_UNAVAILABLE', queue: 'orders', retriable: true });
    const stopping = fromAmqpError(
      rpcFailure(404, "NOT_FOUND - queue 'orders' in vhost '/' process is stopped by supervisor"),
    );
    expect(stopping).toMatchObject({ code: 'ERR_QUEUE_UNAVAILABLE', queue: 'orders' });
    expect(fromAmqpError(rpcFailure(404, "NOT_FOUND - no queue 'orders' in vhost '/'"))).toMatchObject({
      code: 'ERR_NOT_FOUND',
      entity: { kind: 'queue', name: 'orders' },
    });
  });

  it('names the endpoint from the context when the socket error does not', () => {
    const e = fromAmqpError(socketError('read ECONNRESET', { code: 'ECONNRESET' }), { endpoint: 'rabbit:5672' });
    expect(e.message).toBe('lost the connection to rabbit:5672: connection reset by the peer (ECONNRESET)');
  });

  it('takes the exchange of a NO_ROUTE from the context when the return does not carry it', () => {
    const e = fromAmqpError({ code: 312, replyText: 'NO_ROUTE' }, { entity: { kind: 'exchange', name: 'orders' } });
    expect(e).toBeInstanceOf(UnroutableError);
    expect(e).toHaveProperty('exchange', 'orders');
  });
});

describe('credentials never reach a message', () => {
  const secret = 'S3cret-Pa55';
  const leaks: readonly { error: unknown; endpoint?: string }[] = [
    { error: new Error(`connect to amqp://guest:${secret}@rabbit:5672/%2F failed`) },
    { error: `amqps://user:${secret}@host/vhost is down` },
    { error: socketError(`getaddrinfo EAI_AGAIN amqp://u:${secret}@nohost`, { code: 'EWHATEVER' }) },
    { error: channelClose(999, `X - see amqp://u:${secret}@h`) },
    { error: new Error('Heartbeat timeout'), endpoint: `amqp://u:${secret}@h:5672` },
    { error: new Error(`bad url amqp://u:x@${secret}@h:5672/v`) },
  ];

  it.each(leaks)('masks the password in case %#', ({ error, endpoint }) => {
    const e = fromAmqpError(error, { operation: 'connect', ...(endpoint !== undefined && { endpoint }) });
    expect(e.message).not.toContain(secret);
    expect(e.message).toMatch(/:\*\*\*@/);
  });

  it('a refused login says what is wrong without echoing anything secret', () => {
    const e = fromAmqpError(
      new Error(
        'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."',
      ),
    );
    expect(e.message).toBe(
      'login refused by the broker: the username or password is wrong, or the user may not log in (AMQP 403 ACCESS_REFUSED)',
    );
  });
});

describe('REPLY_CODES', () => {
  it('lists each code once', () => {
    expect(new Set(REPLY_CODES.map((r) => r.code)).size).toBe(REPLY_CODES.length);
  });

  // The table is documentation the mapping must honour: a close with just the code maps to the listed class.
  it.each(REPLY_CODES)('$code $name → $wakame.name', (row) => {
    const error =
      row.scope === 'connection'
        ? connectionClose(row.code, `${row.name} - something`)
        : channelClose(row.code, `${row.name} - something`);
    expect(fromAmqpError(error)).toBeInstanceOf(row.wakame);
    expect(isConnectionError(error)).toBe(row.scope === 'connection');
  });
});

describe('parseInequivalence', () => {
  it('reads the reply text bare, with or without the code prefix', () => {
    const text = "inequivalent arg 'x-expires' for queue 'a b' in vhost 'v': received '10' but current is '20'";
    const expected = {
      entity: { kind: 'queue', name: 'a b' },
      differences: [{ property: 'arguments.x-expires', expected: 10, actual: 20 }],
    };
    expect(parseInequivalence(text)).toEqual(expected);
    expect(parseInequivalence(`PRECONDITION_FAILED - ${text}`)).toEqual(expected);
  });

  it('keeps quotes inside names and values', () => {
    const parsed = parseInequivalence(
      "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-routing-key' for queue 'it's' in vhost '/': received the value 'a'b' of type 'longstr' but current is none",
    );
    expect(parsed?.entity.name).toBe("it's");
    expect(parsed?.differences[0]?.expected).toBe("a'b");
  });

  it('converts typed booleans and numbers', () => {
    const parsed = parseInequivalence(
      "inequivalent arg 'x-single-active-consumer' for queue 'q' in vhost '/': received the value 'true' of type 'bool' but current is none",
    );
    expect(parsed?.differences[0]).toEqual({
      property: 'arguments.x-single-active-consumer',
      expected: true,
      actual: undefined,
    });
  });

  it('is undefined for other texts', () => {
    expect(parseInequivalence("PRECONDITION_FAILED - queue 'q' in vhost '/' not empty")).toBeUndefined();
    expect(parseInequivalence('')).toBeUndefined();
  });
});

describe('parseNotFound', () => {
  it('names the exchange or queue', () => {
    expect(parseNotFound("NOT_FOUND - no exchange 'x' in vhost '/'")).toEqual({ kind: 'exchange', name: 'x' });
    expect(parseNotFound("NOT_FOUND - no queue 'q' in vhost 'prod'")).toEqual({ kind: 'queue', name: 'q' });
    expect(
      parseNotFound(
        `Operation failed: QueueDeclare; 404 (NOT-FOUND) with message "NOT_FOUND - no queue 'q' in vhost '/'"`,
      ),
    ).toEqual({ kind: 'queue', name: 'q' });
  });

  it('is undefined for other texts', () => {
    expect(parseNotFound('NOT_FOUND - gone')).toBeUndefined();
  });
});

describe('isConnectionError', () => {
  it('judges a Wakame error by its cause, then by its class', () => {
    const amqFoo = fromAmqpError(
      rpcFailure(403, "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'"),
    );
    expect(amqFoo).toBeInstanceOf(AccessRefusedError);
    expect(isConnectionError(amqFoo)).toBe(false); // only the channel closed
    expect(isConnectionError(new ConnectionClosedError('gone'))).toBe(true);
    expect(isConnectionError(new ChannelError('gone'))).toBe(false);
    expect(isConnectionError(new ChannelError('wrapped', { cause: new TypeError('unrelated') }))).toBe(false);
    expect(isConnectionError(new MessageStateError('twice'))).toBe(false);
  });
});
