/**
 * What the worker does with a message once it knows its fate: retry it later (through a delay queue,
 * back to the queue it came from), dead-letter it with the reason, or reply to an RPC caller. Each
 * publishes first and settles the original only after the broker took the new copy, so a crash in
 * between duplicates a message rather than losing it.
 *
 * @module
 */
import type { Connection } from '../messaging/connection.js';
import type { Message } from '../messaging/message.js';
import type { CompiledTask } from '../topology/desired.js';
import type { MessageProperties } from '../transport/spi.js';
import { publishDelayed } from './delay.js';
import { type DeadLetterReason, TASK_HEADERS } from './protocol.js';
import type { TaskReply } from './replies.js';

/** A thrown value as `{ name, message }` (headers and replies carry no stack traces). */
export function errorSummary(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

function copyProperties(message: Message, headers: Record<string, unknown>): MessageProperties {
  const { expiration: _expiration, ...rest } = message.properties;
  return { ...rest, headers };
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
    connection,
    message.rawBody,
    copyProperties(message, headers),
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
  const transport = connection.currentTransport ?? (await connection.ready());
  await transport.publish({ body: message.rawBody, properties: copyProperties(message, headers) }, target);
  await message.ack();
}

/** Answers an RPC caller (when the message asked for a reply). */
export async function reply(connection: Connection, message: Message, outcome: TaskReply): Promise<void> {
  const replyTo = message.properties.replyTo;
  if (!replyTo) return;
  const transport = connection.currentTransport ?? (await connection.ready());
  await transport.publish(
    {
      body: connection.serializers.encode(outcome, { serializer: 'json' }).body,
      properties: {
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        deliveryMode: 1,
        ...(message.properties.correlationId !== undefined ? { correlationId: message.properties.correlationId } : {}),
      },
    },
    { exchange: '', routingKey: replyTo },
  );
}
