/**
 * Confirm channels the {@link Publisher} replaced (after a nack, for a fresh one) but that still owe
 * confirms: each is closed once the last confirm of what was written to it has arrived.
 *
 * @module
 */
import type { ConfirmChannel } from 'amqplib';

export class RetiringChannels {
  /** Each retiring channel and how many confirms it still owes. */
  readonly #owed = new Map<ConfirmChannel, number>();

  /** Stops writing to `channel`; it closes once the confirms of what was written to it (`inflight`) have arrived. */
  retire(channel: ConfirmChannel, inflight: number): void {
    this.#owed.set(channel, inflight);
    if (inflight === 0) this.#confirmed(channel, 0);
  }

  /** A confirm (or failure) of a publish written to `channel` arrived; closes the channel if it was the last owed. */
  settled(channel: ConfirmChannel | undefined): void {
    if (channel && this.#owed.has(channel)) this.#confirmed(channel, 1);
  }

  /** The connection went, and every channel with it: nothing is owed any more. */
  clear(): void {
    this.#owed.clear();
  }

  #confirmed(channel: ConfirmChannel, settled: number): void {
    const left = (this.#owed.get(channel) ?? 0) - settled;
    if (left > 0) {
      this.#owed.set(channel, left);
      return;
    }
    this.#owed.delete(channel);
    // Closing a channel that is already closing throws (or rejects); either way it is gone.
    try {
      channel.close().catch(() => undefined);
    } catch {}
  }
}
