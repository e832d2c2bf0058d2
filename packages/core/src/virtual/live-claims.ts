/**
 * Claiming live messages for the virtual transport. A store keeps a message's expiry but does not act
 * on it: a claimed message whose time is up is dead-lettered (reason `expired`) and acked here, on the
 * way to a consumer or in a sweep of a queue's head, so a consumer never sees it and a queue nobody
 * reads still lets its expired messages go.
 *
 * @module
 */
import type { Publishing } from './publishing.js';
import type { Claimed, ClaimOptions, ImmediateStore, VirtualStore } from './store.js';

/** Claims of one transport's store that leave expired messages behind (dead-lettered). */
export class LiveClaims {
  readonly #now: ImmediateStore | undefined;

  constructor(
    private readonly store: VirtualStore,
    private readonly publishing: Publishing,
    /** Passed to the store's claims (the body bound). */
    private readonly options: ClaimOptions,
    /** Whether the transport is open: a sweep stops once it is not. */
    private readonly isOpen: () => boolean,
    /** Arms a sweep of `queue`'s head at `at` (ms since the epoch). */
    private readonly armExpiry: (queue: string, at: number) => void,
  ) {
    this.#now = store.immediate;
  }

  /** Takes the next message that has not expired; synchronous while the store is and the head is live. */
  claim(queue: string): Claimed | undefined | Promise<Claimed | undefined> {
    const now = this.#now;
    if (now) {
      const claimed = now.get(queue);
      if (claimed === undefined || claimed.message.expiresAt === undefined || claimed.message.expiresAt > Date.now()) {
        return claimed;
      }
      return this.#expire(queue, claimed).then(() => this.claim(queue));
    }
    return this.#claimAsync(queue);
  }

  /** {@link LiveClaims.claim} for up to `max` messages, through the store's batch claim. */
  async claimMany(queue: string, max: number): Promise<Claimed[]> {
    const claimed = await (this.store.getMany as NonNullable<VirtualStore['getMany']>).call(
      this.store,
      queue,
      max,
      this.options,
    );
    const now = Date.now();
    if (claimed.every((c) => c.message.expiresAt === undefined || c.message.expiresAt > now)) return claimed;
    const live: Claimed[] = [];
    for (const c of claimed) {
      if (c.message.expiresAt === undefined || c.message.expiresAt > now) live.push(c);
      else await this.#expire(queue, c);
    }
    return live;
  }

  /** Dead-letters expired messages at the head of `queue`, then re-arms for the next head. */
  async sweep(queue: string): Promise<void> {
    while (this.isOpen()) {
      const claimed = await this.store.get(queue);
      if (!claimed) return;
      const { expiresAt } = claimed.message;
      if (expiresAt !== undefined && expiresAt <= Date.now()) {
        await this.#expire(queue, claimed);
        continue;
      }
      await this.store.settle(claimed.receipt, 'release');
      if (expiresAt !== undefined) this.armExpiry(queue, expiresAt);
      return;
    }
  }

  /**
   * Dead-letters a claimed message. A body the store left unread (over the body bound) is read only when
   * the copy has a queue to go to, so the copy keeps it as a broker's would; nothing decodes it.
   */
  deadLetter(queue: string, claimed: Claimed, reason: 'rejected' | 'expired'): Promise<void> {
    const readBody = this.store.readBody?.bind(this.store, claimed.receipt);
    return this.publishing.deadLetter(queue, claimed.message, reason, undefined, readBody);
  }

  async #expire(queue: string, claimed: Claimed): Promise<void> {
    await this.deadLetter(queue, claimed, 'expired');
    await this.store.settle(claimed.receipt, 'ack');
  }

  async #claimAsync(queue: string): Promise<Claimed | undefined> {
    for (;;) {
      const claimed = await this.store.get(queue, this.options);
      if (!claimed) return undefined;
      const { expiresAt } = claimed.message;
      if (expiresAt === undefined || expiresAt > Date.now()) return claimed;
      await this.#expire(queue, claimed);
    }
  }
}
