/**
 * The load both Redis failover tests put on a queue while a master goes away: a consumer that counts each
 * message it gets, a publisher that sends numbered messages in confirmed batches and breaks the master at one
 * point, and the tally of what was confirmed but never delivered (lost) and delivered twice (duplicates).
 */
import type { Connection, Queue } from '@wakame/core';
import { waitFor } from '@wakame/testkit';

/** Starts a consumer on `queue` that acks everything; the map counts deliveries per message number. */
export async function countingConsumer(
  connection: Connection,
  queue: Queue,
  prefetch: number,
): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  await connection
    .consumer({
      queues: [queue],
      prefetch,
      handler: async (m) => {
        const n = (m.payload as { n: number }).n;
        seen.set(n, (seen.get(n) ?? 0) + 1);
        await m.ack();
      },
    })
    .consume();
  return seen;
}

/** What the publisher saw. */
export interface PublishedUnderFault {
  readonly confirmed: Set<number>;
  readonly rejections: string[];
  /** The longest time one batch took to be confirmed (failure detection + failover). */
  readonly longestStall: number;
}

/**
 * Publishes messages `{ n }` for n in 0…total-1 to `routingKey`, `batch` at a time (each batch awaited), and
 * calls `fault` (awaited) once the batch starting at `faultAt` is confirmed.
 */
export async function publishUnderFault(
  connection: Connection,
  routingKey: string,
  load: { readonly total: number; readonly batch: number; readonly faultAt: number; readonly fault: () => unknown },
): Promise<PublishedUnderFault> {
  const confirmed = new Set<number>();
  const rejections: string[] = [];
  const publish = connection.producer({ routingKey });
  let longestStall = 0;
  let last = Date.now();
  for (let i = 0; i < load.total; i += load.batch) {
    const results = await Promise.allSettled(
      Array.from({ length: load.batch }, (_, j) => publish.publish({ n: i + j })),
    );
    for (const [j, r] of results.entries()) {
      if (r.status === 'fulfilled') confirmed.add(i + j);
      else rejections.push((r.reason as Error).message);
    }
    const now = Date.now();
    longestStall = Math.max(longestStall, now - last);
    last = now;
    if (i === load.faultAt) await load.fault();
  }
  return { confirmed, rejections, longestStall };
}

/** Waits until every confirmed message was delivered (bounded), then counts what was lost and duplicated. */
export async function tallyDeliveries(
  confirmed: ReadonlySet<number>,
  seen: ReadonlyMap<number, number>,
): Promise<{ lost: number; duplicates: number }> {
  await waitFor(() => [...confirmed].every((n) => seen.has(n)), {
    timeoutMs: 60_000,
    what: () => `every confirmed message delivered (${seen.size} of ${confirmed.size} so far)`,
  });
  const lost = [...confirmed].filter((n) => !seen.has(n)).length;
  const duplicates = [...seen.values()].reduce((sum, count) => sum + count - 1, 0);
  return { lost, duplicates };
}
