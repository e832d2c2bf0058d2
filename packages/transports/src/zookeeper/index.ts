/**
 * ZooKeeper transport (virtual), on node-zookeeper-client: queues are znodes whose sequential children
 * are the messages, with the priority in each child's name; consumers wake on watches, not polls;
 * exchanges, bindings, policies and stack records are znodes too, so every process on the ensemble
 * routes the same way.
 *
 * URL: `zookeeper://host[:2181]/[root][?options]`. The path is the root znode everything lives under
 * (created when missing), like kombu's virtual host. Options:
 * - `layout=kombu`: kombu's `zookeeper://` layout (kazoo's `Queue` recipe, `/<root>/<queue>/entry-…`,
 *   kombu's JSON envelope) to share queues with Python services; a claim deletes the entry, as kombu's
 *   does, so a process killed while holding messages loses them. The default `wakame` layout claims
 *   with ephemeral znodes instead: a killed process's messages come back when its session expires;
 * - `session_timeout=10000`: ms the ensemble keeps a silent session, and with it its claims (the
 *   ensemble clamps it to its own bounds, 2 to 20 ticks by default): how soon a killed consumer's
 *   messages are delivered again;
 * - `ensemble=host:port,host:port`: further servers of the ensemble beside the URL's host;
 * - `max_node_bytes=1000000`: the largest message entry written (ZooKeeper's `jute.maxbuffer`, about
 *   1 MiB by default, bounds a znode's data; a larger publish is refused with `ERR_PAYLOAD_TOO_LARGE`).
 *
 * | exchange types | priority | TTL | dead-letter | persistence | cross-process |
 * |----------------|----------|-----|-------------|-------------|---------------|
 * | direct, topic, fanout, headers (+ exchange-to-exchange) | yes (0–255; kombu layout: kombu's 10 steps) | yes | yes | yes | yes |
 *
 * @module @wakame/transports/zookeeper
 */
import type { BrokerUrl, Transport, TransportFactory, TransportOptions } from '@wakame/core/spi';
import { InvalidArgumentError, VirtualTransport } from '@wakame/core/spi';
import { rootOf, type ZkLayoutName } from './layout.js';
import { DEFAULT_MAX_NODE_BYTES, ZooKeeperStore } from './zookeeper-store.js';

export type { BlobRef } from './blobs.js';
export { EntryFormatError, encodeEntry } from './entry-codec.js';
export type { ZkLayoutName } from './layout.js';
export { ZkSession, type ZkSessionOptions, ZooKeeperError } from './session.js';
export { TopologyDocumentError } from './zk-topology.js';
export { DEFAULT_MAX_NODE_BYTES, ZooKeeperStore, type ZooKeeperStoreOptions } from './zookeeper-store.js';

/** ZooKeeper's client port, used when the URL names none. */
export const DEFAULT_ZOOKEEPER_PORT = 2181;
/** The session timeout asked for when the URL names none (ms). */
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

/** The factory the `zookeeper` URL scheme resolves to. */
export const zookeeperTransport: TransportFactory = (url: BrokerUrl, options: TransportOptions): Transport => {
  const layout = layoutOf(url);
  const root = rootOf(url.path);
  const first = `${url.hostname || '127.0.0.1'}:${url.port ?? DEFAULT_ZOOKEEPER_PORT}`;
  const extra = (url.query.ensemble ?? '').split(',').filter((h) => h !== '');
  for (const h of extra) {
    if (!/^[^\s:,/]+:\d{1,5}$/.test(h)) {
      throw new InvalidArgumentError(`zookeeper:// option ensemble must list host:port pairs, got '${h}'`);
    }
  }
  const hosts = [first, ...extra.filter((h) => h !== first)].join(',');
  const store = new ZooKeeperStore({
    session: {
      hosts,
      sessionTimeoutMs: integer(url, 'session_timeout', DEFAULT_SESSION_TIMEOUT_MS, 1),
      connectTimeoutMs: options.connectTimeoutMs,
      where: hosts,
    },
    layout,
    root,
    maxNodeBytes: integer(url, 'max_node_bytes', DEFAULT_MAX_NODE_BYTES, 1024),
    identity: `zookeeper://${hosts}${root}?layout=${layout}`,
    onError: () => {},
  });
  return new VirtualTransport(store, {
    onError: () => {},
    vhost: url.vhost,
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
  });
};

function layoutOf(url: BrokerUrl): ZkLayoutName {
  const layout = url.query.layout ?? 'wakame';
  if (layout !== 'wakame' && layout !== 'kombu') {
    throw new InvalidArgumentError(`zookeeper:// option layout must be wakame or kombu, got '${layout}'`);
  }
  return layout;
}

function integer(url: BrokerUrl, name: string, fallback: number, min: number): number {
  const text = url.query[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(`zookeeper:// option ${name} must be an integer of at least ${min}, got '${text}'`);
  }
  return value;
}
