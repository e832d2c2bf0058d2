/**
 * beanstalkd transport (virtual), on an in-tree client: each queue is a tube, each message a job;
 * exchanges, bindings, TTL, dead-lettering and priorities 0–255 come from the virtual transport.
 *
 * URL: `beanstalk://host[:11300][?options]`. Options:
 * - `prefix=app.`: put before every tube name, so several applications (or tests) share one server;
 * - `ttr=60`: each job's time-to-run in seconds. A claimed message is touched every third of it while its
 *   consumer lives, and goes back to its queue when its connection closes (a killed process included) or,
 *   for a process that hangs, when its TTR runs out;
 * - `topology_check=publish`: before routing, publishes check that the topology record is unchanged (one
 *   `stats-tube` shared by the publishes of one moment), so a binding another process just declared is
 *   honoured; `poll` routes by the record as last polled instead (faster, but up to `topology_poll` stale);
 * - `topology_poll=500`: how often (ms) each process reads the topology record again (idle consumers
 *   learn of a queue deleted elsewhere this way).
 *
 * The topology is one JSON job in the tube `<prefix>(wakame)topology`, replaced under a reservation (the
 * server's own lock, which a dying writer gives back). Consumers wait in `reserve-with-timeout` on a
 * connection per queue, so nothing polls message tubes.
 *
 * | exchange types | priority | TTL | dead-letter | persistence | cross-process |
 * |----------------|----------|-----|-------------|-------------|---------------|
 * | direct, topic, fanout, headers (+ exchange-to-exchange) | yes | yes | yes | as beanstalkd's binlog (`-b`) | yes |
 *
 * @module @wakame/transports/beanstalk
 */
import type { BrokerUrl, Transport, TransportFactory, TransportOptions } from '@wakame/core/spi';
import { InvalidArgumentError, VirtualTransport } from '@wakame/core/spi';
import { BeanstalkStore } from './beanstalk-store.js';
import { BeanstalkClient } from './client.js';
import { checkPrefix } from './jobs.js';

export { BeanstalkStore, type BeanstalkStoreOptions } from './beanstalk-store.js';
export { BeanstalkClient, BeanstalkCommandError, type ClientOptions, type Job } from './client.js';
export { type DecodedJob, decodeJob, encodeJob, jobPriority, queueTube } from './jobs.js';
export { ProtocolViolation, type Reply, ReplyParser } from './reply-parser.js';

/** The port beanstalkd listens on unless told otherwise. */
export const DEFAULT_BEANSTALK_PORT = 11300;
/** @defaultValue of the `ttr` URL option (seconds). */
export const DEFAULT_TTR_SECONDS = 60;
/** @defaultValue of the `topology_poll` URL option (ms). */
export const DEFAULT_TOPOLOGY_POLL_MS = 500;

/** The factory the `beanstalk` URL scheme resolves to. */
export const beanstalkTransport: TransportFactory = (url: BrokerUrl, options: TransportOptions): Transport => {
  const q = url.query;
  const host = url.hostname || '127.0.0.1';
  const port = url.port ?? DEFAULT_BEANSTALK_PORT;
  const prefix = checkPrefix(q.prefix ?? '');
  const ttrSeconds = integerOption('ttr', q.ttr, DEFAULT_TTR_SECONDS, 2, 86_400);
  const topologyPollMs = integerOption('topology_poll', q.topology_poll, DEFAULT_TOPOLOGY_POLL_MS, 10, 60_000);
  const topologyCheck = q.topology_check ?? 'publish';
  if (topologyCheck !== 'publish' && topologyCheck !== 'poll') {
    throw new InvalidArgumentError(`beanstalk:// option topology_check is 'publish' or 'poll', got '${topologyCheck}'`);
  }
  const store = new BeanstalkStore({
    identity: `beanstalk://${host}:${port}/${prefix}`,
    server: `${host}:${port}`,
    prefix,
    ttrSeconds,
    topologyPollMs,
    topologyCheck,
    ...(options.recovery ? { recovery: options.recovery } : {}),
    connect: (signal) =>
      BeanstalkClient.connect({
        host,
        port,
        connectTimeoutMs: options.connectTimeoutMs,
        ...(signal ? { signal } : {}),
      }),
    // Background work (a touch, a topology poll, a waiter) fails while the server is away and is tried again.
    onError: () => undefined,
  });
  return new VirtualTransport(store, {
    vhost: url.vhost,
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
  });
};

function integerOption(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(
      `beanstalk:// option ${name} must be an integer from ${min} to ${max}, got '${text}'`,
    );
  }
  return n;
}
