/**
 * What the benches of one queue on a virtual transport (beanstalkd, ZooKeeper) share: Wakame's publish figure
 * (publish `count` payloads in windows, then check the queue holds them all: a rate over lost messages means nothing),
 * and the message Wakame stores, for the raw side to write the same bytes.
 */
import { randomBytes } from 'node:crypto';
import type { Connection } from '@wakame/core';
import type { StoredMessage } from '@wakame/core/spi';
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

/** The message Wakame's producer stores for `benchPayload(i)` to `queue`: what a raw side encodes as Wakame would. */
export function benchMessage(i: number, queue: string): StoredMessage {
  return {
    id: `${randomBytes(6).toString('hex')}.${i}`,
    body: Buffer.from(JSON.stringify(benchPayload(i))),
    properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, headers: {} },
    exchange: '',
    routingKey: queue,
    priority: 0,
    expiresAt: undefined,
    redelivered: false,
  };
}
