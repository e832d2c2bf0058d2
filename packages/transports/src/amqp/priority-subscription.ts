/**
 * Real priority across queues on RabbitMQ (`order: 'priority'`). RabbitMQ serves each consumer
 * round-robin, so consuming hipri and lopri together would interleave them. Here each queue has its
 * own consumer and prefetch window; deliveries wait in per-queue buffers, and a slot that frees up
 * goes to the highest-priority queue with a message. A lower queue's message is started only when
 * every higher queue is empty on the broker too (a passive declare, cached briefly): while hipri
 * has a backlog, lopri waits — beyond what the prefetch windows already hold.
 */
import type { ConsumeRequest, DeliverySink, InboundMessage, TransportSubscription } from '@wakame/core/spi';
import type { ChannelModel } from 'amqplib';
import { AmqpSubscription, type SubscriptionHost } from './subscription.js';

/** How long a "higher queue is empty/not empty" answer is trusted. */
const BACKLOG_TTL_MS = 20;
/** How soon to look again while a higher queue has a backlog that has not arrived yet. */
const RECHECK_MS = 5;

export class AmqpPrioritySubscription implements TransportSubscription {
  readonly #parts: AmqpSubscription[];
  readonly #buffers: InboundMessage[][];
  readonly #backlog: { count: number; at: number }[];
  #inflight = 0;
  #checking = false;
  #recheck: NodeJS.Timeout | undefined;
  #cancelled = false;

  constructor(
    private readonly request: ConsumeRequest,
    private readonly sink: DeliverySink,
    host: SubscriptionHost,
    /** Ready messages of a queue on the broker (passive declare). */
    private readonly readyCount: (queue: string) => Promise<number>,
    /** Returns a delivery to its queue (for buffered messages nobody started). */
    private readonly requeue: (message: InboundMessage) => Promise<void>,
    /** Whether the channel that delivered `message` is gone (its delivery is stale). */
    private readonly stale: (message: InboundMessage) => boolean,
  ) {
    this.#buffers = request.queues.map(() => []);
    this.#backlog = request.queues.map(() => ({ count: 0, at: 0 }));
    this.#parts = request.queues.map(
      (queue, i) =>
        new AmqpSubscription(
          { ...request, queues: [queue], consumerTags: [request.consumerTags[i] ?? ''], order: 'round-robin' },
          {
            deliver: (m) => {
              this.#buffers[i]?.push(m);
              this.#pump();
            },
            cancelled: (reason) => this.#brokerCancelled(reason),
          },
          { ...host, settled: () => this.#settled() },
        ),
    );
  }

  /** The per-queue subscriptions (the transport resumes them after a reconnect). */
  get parts(): readonly AmqpSubscription[] {
    return this.#parts;
  }

  async start(conn: ChannelModel): Promise<void> {
    for (const part of this.#parts) await part.start(conn);
  }

  /**
   * Stops deliveries; buffered messages nobody started go back to their queues, handed-out ones
   * stay settle-able (each channel closes once its deliveries are settled).
   */
  async cancel(): Promise<void> {
    this.#cancelled = true;
    clearTimeout(this.#recheck);
    for (const part of this.#parts) await part.cancel();
    const buffered = this.#buffers.flatMap((b) => b.splice(0));
    // Each requeue reports a settlement: count them as handed out first so the window stays right.
    this.#inflight += buffered.filter((m) => !m.autoAcked).length;
    for (const m of buffered) if (!m.autoAcked) await this.requeue(m).catch(() => undefined);
  }

  /** Closes every channel (transport shutdown): the broker requeues what was not settled. */
  async close(): Promise<void> {
    this.#cancelled = true;
    clearTimeout(this.#recheck);
    for (const buffer of this.#buffers) buffer.length = 0;
    for (const part of this.#parts) await part.close();
  }

  /**
   * The broker ended one queue's consumer (the queue was deleted, say): the subscription ends as a
   * whole, as it would with one consumer for all queues. The other queues' consumers are cancelled
   * and their buffered messages returned, so nothing keeps arriving for a consumer that was told it
   * is over, and the owner resubscribes cleanly.
   */
  #brokerCancelled(reason: Error): void {
    if (this.#cancelled) return;
    this.sink.cancelled?.(reason);
    void this.cancel().catch(() => undefined);
  }

  #settled(): void {
    this.#inflight--;
    this.#pump();
  }

  #pump(): void {
    if (this.#cancelled) return;
    const { prefetch } = this.request;
    while (prefetch === 0 || this.#inflight < prefetch) {
      const index = this.#buffers.findIndex((b) => b.length > 0);
      if (index < 0) return;
      if (index > 0 && this.#higherBacklog(index)) return;
      const message = (this.#buffers[index] as InboundMessage[]).shift() as InboundMessage;
      // Delivered on a channel lost since: the broker has it back and will deliver it again.
      if (this.stale(message)) continue;
      if (!message.autoAcked) this.#inflight++;
      this.sink.deliver(message);
    }
  }

  /** Whether a queue above `index` may still have ready messages on the broker; refreshes in the background. */
  #higherBacklog(index: number): boolean {
    const now = Date.now();
    const stale = this.#backlog.slice(0, index).some((b) => now - b.at > BACKLOG_TTL_MS);
    if (stale) {
      this.#refresh(index);
      return true;
    }
    if (this.#backlog.slice(0, index).some((b) => b.count > 0)) {
      clearTimeout(this.#recheck);
      this.#recheck = setTimeout(() => this.#refresh(index), RECHECK_MS);
      return true;
    }
    return false;
  }

  #refresh(index: number): void {
    if (this.#checking) return;
    this.#checking = true;
    const queues = this.request.queues.slice(0, index);
    Promise.all(queues.map((q) => this.readyCount(q).catch(() => 0)))
      .then((counts) => {
        const at = Date.now();
        counts.forEach((count, i) => {
          this.#backlog[i] = { count, at };
        });
      })
      .finally(() => {
        this.#checking = false;
        this.#pump();
      })
      .catch(() => undefined);
  }
}
