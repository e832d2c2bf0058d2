/**
 * The broker-error mapping against a real RabbitMQ: each error is provoked with raw amqplib, so the tests check the
 * texts and shapes the broker and amqplib really produce, not our idea of them.
 */
import { randomUUID } from 'node:crypto';
import {
  AccessRefusedError,
  ChannelError,
  ConnectionClosedError,
  ConnectionError,
  MessageStateError,
  NotFoundError,
  PreconditionFailedError,
  TopologyConflictError,
  UnroutableError,
} from '@wakame/core/spi';
import { AMQP_URL, brokerGate, RABBITMQ_MANAGEMENT_URL, waitFor } from '@wakame/testkit';
import amqplib, { type Channel, type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { fromAmqpError, isConnectionError } from '../../src/amqp/errors.js';

const gate = await brokerGate('amqp errors', { name: 'rabbitmq', url: AMQP_URL });
const managementGate = await brokerGate('amqp errors (management)', {
  name: 'rabbitmq-management',
  url: RABBITMQ_MANAGEMENT_URL,
});

const broker = new URL(AMQP_URL);
const vhost = decodeURIComponent(broker.pathname.slice(1)) || '/';

/** Resolves with what `promise` rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected the broker to refuse'),
    (error: unknown) => error,
  );
}

/** The first 'error' event of a channel or connection. */
function nextError(emitter: Channel | ChannelModel): Promise<Error> {
  return new Promise((resolve) => emitter.once('error', resolve));
}

describe.skipIf(gate === 'skip')('fromAmqpError against RabbitMQ', () => {
  const connections: ChannelModel[] = [];
  const queues: string[] = [];
  const exchanges: string[] = [];

  async function connect(name = 'errors'): Promise<ChannelModel> {
    const conn = await amqplib.connect(AMQP_URL, { clientProperties: { connection_name: `${name} ${process.pid}` } });
    // The broker's 5xx closes are emitted as 'error'; each test observes them through nextError() instead.
    conn.on('error', () => {});
    connections.push(conn);
    return conn;
  }

  /** A fresh channel: most provoked errors close the channel they happen on. */
  async function channel(conn: ChannelModel): Promise<Channel> {
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    return ch;
  }

  function name(prefix = 't'): string {
    return `${prefix}-${randomUUID()}`;
  }

  afterEach(async () => {
    const admin = await amqplib.connect(AMQP_URL);
    try {
      for (const q of queues.splice(0)) {
        const ch = await admin.createChannel();
        ch.on('error', () => {});
        await ch.deleteQueue(q).catch(() => {});
      }
      for (const x of exchanges.splice(0)) {
        const ch = await admin.createChannel();
        ch.on('error', () => {});
        await ch.deleteExchange(x).catch(() => {});
      }
    } finally {
      await admin.close();
    }
    for (const conn of connections.splice(0)) await conn.close().catch(() => {});
  });

  describe('406 inequivalent redeclarations → TopologyConflictError', () => {
    async function conflictOnQueue(first: amqplib.Options.AssertQueue, second: amqplib.Options.AssertQueue) {
      const conn = await connect();
      const q = name();
      queues.push(q);
      await (await channel(conn)).assertQueue(q, first);
      const raw = await rejection((await channel(conn)).assertQueue(q, second));
      const error = fromAmqpError(raw, { operation: 'declareQueue' });
      expect(error).toBeInstanceOf(TopologyConflictError);
      expect(error.code).toBe('ERR_TOPOLOGY_CONFLICT');
      expect(error).toHaveProperty('entity', { kind: 'queue', name: q });
      expect(error.cause).toBe(raw);
      expect(isConnectionError(raw)).toBe(false);
      return error as TopologyConflictError;
    }

    it('x-max-priority declared where none exists', async () => {
      const error = await conflictOnQueue({}, { arguments: { 'x-max-priority': 5 } });
      expect(error.differences).toEqual([{ property: 'arguments.x-max-priority', expected: 5, actual: undefined }]);
      expect(error.message).toContain('arguments.x-max-priority: declared 5, exists as (unset)');
    });

    it('x-max-priority left out where one exists', async () => {
      const error = await conflictOnQueue({ arguments: { 'x-max-priority': 5 } }, {});
      expect(error.differences).toEqual([{ property: 'arguments.x-max-priority', expected: undefined, actual: 5 }]);
    });

    it('x-max-priority changed', async () => {
      const error = await conflictOnQueue(
        { arguments: { 'x-max-priority': 5 } },
        { arguments: { 'x-max-priority': 7 } },
      );
      expect(error.differences).toEqual([{ property: 'arguments.x-max-priority', expected: 7, actual: 5 }]);
    });

    it('durable flipped', async () => {
      const error = await conflictOnQueue({ durable: true }, { durable: false });
      expect(error.differences).toEqual([{ property: 'durable', expected: false, actual: true }]);
    });

    it('auto_delete flipped → autoDelete', async () => {
      const error = await conflictOnQueue({ autoDelete: false }, { autoDelete: true });
      expect(error.differences).toEqual([{ property: 'autoDelete', expected: true, actual: false }]);
    });

    it('a string argument changed', async () => {
      const error = await conflictOnQueue(
        { arguments: { 'x-dead-letter-exchange': 'dlx' } },
        { arguments: { 'x-dead-letter-exchange': 'other' } },
      );
      expect(error.differences).toEqual([
        { property: 'arguments.x-dead-letter-exchange', expected: 'other', actual: 'dlx' },
      ]);
    });

    it('exchange type changed', async () => {
      const conn = await connect();
      const x = name('tx');
      exchanges.push(x);
      await (await channel(conn)).assertExchange(x, 'direct');
      const raw = await rejection((await channel(conn)).assertExchange(x, 'topic'));
      const error = fromAmqpError(raw);
      expect(error).toBeInstanceOf(TopologyConflictError);
      expect(error).toHaveProperty('entity', { kind: 'exchange', name: x });
      expect(error).toHaveProperty('differences', [{ property: 'type', expected: 'topic', actual: 'direct' }]);
      expect(error.message).toBe(
        `exchange '${x}' already exists with different properties (type: declared "topic", exists as "direct")`,
      );
    });
  });

  describe('404 → NotFoundError', () => {
    it('passive check of a missing exchange', async () => {
      const x = name('nope');
      const raw = await rejection((await channel(await connect())).checkExchange(x));
      const error = fromAmqpError(raw);
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error.code).toBe('ERR_NOT_FOUND');
      expect(error).toHaveProperty('entity', { kind: 'exchange', name: x });
      expect(error.message).toBe(`exchange '${x}' not found`);
    });

    it('passive check of a missing queue', async () => {
      const q = name('nope');
      const error = fromAmqpError(await rejection((await channel(await connect())).checkQueue(q)));
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).toHaveProperty('entity', { kind: 'queue', name: q });
    });

    it('binding a missing queue names the queue', async () => {
      const q = name('nope');
      const error = fromAmqpError(await rejection((await channel(await connect())).bindQueue(q, 'amq.direct', 'k')));
      expect(error).toHaveProperty('entity', { kind: 'queue', name: q });
    });

    it('publishing to a missing exchange on a confirm channel', async () => {
      const conn = await connect();
      const ch: ConfirmChannel = await conn.createConfirmChannel();
      const closed = nextError(ch);
      const x = name('nope');
      const confirm = new Promise<unknown>((resolve) => {
        ch.publish(x, 'k', Buffer.from('x'), {}, (err: unknown) => resolve(err));
      });
      const raw = await closed;
      const error = fromAmqpError(raw);
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).toHaveProperty('entity', { kind: 'exchange', name: x });
      expect(isConnectionError(raw)).toBe(false);
      // The message's own confirm is lost with the channel: a retriable channel-level failure.
      const lost = fromAmqpError(await confirm);
      expect(lost).toBeInstanceOf(ChannelError);
      expect(lost).toHaveProperty('recovery', 'channel');
      expect(lost.retriable).toBe(true);
    });
  });

  it('406 delete ifEmpty of a non-empty queue → PreconditionFailedError', async () => {
    const conn = await connect();
    const q = name();
    queues.push(q);
    const ch = await channel(conn);
    await ch.assertQueue(q);
    ch.sendToQueue(q, Buffer.from('x'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1, { what: 'the message to be queued' });
    const error = fromAmqpError(await rejection(ch.deleteQueue(q, { ifEmpty: true })), { operation: 'deleteQueue' });
    expect(error).toBeInstanceOf(PreconditionFailedError);
    expect(error.code).toBe('ERR_PRECONDITION_FAILED');
    expect(error.message).toBe(
      `deleteQueue failed: queue '${q}' in vhost '${vhost}' not empty (AMQP 406 PRECONDITION_FAILED)`,
    );
  });

  it('406 unknown delivery tag → MessageStateError', async () => {
    const ch = await channel(await connect());
    const closed = nextError(ch);
    ch.ack({ fields: { deliveryTag: 5 } } as Message);
    const raw = await closed;
    const error = fromAmqpError(raw);
    expect(error).toBeInstanceOf(MessageStateError);
    expect(error.message).toContain('unknown delivery tag 5');
    expect(isConnectionError(raw)).toBe(false);
  });

  it("403 declaring 'amq.foo' → AccessRefusedError that closed only the channel", async () => {
    const raw = await rejection((await channel(await connect())).assertExchange('amq.foo', 'direct'));
    const error = fromAmqpError(raw);
    expect(error).toBeInstanceOf(AccessRefusedError);
    expect(error.code).toBe('ERR_ACCESS_REFUSED');
    expect(error.message).toBe("exchange name 'amq.foo' contains reserved prefix 'amq.*' (AMQP 403 ACCESS_REFUSED)");
    expect(isConnectionError(raw)).toBe(false);
    expect(isConnectionError(error)).toBe(false);
  });

  it('403 wrong password → AccessRefusedError without the password', async () => {
    const password = `wrong-${randomUUID()}`;
    const raw = await rejection(
      amqplib.connect({
        protocol: broker.protocol.replace(':', ''),
        hostname: broker.hostname,
        port: Number(broker.port || 5672),
        username: decodeURIComponent(broker.username) || 'guest',
        password,
        vhost,
      }),
    );
    const error = fromAmqpError(raw, { operation: 'connect' });
    expect(error).toBeInstanceOf(AccessRefusedError);
    expect(error.retriable).toBe(false);
    expect(error.message).toContain('username or password is wrong');
    expect(error.message).not.toContain(password);
    expect(String(raw)).not.toContain(password);
    expect(isConnectionError(raw)).toBe(true);
  });

  it('an unknown virtual host → AccessRefusedError', async () => {
    const raw = await rejection(
      amqplib.connect({
        hostname: broker.hostname,
        port: Number(broker.port || 5672),
        username: decodeURIComponent(broker.username) || 'guest',
        password: decodeURIComponent(broker.password) || 'guest',
        vhost: name('no-vhost'),
      }),
    );
    expect(fromAmqpError(raw)).toBeInstanceOf(AccessRefusedError);
  });

  it('405 consuming an exclusive queue of another connection → PreconditionFailedError', async () => {
    const owner = await connect('owner');
    const { queue } = await (await channel(owner)).assertQueue('', { exclusive: true });
    const other = await connect('other');
    const raw = await rejection((await channel(other)).consume(queue, () => {}));
    const error = fromAmqpError(raw);
    expect(error).toBeInstanceOf(PreconditionFailedError);
    expect(error.message).toBe(
      `queue '${queue}' is exclusive to another connection (or declared differently) (AMQP 405 RESOURCE_LOCKED)`,
    );
    expect(isConnectionError(raw)).toBe(false);
  });

  it('503 unknown exchange type closes the connection → ConnectionError', async () => {
    const conn = await connect();
    const closed = nextError(conn);
    const ch = await channel(conn);
    const pending = rejection(ch.assertExchange(name('tx'), 'no-such-type'));
    const raw = await closed;
    const error = fromAmqpError(raw);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toBe(
      "the broker closed the connection: unknown exchange type 'no-such-type' (AMQP 503 COMMAND_INVALID)",
    );
    expect(isConnectionError(raw)).toBe(true);
    // The RPC that was waiting only learns its channel ended; using the channel afterwards is illegal.
    expect(fromAmqpError(await pending)).toBeInstanceOf(ChannelError);
    const illegal = await rejection(Promise.resolve().then(() => ch.assertQueue(name())));
    expect(fromAmqpError(illegal)).toBeInstanceOf(ChannelError);
    expect(fromAmqpError(await rejection(conn.createChannel()))).toBeInstanceOf(ConnectionClosedError);
  });

  it('a closed channel → retriable ChannelError with recovery channel', async () => {
    const ch = await channel(await connect());
    await ch.close();
    const raw = await rejection(Promise.resolve().then(() => ch.assertQueue(name())));
    const error = fromAmqpError(raw);
    expect(error).toBeInstanceOf(ChannelError);
    expect(error).toHaveProperty('recovery', 'channel');
    expect(error.retriable).toBe(true);
  });

  it('312 a mandatory message nobody receives → UnroutableError', async () => {
    const ch = await channel(await connect());
    const returned = new Promise<Message>((resolve) => ch.once('return', resolve));
    const key = name('nowhere');
    ch.publish('amq.direct', key, Buffer.from('x'), { mandatory: true });
    const error = fromAmqpError(await returned);
    expect(error).toBeInstanceOf(UnroutableError);
    expect(error).toHaveProperty('exchange', 'amq.direct');
    expect(error).toHaveProperty('routingKey', key);
  });

  it('ECONNREFUSED names host and port', async () => {
    const raw = await rejection(amqplib.connect({ hostname: '127.0.0.1', port: 1 }));
    const error = fromAmqpError(raw);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toBe('cannot connect to 127.0.0.1:1: connection refused (ECONNREFUSED)');
    expect(error.retriable).toBe(true);
  });

  it.skipIf(managementGate === 'skip')(
    '320 closed via management → ConnectionClosedError',
    async () => {
      const label = name('forced');
      const conn = await connect(label);
      const closed = new Promise<unknown>((resolve) => conn.once('close', resolve));
      const management = new URL(RABBITMQ_MANAGEMENT_URL);
      const auth = `Basic ${Buffer.from(`${decodeURIComponent(management.username)}:${decodeURIComponent(management.password)}`).toString('base64')}`;
      const base = `${management.protocol}//${management.host}`;
      const target = await waitFor(
        async () => {
          const response = await fetch(`${base}/api/connections`, { headers: { authorization: auth } });
          const list = (await response.json()) as { name: string; client_properties?: { connection_name?: string } }[];
          return list.find((c) => c.client_properties?.connection_name === `${label} ${process.pid}`)?.name;
        },
        { timeoutMs: 15_000, intervalMs: 250, what: 'the management API to list the connection' },
      );
      await fetch(`${base}/api/connections/${encodeURIComponent(target)}`, {
        method: 'DELETE',
        headers: { authorization: auth, 'x-reason': 'errors test' },
      });
      const raw = await closed;
      const error = fromAmqpError(raw);
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.message).toBe('the broker closed the connection: errors test (AMQP 320 CONNECTION_FORCED)');
      expect(error).toHaveProperty('recovery', 'connection');
      expect(isConnectionError(raw)).toBe(true);
    },
    30_000,
  );
});
