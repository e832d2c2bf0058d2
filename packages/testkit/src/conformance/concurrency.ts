import type { Consumer } from '@wakame/core';
import { describe, expect } from 'vitest';
import { waitFor } from '../wait-for.js';
import { FAILURE_BOUND_MS, type Harness } from './harness.js';

const CONSUMERS = 8;
const MESSAGES = 2000;
const PUBLISH_BATCH = 100;

/** The ids not delivered yet, for a failure message: which ones, so a stall can be told from a loss. */
function missing(deliveries: ReadonlyMap<number, number>): string {
  const ids: number[] = [];
  for (let id = 0; id < MESSAGES; id++) if (!deliveries.has(id)) ids.push(id);
  const shown = ids.slice(0, 20).join(', ');
  return ids.length === 0 ? 'none missing' : `missing ${ids.length}: ${shown}${ids.length > 20 ? ', …' : ''}`;
}

/** Competing consumers on separate connections share a queue without duplicates or losses. */
export function concurrencySuite(h: Harness): void {
  describe('concurrency', () => {
    h.test(
      `delivers ${MESSAGES} messages to ${CONSUMERS} competing consumers exactly once, none held twice`,
      async () => {
        const setup = await h.open();
        const queue = await h.queue(setup);
        const held = new Set<number>();
        const deliveries = new Map<number, number>();
        const perConsumer = new Array<number>(CONSUMERS).fill(0);
        const violations: string[] = [];
        let total = 0;
        const consumers: Consumer[] = [];
        for (let c = 0; c < CONSUMERS; c++) {
          const conn = await h.open();
          const consumer = conn.consumer({
            queues: [queue],
            prefetch: 10,
            handler: async (message) => {
              const { id } = message.payload as { id: number };
              total++;
              perConsumer[c] = (perConsumer[c] ?? 0) + 1;
              deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
              if (held.has(id)) violations.push(`id ${id} delivered to consumer ${c} while another consumer held it`);
              if (message.redelivered) violations.push(`id ${id} was redelivered although nothing was requeued`);
              held.add(id);
              await Promise.resolve();
              await message.ack();
              held.delete(id);
            },
          });
          await consumer.consume();
          consumers.push(consumer);
        }

        const producer = setup.producer();
        for (let start = 0; start < MESSAGES; start += PUBLISH_BATCH) {
          const batch = [];
          for (let id = start; id < Math.min(start + PUBLISH_BATCH, MESSAGES); id++) {
            batch.push(producer.publish({ id }, { routingKey: queue.name }));
          }
          await Promise.all(batch);
        }

        await waitFor(() => deliveries.size === MESSAGES, {
          timeoutMs: FAILURE_BOUND_MS,
          what: () => `all ${MESSAGES} ids (${deliveries.size} delivered; ${missing(deliveries)})`,
        }).catch(async (error: Error) => {
          // Ready in the queue (a consumer missed a wake-up) or not (held somewhere, or lost): say which.
          const ready = await queue.messageCount().catch((e: Error) => `unknown (${e.message})`);
          throw new Error(`${error.message}; ready in the queue: ${ready}`, { cause: error });
        });
        await h.waitForMessageCount(queue, 0);
        await Promise.all(consumers.map((c) => c.idle()));
        expect(violations).toEqual([]);
        expect(total).toBe(MESSAGES);
        expect([...deliveries.values()].every((n) => n === 1)).toBe(true);
        expect(perConsumer.reduce((a, b) => a + b, 0)).toBe(MESSAGES);
        expect(
          perConsumer.filter((n) => n > 0).length,
          `deliveries per consumer: ${perConsumer.join(', ')}`,
        ).toBeGreaterThan(1);
      },
      { timeout: 3 * FAILURE_BOUND_MS },
    );
  });
}
