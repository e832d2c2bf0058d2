/**
 * File transport (virtual): the embedded, zero-setup broker. URL: `file://./.wakame` (relative to
 * the working directory), `file:///abs/path`; `file://` alone means `./.wakame`. Query options:
 * `fsync=1` (flush every batch file to disk before its publishes resolve: one fsync per turn's publishes to a queue), `lease=30000` (ms a crashed
 * process's claimed messages are held before they are restored).
 *
 * | exchange types | priority | TTL | dead-letter | persistence | cross-process |
 * |----------------|----------|-----|-------------|-------------|---------------|
 * | direct, topic, fanout, headers (+ exchange-to-exchange) | yes | yes | yes | yes | yes |
 *
 * @module @wakame/transports/file
 */
import { resolve } from 'node:path';
import type { BrokerUrl, Transport, TransportFactory, TransportOptions } from '@wakame/core/spi';
import { InvalidArgumentError, VirtualTransport } from '@wakame/core/spi';
import { FileStore, type FileStoreOptions } from './file-store.js';

export { FileStore, type FileStoreOptions } from './file-store.js';
export { FILE_FORMAT, FileFormatError } from './format.js';
export { TopologyFile } from './topology-file.js';

/** The directory used when a `file://` URL names none. */
export const DEFAULT_FILE_ROOT = './.wakame';

/** The factory the `file` URL scheme resolves to. */
export const fileTransport: TransportFactory = (url: BrokerUrl, transportOptions: TransportOptions): Transport => {
  const root = resolve(url.path === '' ? DEFAULT_FILE_ROOT : url.path);
  const lease = url.query.lease === undefined ? undefined : Number(url.query.lease);
  if (lease !== undefined && (!Number.isInteger(lease) || lease < 100)) {
    throw new InvalidArgumentError(
      `file:// option lease must be an integer of at least 100 ms, got '${url.query.lease}'`,
    );
  }
  let onError: (error: unknown) => void = () => {};
  const options: FileStoreOptions = {
    fsync: url.query.fsync === '1' || url.query.fsync === 'true',
    ...(lease !== undefined ? { leaseMs: lease } : {}),
    onError: (error) => onError(error),
  };
  // A body over the connection's bound is left unread: its size is the message file's less the header line.
  const transport = new VirtualTransport(new FileStore(root, options), {
    onError: (error) => onError(error),
    vhost: url.vhost,
    ...(transportOptions.maxBodyBytes !== undefined ? { maxBodyBytes: transportOptions.maxBodyBytes } : {}),
  });
  // Problems without a caller (a corrupt file moved aside) reach the connection's listeners as a status.
  onError = () => {};
  return transport;
};
