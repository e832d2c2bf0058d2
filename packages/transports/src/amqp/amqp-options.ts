/** What the AMQP transport can do, and the options it takes. */
import type { Capabilities } from '@wakame/core/spi';
import { POLICY_KEYS } from '@wakame/core/spi';
import type { TlsOptions } from '../internal/tls.js';

/** Transport-specific options, passed as `transportOptions` of the connection. */
export interface AmqpOptions extends TlsOptions {
  /**
   * Management API base URL for `inspect()` and the stack records of `wakame apply` (which log in with
   * credentials given in it, else with the broker URL's). @defaultValue `http://<host>:15672`
   */
  readonly managementUrl?: string;
  /** Deadline of a publish, including waiting through a reconnect. @defaultValue `30_000` */
  readonly publishTimeoutMs?: number;
}

export const DEFAULT_PUBLISH_TIMEOUT_MS = 30_000;

/** What RabbitMQ can do: everything the SPI describes. */
export const AMQP_CAPABILITIES: Capabilities = Object.freeze({
  exchangeTypes: new Set(['direct', 'topic', 'fanout', 'headers'] as const),
  exchangeToExchange: true,
  priority: true,
  messageTtl: true,
  queueExpires: true,
  maxLength: true,
  deadLetter: true,
  alternateExchange: true,
  confirms: true,
  mandatory: true,
  persistence: true,
  crossProcess: true,
  queueTypes: new Set(['classic', 'quorum', 'stream'] as const),
  heartbeats: true,
  directReplyTo: true,
  brokerEntities: new Set(['vhost', 'user', 'permission', 'topic-permission', 'policy', 'operator-policy'] as const),
  policyKeys: new Set(Object.keys(POLICY_KEYS)),
  queueMigration: true,
});
