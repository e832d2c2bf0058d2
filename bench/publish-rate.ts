/**
 * Wakame's publish figure, the same on every broker whose bench has one queue and reads its depth from the admin:
 * publish `count` payloads in windows, then check the queue holds them all (a rate over lost messages means nothing).
 */
import type { Connection } from '@wakame/core';
import { benchPayload, inWindows, now, rate } from './harness.js';

/** A bench's own sanity check: a figure over a broken run is worse than none. */
export function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/** Messages per second of `count` publishes to `queue`, `window` in flight at a time. */
export async function wakamePublishRate(
  connection: Connection,
  queue: string,
  count: number,
  window: number,
): Promise<number> {
  const producer = connection.producer({ routingKey: queue });
  const start = now();
  await inWindows(count, window, (i) => producer.publish(benchPayload(i)));
  const ms = now() - start;
  const depth = (await connection.admin.inspect()).queues.find((q) => q.name === queue)?.messageCount;
  check(depth === count, `wakame publish: queue holds ${depth} messages, not ${count}`);
  return rate(count, ms);
}
