/**
 * Opening AMQP connections, and the small helpers around the connection's life: its deadline,
 * an abort while connecting, what the broker said about itself, and how a quick loss is counted.
 */
import type { BrokerUrl, TransportOptions } from '@wakame/core/spi';
import { ConnectionClosedError, TimeoutError } from '@wakame/core/spi';
import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { tlsConnectOptions } from '../internal/tls.js';
import type { AmqpOptions } from './amqp-options.js';
import { fromAmqpError } from './errors.js';

/**
 * A connection lost this soon after it became ready counts as a failed attempt: the next reconnect
 * backs off further instead of starting over (a broker that accepts and then closes at once —
 * a refused subscription, a node still starting — would otherwise be hammered in a tight loop).
 */
const FLAP_WINDOW_MS = 5_000;

/** Opens one AMQP connection to `url` (TLS, heartbeat, Nagle off, a connection name RabbitMQ shows). */
export async function openAmqpConnection(
  url: BrokerUrl,
  options: TransportOptions,
  extra: AmqpOptions,
  signal?: AbortSignal,
): Promise<ChannelModel> {
  const tls = url.tls ? tlsConnectOptions(url, extra) : {};
  const opening = amqplib.connect(
    {
      protocol: url.tls ? 'amqps' : 'amqp',
      hostname: url.hostname,
      ...(url.port !== undefined ? { port: url.port } : {}),
      username: url.username ?? 'guest',
      password: url.password ?? 'guest',
      vhost: url.vhost,
      heartbeat: options.heartbeat,
    },
    {
      // Nagle's algorithm holds small frames back ~40 ms: fatal for latency, useless for throughput here.
      noDelay: true,
      timeout: options.connectTimeoutMs,
      keepAlive: true,
      clientProperties: { connection_name: `wakame ${process.pid}`, product: 'wakame' },
      ...tls,
    },
  );
  try {
    return await abortable(opening, signal);
  } catch (error) {
    throw fromAmqpError(error);
  }
}

/**
 * The attempt number a recovery starts at: 1 after a connection that lived, one past the attempt that
 * opened it when it was lost within {@link FLAP_WINDOW_MS} of becoming ready (the backoff goes on growing).
 */
export function firstAttemptAfterLoss(wasReady: boolean, livedMs: number, openedOnAttempt: number): number {
  return wasReady && livedMs < FLAP_WINDOW_MS ? openedOnAttempt + 1 : 1;
}

/** The cluster name RabbitMQ announced in connection.start (its server properties), when it did. */
export function clusterNameOf(conn: ChannelModel): string | undefined {
  const properties = (conn as unknown as { connection?: { serverProperties?: Record<string, unknown> } }).connection
    ?.serverProperties;
  const name = properties?.cluster_name;
  return typeof name === 'string' ? name : Buffer.isBuffer(name) ? name.toString() : undefined;
}

/**
 * amqplib never settles a basic.get whose reply was cut off by the connection failing (say, a frame
 * it could not parse): race the reply against the channel closing so the caller hears of it.
 */
export function untilClosed<T>(ch: Channel, reply: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onClose = (): void => reject(new ConnectionClosedError('the channel closed before the broker answered'));
    ch.once('close', onClose);
    reply.then(
      (value) => {
        ch.removeListener('close', onClose);
        resolve(value);
      },
      (error: unknown) => {
        ch.removeListener('close', onClose);
        reject(error);
      },
    );
  });
}

/** Rejects when `signal` aborts; a connection that opens afterwards is closed, never leaked. */
function abortable(opening: Promise<ChannelModel>, signal: AbortSignal | undefined): Promise<ChannelModel> {
  if (!signal) return opening;
  if (signal.aborted) {
    opening.then((c) => c.close()).catch(() => undefined);
    return Promise.reject(signal.reason instanceof Error ? signal.reason : new TimeoutError('connect aborted'));
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      opening.then((c) => c.close()).catch(() => undefined);
      reject(signal.reason instanceof Error ? signal.reason : new TimeoutError('connect aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    opening.then(
      (c) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) c.close().catch(() => undefined);
        else resolve(c);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
