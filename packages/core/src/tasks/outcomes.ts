/**
 * What the worker does with a message once it knows its fate: retry it later (through a delay queue,
 * back to the queue it came from), dead-letter it with the reason, or reply to an RPC caller. Each
 * publishes first and settles the original only after the broker took the new copy, so a crash in
 * between duplicates a message rather than losing it. All publish through one {@link Producer} per
 * connection: the size bound, confirms and `producer.*` events apply as to any publish.
 *
 * @module
 */
import { PayloadTooLargeError } from '../errors.js';
import type { Connection } from '../messaging/connection.js';
import type { Message } from '../messaging/message.js';
import { type Producer, type PublishOptions, publishOptionsOf } from '../messaging/producer.js';
import type { CompiledTask } from '../topology/desired.js';
import { publishDelayed } from './delay.js';
import { type DeadLetterReason, TASK_HEADERS } from './protocol.js';
import type { TaskReply } from './replies.js';

/** A thrown value as `{ name, message }` (headers and replies carry no stack traces). */
export function errorSummary(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

const producers = new WeakMap<Connection, Producer>();

/**
 * The producer the worker's outcomes publish with: one per connection, with no defaults (no
 * compression of its own, no publish retries: a failed publish leaves the original unsettled).
 */
export function outcomeProducer(connection: Connection): Producer {
  let producer = producers.get(connection);
  if (producer === undefined) {
    producer = connection.producer();
    producers.set(connection, producer);
  }
  return producer;
}

/** Sends the message back to its queue after `delayMs`, as attempt `next`; then acks the original. */
export async function retryLater(
  connection: Connection,
  message: Message,
  next: number,
  delayMs: number,
  error: unknown,
): Promise<void> {
  const headers = {
    ...message.headers,
    [TASK_HEADERS.attempt]: next,
    [TASK_HEADERS.lastError]: errorSummary(error),
  };
  await publishDelayed(
    outcomeProducer(connection),
    message.rawBody,
    publishOptionsOf(message.properties, { headers }),
    { exchange: '', routingKey: message.queue },
    delayMs,
  );
  await message.ack();
}

/** Where a task's dead letters go: its own target, else the worker's dead-letter queue. */
export function deadLetterTarget(
  task: CompiledTask | undefined,
  fallbackQueue: string,
): { exchange: string; routingKey: string } {
  const target = task?.deadLetter;
  if (target?.queue !== undefined) return { exchange: '', routingKey: target.queue };
  if (target?.exchange !== undefined)
    return { exchange: target.exchange, routingKey: target.routingKey ?? task?.name ?? '' };
  return { exchange: '', routingKey: fallbackQueue };
}

/** Publishes the message to its dead-letter target with the reason in a header, then acks it. */
export async function deadLetter(
  connection: Connection,
  message: Message,
  target: { exchange: string; routingKey: string },
  reason: DeadLetterReason,
  details: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  const headers = {
    ...message.headers,
    [TASK_HEADERS.deadLetterReason]: {
      reason,
      queue: message.queue,
      deadLetteredAt: new Date().toISOString(),
      ...details,
    },
  };
  // As it travelled (body still compressed, if it was), with the reason added and no expiration.
  await outcomeProducer(connection).publish(
    message.rawBody,
    publishOptionsOf(message.properties, { headers, exchange: target.exchange, routingKey: target.routingKey }),
  );
  await message.ack();
}

/**
 * Answers an RPC caller (when the message asked for a reply). A result over the body bound is
 * answered with the {@link PayloadTooLargeError} instead, so the caller fails at once rather than
 * waiting out its timeout (and the task is not run again).
 */
export async function reply(connection: Connection, message: Message, outcome: TaskReply): Promise<void> {
  const replyTo = message.properties.replyTo;
  if (!replyTo) return;
  // Compressed like the request, so a large result travels as the task did.
  const compression = message.headers.compression;
  const options: PublishOptions = {
    routingKey: replyTo,
    serializer: 'json',
    persistent: false,
    ...(message.properties.correlationId !== undefined ? { correlationId: message.properties.correlationId } : {}),
    ...(typeof compression === 'string' ? { compression } : {}),
  };
  const producer = outcomeProducer(connection);
  try {
    await producer.publish(outcome, options);
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError) || !outcome.ok) throw error;
    await producer.publish({ ok: false, error: errorSummary(error) } satisfies TaskReply, options);
  }
}
