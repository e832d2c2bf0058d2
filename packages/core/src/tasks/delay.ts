/**
 * Delayed delivery without a sleeping worker: a message waits in a delay queue whose TTL expires it
 * into its destination (dead-letter exchange + routing key). The same mechanism serves delayed
 * sends and retry backoff, on every transport with TTL and dead-lettering (RabbitMQ natively,
 * virtual stores through the virtual transport's expiry sweep).
 *
 * Per-message TTLs only expire at the head of a queue, so one queue for every delay would hold a
 * 1 s retry behind a 60 s one. Delays are bucketed by powers of two instead: within a bucket a
 * message waits at most the bucket's width longer than asked.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Connection } from '../messaging/connection.js';
import { Queue } from '../model/queue.js';
import type { MessageProperties } from '../transport/spi.js';

/** Shortest bucket: delays below it wait this long at most. */
const MIN_BUCKET_MS = 1_000;
/** AMQP short strings (queue names) are at most 255 bytes. */
const MAX_NAME = 255;

/** The smallest power-of-two bucket (≥ 1 s) that holds `delayMs`. */
export function delayBucket(delayMs: number): number {
  let bucket = MIN_BUCKET_MS;
  while (bucket < delayMs) bucket *= 2;
  return bucket;
}

/** The delay queue for `bucket` that dead-letters into `exchange` with `routingKey`. */
export function delayQueue(exchange: string, routingKey: string, bucketMs: number): Queue {
  let name = `wakame.delay.${bucketMs}ms.${exchange || '(default)'}.${routingKey}`;
  if (Buffer.byteLength(name) > MAX_NAME) {
    const digest = createHash('sha256').update(`${exchange}\u0000${routingKey}`).digest('hex').slice(0, 16);
    name = `wakame.delay.${bucketMs}ms.${digest}`;
  }
  return new Queue(name, {
    durable: true,
    messageTtl: bucketMs,
    deadLetter: { exchange, routingKey },
  });
}

/**
 * Publishes `body` to arrive at `exchange`/`routingKey` after `delayMs`. The message keeps its
 * properties and headers; its own expiration is the exact delay (≤ the bucket's TTL).
 */
export async function publishDelayed(
  connection: Connection,
  body: Buffer,
  properties: MessageProperties,
  target: { readonly exchange: string; readonly routingKey: string },
  delayMs: number,
): Promise<void> {
  const queue = delayQueue(target.exchange, target.routingKey, delayBucket(delayMs));
  await connection.declare(queue);
  const transport = connection.currentTransport ?? (await connection.ready());
  await transport.publish(
    { body, properties: { ...properties, expiration: String(Math.max(0, Math.round(delayMs))) } },
    { exchange: '', routingKey: queue.name },
  );
}
