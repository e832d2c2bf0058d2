/**
 * Plain entity specs for planner tests: an exchange, a queue and a queue binding with the broker's
 * defaults, so a test writes only what it is about.
 */
import type { BindingSpec, Capabilities, ExchangeSpec, QueueSpec } from '../../src/transport/spi.js';

export const exchange = (name: string, type: ExchangeSpec['type'] = 'direct'): ExchangeSpec => ({
  name,
  type,
  durable: true,
  autoDelete: false,
  internal: false,
  arguments: {},
});

export const queue = (name: string, extra: Partial<QueueSpec> = {}): QueueSpec => ({
  name,
  durable: true,
  exclusive: false,
  autoDelete: false,
  arguments: {},
  ...extra,
});

/** `source` → queue `destination`, keyed by the queue's name unless `routingKey` says otherwise. */
export const binding = (source: string, destination: string, routingKey = destination): BindingSpec => ({
  source,
  destination,
  destinationType: 'queue',
  routingKey,
  arguments: {},
});

/** A transport that can do everything the classic rules check (every exchange and queue type, every argument). */
export const allCapabilities: Capabilities = {
  exchangeTypes: new Set(['direct', 'topic', 'fanout', 'headers']),
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
  queueTypes: new Set(['classic', 'quorum', 'stream']),
  heartbeats: true,
};
