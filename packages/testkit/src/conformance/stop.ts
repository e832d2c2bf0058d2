import { type Queue, WakameError } from '@wakame/core';
import { describe, expect } from 'vitest';
import { type Collector, type Harness, idOf, must } from './harness.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Stopping a consumer in the middle of a stream loses nothing: unsettled messages come back. */
export function stopSuite(h: Harness): void {
  /** Publishes ids 1..10 and lets a first consumer hold `held` of them, acking the first `acked`. */
  async function holdSome(held: number, acked: number) {
    const conn = await h.open();
    const queue = await h.queue(conn);
    const producer = conn.producer();
    for (const id of range(1, 10)) await producer.publish({ id }, { routingKey: queue.name });
    const first = await h.collect(conn, queue, { prefetch: held, ack: false });
    await first.waitForCount(held);
    for (const message of first.messages.slice(0, acked)) await message.ack();
    return { conn, queue, first };
  }

  /** A second consumer gets every message the first did not ack, exactly once, the ones the first saw flagged. */
  async function expectTakenOver(queue: Queue, first: Collector, acked: number): Promise<void> {
    const other = await h.open();
    const again = queue.attach(other);
    const second = await h.collect(other, again);
    const messages = await second.waitForCount(10 - acked);
    await h.waitForMessageCount(again, 0);
    expect(messages.map(idOf).sort((a, b) => a - b)).toEqual(range(acked + 1, 10));
    // What the first consumer saw comes back flagged; messages only in flight when it stopped may be flagged too.
    const held = new Set(first.messages.slice(acked).map(idOf));
    const flagged = messages.filter((m) => m.redelivered).map(idOf);
    for (const id of held) expect(flagged, `redelivered flag of id ${id}`).toContain(id);
    expect(second.messages).toHaveLength(10 - acked);
  }

  describe('stop mid-stream', () => {
    h.test('returns the unacked messages of a closed consumer to the queue', async () => {
      const { queue, first } = await holdSome(5, 0);
      await first.consumer.close();
      expect(first.consumer.isConsuming).toBe(false);
      expect(first.consumer.unsettled).toBe(0);
      await expectTakenOver(queue, first, 0);
    });

    h.test('returns the unacked messages of a closed connection to the queue, not the acked ones', async () => {
      const { conn, queue, first } = await holdSome(5, 2);
      await conn.close();
      await expectTakenOver(queue, first, 2);
    });

    h.test('refuses to settle a message after its connection closed', async () => {
      const { conn, first } = await holdSome(3, 0);
      await conn.close();
      // The message went back to the queue: acking it now must fail loudly, never ack what another consumer holds.
      const error = await must(first.messages[0])
        .ack()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(WakameError);
      expect(['ERR_MESSAGE_STATE', 'ERR_CONNECTION_CLOSED']).toContain((error as WakameError).code);
    });
  });
}
