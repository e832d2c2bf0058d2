/**
 * AMQP 0-9-1 transport (native) on amqplib, for RabbitMQ.
 * URL: `amqp://user:pass@host:5672/vhost` (`amqp://host//` is vhost `/`), `amqps://` for TLS.
 *
 * | exchange types | priority | TTL | dead-letter | persistence | cross-process |
 * |----------------|----------|-----|-------------|-------------|---------------|
 * | direct, topic, fanout, headers (+ exchange-to-exchange, alternate) | yes (x-max-priority) | yes | yes | yes | yes |
 *
 * Publisher confirms are always on; recovery (reconnect, re-declare, re-consume, re-send
 * unconfirmed) is built in. Options go in the connection's `transportOptions` ({@link AmqpOptions}).
 *
 * @module @wakame/transports/amqp
 */
import type { BrokerUrl, Transport, TransportFactory, TransportOptions } from '@wakame/core/spi';
import { AmqpTransport } from './amqp-transport.js';

export { type AdminHost as AmqpAdminHost, AmqpAdmin, type ReplayResult, TopologyRecord } from './admin.js';
export { AMQP_CAPABILITIES, type AmqpOptions, DEFAULT_PUBLISH_TIMEOUT_MS } from './amqp-options.js';
export { AmqpTransport } from './amqp-transport.js';
export { RabbitBrokerAdmin, type RabbitBrokerAdminOptions } from './broker-admin.js';
export {
  type AmqpErrorContext,
  type CloseScope,
  fromAmqpError,
  REPLY_CODES,
  type ReplyCode,
  type WakameErrorClass,
} from './errors.js';
export { type ManagementEndpoint, managementBase, managementEndpoint } from './management.js';
export { type AmqpMigrationHost, type AmqpMigrationReport, migrateQueue } from './migrate-queue.js';
export {
  DEFAULT_HASHING_ALGORITHM,
  RABBIT_HASHING_ALGORITHMS,
  rabbitPasswordHash,
  rabbitPasswordMatches,
} from './password-hash.js';

/** The factory the `amqp` and `amqps` URL schemes resolve to. */
export const amqpTransport: TransportFactory = (url: BrokerUrl, options: TransportOptions): Transport =>
  new AmqpTransport(url, options);
