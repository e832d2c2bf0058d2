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
import type { Producer, PublishOptions } from '../messaging/producer.js';
import { Queue } from '../model/queue.js';

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

/** Delay queues already built, so that a retry reuses one (and the connection's declaration cache hits). */
const built = new Map<string, Queue>();
/** Beyond this many, the cache starts over (routing keys can be many). */
const MAX_BUILT = 1_000;

/** The delay queue for `bucket` that dead-letters into `exchange` with `routingKey`. */
export function delayQueue(exchange: string, routingKey: string, bucketMs: number): Queue {
  const key = `${bucketMs}\u0000${exchange}\u0000${routingKey}`;
  let queue = built.get(key);
  if (queue === undefined) {
    if (built.size >= MAX_BUILT) built.clear();
    queue = buildDelayQueue(exchange, routingKey, bucketMs);
    built.set(key, queue);
  }
  return queue;
}

function buildDelayQueue(exchange: string, routingKey: string, bucketMs: number): Queue {
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
 * Publishes `body` through `producer` to arrive at `target` after `delayMs`: to the delay queue of
 * the bucket (declared once per connection), with the exact delay as its expiration (≤ the bucket's
 * TTL). `options` are the message's own (headers, properties, serializer, …).
 */
export async function publishDelayed(
  producer: Producer,
  body: unknown,
  options: PublishOptions,
  target: { readonly exchange: string; readonly routingKey: string },
  delayMs: number,
): Promise<void> {
  const queue = delayQueue(target.exchange, target.routingKey, delayBucket(delayMs));
  await producer.publish(body, {
    ...options,
    exchange: '',
    routingKey: queue.name,
    expiration: Math.max(0, Math.round(delayMs)),
    declare: [queue],
  });
}
