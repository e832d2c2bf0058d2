/**
 * Wakame's plain-data declarations and properties ↔ amqplib's option objects. Kept apart from the
 * transport so the wire rules (kombu §4.1: expiration as a string of ms, delivery mode 2 by
 * default, timestamp in seconds) live in one place and are unit-tested without a broker.
 */
import type { ExchangeSpec, MessageProperties, QueueSpec } from '@wakame/core/spi';
import { exchangeArguments, toBrokerArguments } from '@wakame/core/spi';
import type { MessageProperties as AmqpProperties, Options } from 'amqplib';
import { kombuSafeHeaders } from './codec.js';

/** `assertQueue` options: every typed argument becomes its `x-*` entry (the same table RabbitMQ compares). */
export function toAssertQueue(spec: QueueSpec): Options.AssertQueue {
  return {
    durable: spec.durable,
    exclusive: spec.exclusive,
    autoDelete: spec.autoDelete,
    arguments: toBrokerArguments(spec),
  };
}

/** `assertExchange` options; the alternate exchange travels as the `alternate-exchange` argument. */
export function toAssertExchange(spec: ExchangeSpec): Options.AssertExchange {
  return {
    durable: spec.durable,
    autoDelete: spec.autoDelete,
    internal: spec.internal,
    arguments: exchangeArguments(spec),
  };
}

/** Publish options from Wakame's AMQP-named properties (only the ones that are set). */
export function toPublishOptions(p: MessageProperties, mandatory: boolean): Options.Publish {
  const o: Options.Publish = { mandatory };
  if (p.contentType !== undefined) o.contentType = p.contentType;
  if (p.contentEncoding !== undefined) o.contentEncoding = p.contentEncoding;
  if (p.headers !== undefined) o.headers = kombuSafeHeaders(p.headers);
  o.deliveryMode = p.deliveryMode ?? 2;
  if (p.priority !== undefined) o.priority = p.priority;
  if (p.correlationId !== undefined) o.correlationId = p.correlationId;
  if (p.replyTo !== undefined) o.replyTo = p.replyTo;
  if (p.expiration !== undefined) o.expiration = p.expiration;
  if (p.messageId !== undefined) o.messageId = p.messageId;
  if (p.timestamp !== undefined) o.timestamp = p.timestamp;
  if (p.type !== undefined) o.type = p.type;
  if (p.userId !== undefined) o.userId = p.userId;
  if (p.appId !== undefined) o.appId = p.appId;
  return o;
}

/** Wakame properties from what amqplib decoded; absent properties stay absent (amqplib gives `undefined`). */
export function fromAmqpProperties(a: AmqpProperties): MessageProperties {
  const p: MessageProperties = {};
  if (a.contentType != null) p.contentType = String(a.contentType);
  if (a.contentEncoding != null) p.contentEncoding = String(a.contentEncoding);
  if (a.headers != null && hasKeys(a.headers)) p.headers = a.headers as Record<string, unknown>;
  if (a.deliveryMode === 1 || a.deliveryMode === 2) p.deliveryMode = a.deliveryMode;
  if (a.priority != null) p.priority = Number(a.priority);
  if (a.correlationId != null) p.correlationId = String(a.correlationId);
  if (a.replyTo != null) p.replyTo = String(a.replyTo);
  if (a.expiration != null) p.expiration = String(a.expiration);
  if (a.messageId != null) p.messageId = String(a.messageId);
  if (a.timestamp != null) p.timestamp = Number(a.timestamp);
  if (a.type != null) p.type = String(a.type);
  if (a.userId != null) p.userId = String(a.userId);
  if (a.appId != null) p.appId = String(a.appId);
  if (a.clusterId != null) p.clusterId = String(a.clusterId);
  return p;
}

/** Whether `o` has an own key; every delivery asks, and Object.keys would build an array to say so. */
function hasKeys(o: object): boolean {
  for (const key in o) if (Object.hasOwn(o, key)) return true;
  return false;
}
