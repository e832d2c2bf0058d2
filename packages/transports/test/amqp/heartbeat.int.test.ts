import { once } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { Connection, ConnectionError, Queue, type TransportStatus } from '@wakame/core';
import { AMQP_URL, brokerGate, management, RABBITMQ_MANAGEMENT_URL, randomName, waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const gate = await brokerGate('amqp heartbeat', { name: 'rabbitmq-management', url: RABBITMQ_MANAGEMENT_URL });

const broker = new URL(AMQP_URL.replace(/^amqp/, 'http'));

/**
 * A TCP proxy in front of RabbitMQ that can go silent: while `forwarding` is off it keeps every socket
 * open and drops the bytes both ways (a peer that vanished without a FIN), and refuses new connections so
 * that recovery attempts fail fast instead of hanging on a handshake.
 */
class SilentProxy {
  forwarding = true;
  /** Local ports of the proxy's connections to RabbitMQ: the management API's `peer_port`. */
  readonly upstreamPorts: number[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor() {
    this.#server = createServer((client) => {
      if (!this.forwarding) {
        client.destroy();
        return;
      }
      const upstream = tcpConnect({ host: broker.hostname, port: Number(broker.port || 5672) });
      upstream.on('connect', () => this.upstreamPorts.push(upstream.localPort as number));
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.#sockets.add(from);
        from.on('data', (chunk) => {
          if (this.forwarding) to.write(chunk);
        });
        from.on('error', () => undefined);
        from.on('close', () => {
          this.#sockets.delete(from);
          // A silent peer sends no FIN either: only pass a close on while forwarding.
          if (this.forwarding) to.destroy();
        });
      }
    });
  }

  async listen(): Promise<string> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    const { port } = this.#server.address() as { port: number };
    const target = new URL(AMQP_URL);
    target.host = `127.0.0.1:${port}`;
    return target.toString();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

interface ListedConnection {
  readonly peer_port: number;
  readonly timeout?: number;
}

/** The management API's view of the connection the proxy opened from `port`, once listed. */
async function listed(port: number): Promise<ListedConnection> {
  return waitFor(
    async () =>
      ((await management<ListedConnection[]>('GET', 'connections')) ?? []).find(
        (c) => c.peer_port === port && c.timeout !== undefined,
      ),
    { timeoutMs: 15_000, intervalMs: 100, what: `the connection from port ${port} in the management API` },
  );
}

describe.skipIf(gate === 'skip')('amqp heartbeats', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function through(heartbeat: number): Promise<{ proxy: SilentProxy; connection: Connection }> {
    const proxy = new SilentProxy();
    const url = await proxy.listen();
    cleanup.push(() => proxy.close());
    const connection = await Connection.open(url, {
      heartbeat,
      connectTimeoutMs: 5_000,
      recovery: { initialDelayMs: 50, maxDelayMs: 250 },
    });
    cleanup.push(() => connection.close());
    return { proxy, connection };
  }

  it('negotiates the configured heartbeat with RabbitMQ', async () => {
    const { proxy } = await through(5);
    const live = await listed(proxy.upstreamPorts[0] as number);
    expect(live.timeout).toBe(5);
  });

  // How fast (2-3 intervals: amqplib fails after two silent checks) is measured, not asserted: a
  // bound on elapsed time would fail on a loaded machine. The test holds the detection itself.
  it('detects a silent peer by its heartbeats with a typed error, then recovers', async () => {
    const heartbeat = 1;
    const { proxy, connection } = await through(heartbeat);
    expect((await listed(proxy.upstreamPorts[0] as number)).timeout).toBe(heartbeat);
    const queue = new Queue(randomName('heartbeat'), { autoDelete: false, durable: false });
    await connection.declare(queue);
    cleanup.push(async () => void (await connection.admin.deleteQueue(queue.name).catch(() => undefined)));

    const statuses: TransportStatus[] = [];
    const lost = new Promise<{ error: Error }>((resolve) =>
      connection.events.once('connection.lost', (e) => resolve({ error: e.payload.error })),
    );
    const unlisten = connection.transport.onStatus((s) => statuses.push(s));
    cleanup.push(async () => unlisten());

    proxy.forwarding = false;
    const { error } = await lost;
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'ERR_CONNECTION_CLOSED', message: expect.stringContaining('heartbeat') });
    expect(statuses[0]).toMatchObject({ type: 'reconnecting', attempt: 1 });

    proxy.forwarding = true;
    await waitFor(() => statuses.some((s) => s.type === 'reconnected'), {
      timeoutMs: 15_000,
      intervalMs: 20,
      what: 'the connection to recover through the proxy',
    });
    await connection.producer().publish({ after: 'recovery' }, { routingKey: queue.name });
    const message = await waitFor(() => connection.getMessage(queue.name), {
      what: 'the message published after recovery',
    });
    expect(message.payload).toEqual({ after: 'recovery' });
    await message.ack();
  });
});
