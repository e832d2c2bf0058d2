/**
 * Dead-lettering as RabbitMQ does it, for the virtual transport: the copy a queue dead-letters, with
 * RabbitMQ's `x-death` bookkeeping, and the rule that drops a message rather than let it cycle through
 * the same queues forever. Writing the same headers as RabbitMQ lets retry counters and tools that read
 * `x-death` work unchanged on every transport.
 *
 * @module
 */
import type { MessageProperties, OutboundMessage, QueueSpec } from '../transport/spi.js';
import type { StoredMessage } from './store.js';

/** Why a message was dead-lettered; RabbitMQ's vocabulary, so tools reading `x-death` understand it. */
export type DeathReason = 'rejected' | 'expired' | 'maxlen';

/** One entry of the `x-death` header, as RabbitMQ writes it. */
export interface DeathRecord {
  count: number;
  reason: DeathReason;
  queue: string;
  /** Seconds since the epoch. */
  time: number;
  exchange: string;
  'routing-keys': string[];
  'original-expiration'?: string;
}

/**
 * The message a queue dead-letters: same body and properties, an updated `x-death` history (one
 * entry per queue and reason, most recent first, with a count) and `x-first-death-*` /
 * `x-last-death-*` headers. The per-message expiration is removed so the copy does not expire again.
 */
export function deadLetterMessage(
  message: StoredMessage,
  queue: QueueSpec,
  reason: DeathReason,
  now = Date.now(),
): OutboundMessage {
  const { expiration, ...rest } = message.properties;
  const headers: Record<string, unknown> = { ...(rest.headers ?? {}) };
  const history = Array.isArray(headers['x-death']) ? (headers['x-death'] as DeathRecord[]).map((d) => ({ ...d })) : [];
  const i = history.findIndex((d) => d.queue === queue.name && d.reason === reason);
  const previous = i >= 0 ? history.splice(i, 1)[0] : undefined;
  const record: DeathRecord = {
    count: (previous?.count ?? 0) + 1,
    reason,
    queue: queue.name,
    time: Math.floor(now / 1000),
    exchange: message.exchange,
    'routing-keys': [message.routingKey],
    ...(expiration !== undefined ? { 'original-expiration': expiration } : {}),
  };
  history.unshift(record);
  headers['x-death'] = history;
  headers['x-first-death-queue'] ??= queue.name;
  headers['x-first-death-reason'] ??= reason;
  headers['x-first-death-exchange'] ??= message.exchange;
  headers['x-last-death-queue'] = queue.name;
  headers['x-last-death-reason'] = reason;
  headers['x-last-death-exchange'] = message.exchange;
  const properties: MessageProperties = { ...rest, headers };
  return { body: message.body, properties };
}

/** RabbitMQ drops a message that would dead-letter back into a queue it already died in for the same reason, unless a consumer rejected it (a cycle nobody breaks). */
export function isDeadLetterCycle(message: StoredMessage, targetQueue: string): boolean {
  const history = message.properties.headers?.['x-death'];
  if (!Array.isArray(history)) return false;
  const deaths = history as DeathRecord[];
  return deaths.some((d) => d.queue === targetQueue) && deaths.every((d) => d.reason !== 'rejected');
}
