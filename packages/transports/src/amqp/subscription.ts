/**
 * One consumption on RabbitMQ: its own channel (so errors and recovery are per subscription), one
 * basic.consume per queue, each with its own prefetch window (`basic.qos` with global=false, as kombu
 * sends it). A window shared across the channel (global=true) is what quorum queues and streams refuse
 * with 540 NOT_IMPLEMENTED, closing the whole connection; so a subscription to several queues holds up
 * to `prefetch` unacked messages per queue.
 */
import type { ConsumeRequest, DeliverySink, InboundMessage, TransportSubscription } from '@wakame/core/spi';
import { NotFoundError } from '@wakame/core/spi';
import type { Channel, ChannelModel, ConsumeMessage, Message } from 'amqplib';
import { fromAmqpError } from './errors.js';
import { fromAmqpProperties } from './mapping.js';

/** What the transport keeps for settling one delivery. */
export interface AmqpHandle {
  readonly channel: Channel;
  readonly message: Message;
  readonly subscription: AmqpSubscription | undefined;
  settled: boolean;
}

/**
 * A delivery (basic.deliver or basic.get-ok) as the SPI hands it on, with its settle handle.
 *
 * The body bound (`maxBodyBytes`): the content header frame announces the body's size before the
 * first body frame, but amqplib reads that header and assembles the body frames into one Buffer
 * itself (`acceptMessage` in its channel.js), with no hook to refuse or skip a body; the Buffer is
 * whole before this runs. So the bound is checked right after: the consumer compares
 * `content.length` with it before anything copies, decompresses or decodes the body, and a body over
 * it is only ever rejected or acked (never handed to a handler). `body` is amqplib's Buffer as it is,
 * not a copy. What keeps such a body off the wire is the broker's `max_message_size` (16 MiB by
 * default on RabbitMQ 4), which refuses it on publish.
 */
export function toInbound(
  channel: Channel,
  m: Message,
  queue: string,
  consumerTag: string,
  subscription: AmqpSubscription | undefined,
  noAck: boolean,
): InboundMessage {
  const handle: AmqpHandle = { channel, message: m, subscription, settled: noAck };
  return {
    body: m.content,
    properties: fromAmqpProperties(m.properties),
    deliveryInfo: {
      queue,
      exchange: m.fields.exchange,
      routingKey: m.fields.routingKey,
      redelivered: m.fields.redelivered,
      consumerTag,
      deliveryTag: m.fields.deliveryTag,
    },
    autoAcked: noAck,
    handle,
  };
}

/** Callbacks into the owning transport. */
export interface SubscriptionHost {
  /** The live connection (waits through a recovery). */
  connection(): Promise<ChannelModel>;
  /** Whether the connection is up (a channel that closed without it is reopened at once). */
  isReady(): boolean;
  /**
   * Why the broker closed the current (or last) connection, when it said: a channel's pending call
   * only hears "channel ended", while the reply text (540 NOT_IMPLEMENTED …) came on the connection.
   */
  closeReason?(): Error | undefined;
  /**
   * The broker cancelled the consumer of `queue` (basic.cancel): `'resume'` when the queue is there
   * (consume again), `'wait'` when its node is down (the transport resumes the subscription once it
   * is back), or the error that ends the subscription (the queue was deleted).
   */
  brokerCancelled?(queue: string): Promise<'wait' | 'resume' | Error>;
  /** Marks channels as closed so stale deliveries are refused. */
  readonly closedChannels: WeakSet<Channel>;
  /** A delivery that needs settling arrived on `channel`. */
  delivered(channel: Channel, tag: number): void;
  /** Sends the acks still queued for `channel` (before it closes). */
  flushAcks(channel: Channel): void;
  /** A delivery of this subscription was settled (the priority scheduler counts its window with it). */
  settled?(): void;
  /**
   * A cancelled subscription began closing its channel once its last delivery was settled: the transport waits
   * for it before closing the connection, or the acks queued on the channel would be dropped.
   */
  closing?(done: Promise<void>): void;
  removed(sub: AmqpSubscription): void;
  report(error: unknown): void;
  /**
   * For direct reply-to: the channel to consume on (the publishing channel, as RabbitMQ requires).
   * Such a channel belongs to the publisher: it is never opened or closed here.
   */
  sharedChannel?(): Channel | undefined;
}

/** Times a broker-cancelled subscription asks again whether its queue is back before it gives up. */
const MAX_RESUME_ATTEMPTS = 5;

/** RabbitMQ's pseudo-queue for direct reply-to. */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/** A live basic.consume group; survives channel and connection loss until cancelled. */
export class AmqpSubscription implements TransportSubscription {
  #channel: Channel | undefined;
  #cancelled = false;
  /** Deliveries not yet settled; a cancelled subscription keeps its channel until they are. */
  #unsettled = 0;
  queues: string[];

  constructor(
    readonly request: ConsumeRequest,
    private readonly sink: DeliverySink,
    private readonly host: SubscriptionHost,
  ) {
    this.queues = [...request.queues];
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Opens a channel on `conn` and starts a consumer per queue. @throws NotFoundError for a missing queue. */
  async start(conn: ChannelModel): Promise<void> {
    const shared = this.host.sharedChannel?.();
    const ch = shared ?? (await conn.createChannel());
    let closedWith: Error | undefined;
    if (!shared) {
      ch.on('error', (error: Error) => {
        closedWith = error;
      });
      ch.on('close', () => this.#channelClosed(ch));
    }
    this.#channel = ch;
    const { prefetch, noAck, consumerTags, exclusive } = this.request;
    try {
      // Per consumer (global=false): the only kind quorum queues and streams accept.
      if (prefetch > 0 && !noAck) await ch.prefetch(prefetch, false);
      for (const [i, queue] of this.queues.entries()) {
        await ch.consume(queue, (m) => this.#onMessage(ch, i, m), {
          consumerTag: consumerTags[i] ?? '',
          noAck,
          exclusive: exclusive ?? false,
          ...(this.request.arguments ? { arguments: this.request.arguments } : {}),
        });
      }
    } catch (error) {
      this.#channel = undefined;
      if (!shared) await ch.close().catch(() => undefined);
      // A pending call only hears that its channel ended; the broker's reason came as the channel's
      // error, or with the connection's close when the broker closed the whole connection.
      const ended = error instanceof Error && /^Channel ended|^Connection closed/.test(error.message);
      const reason = closedWith ?? (ended ? this.host.closeReason?.() : undefined) ?? error;
      throw fromAmqpError(reason, { entity: { kind: 'queue', name: this.queues.join(', ') } });
    }
  }

  /** Whether it consumes now (a channel is open for it). */
  get active(): boolean {
    return this.#channel !== undefined;
  }

  /** After a reconnect that did not resume it (a queue is unavailable): server-named queues may have new names. */
  rename(renamed: ReadonlyMap<string, string>): void {
    this.queues = this.queues.map((q) => renamed.get(q) ?? q);
  }

  /** After a reconnect: server-named queues may have new names; consume again on the new connection. */
  async resume(conn: ChannelModel, renamed: ReadonlyMap<string, string>): Promise<void> {
    if (this.#cancelled) return;
    this.queues = this.queues.map((q) => renamed.get(q) ?? q);
    this.#unsettled = 0;
    await this.start(conn);
  }

  async cancel(): Promise<void> {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.host.removed(this);
    const ch = this.#channel;
    if (!ch || this.host.closedChannels.has(ch)) return;
    for (const tag of this.request.consumerTags) await ch.cancel(tag).catch(() => undefined);
    // Unacked deliveries stay on the channel after basic.cancel; close it once they are settled.
    if (this.#unsettled === 0) await this.#close();
  }

  /** A delivery of this subscription was settled. */
  settled(): void {
    this.#unsettled--;
    this.host.settled?.();
    if (this.#cancelled && this.#unsettled === 0) this.host.closing?.(this.#close());
  }

  /** Closes the channel (transport shutdown): the broker requeues what was not settled. */
  async close(): Promise<void> {
    this.#cancelled = true;
    await this.#close();
  }

  #onMessage(ch: Channel, index: number, m: ConsumeMessage | null): void {
    const queue = this.queues[index] ?? '';
    if (m === null) {
      this.#brokerCancelled(queue);
      return;
    }
    const noAck = this.request.noAck;
    if (!noAck) {
      this.#unsettled++;
      this.host.delivered(ch, m.fields.deliveryTag);
    }
    const inbound = toInbound(ch, m, queue, m.fields.consumerTag, this, noAck);
    try {
      this.sink.deliver(inbound);
    } catch (error) {
      this.host.report(error);
    }
  }

  /**
   * basic.cancel from the broker: the queue was deleted, or its node went down (a classic queue comes
   * back with its node). The channel closes either way (its unacked deliveries go back); which of the
   * two it was decides whether the subscription ends or waits for the queue.
   */
  #brokerCancelled(queue: string): void {
    void this.#close();
    void this.#afterBrokerCancel(queue, 1);
  }

  /**
   * Asks the transport what became of `queue` and acts on it. A queue whose node is stopping can
   * still answer a passive declare and then refuse the consume: ask again (a few times), and it
   * reads as unavailable once the node is down.
   */
  async #afterBrokerCancel(queue: string, attempt: number): Promise<void> {
    const deleted = new NotFoundError({ kind: 'queue', name: queue });
    let outcome: 'wait' | 'resume' | Error;
    try {
      outcome = (await this.host.brokerCancelled?.(queue)) ?? deleted;
    } catch (error) {
      outcome = error instanceof Error ? error : deleted;
    }
    if (this.#cancelled || outcome === 'wait') return;
    if (outcome !== 'resume') {
      this.end(outcome);
      return;
    }
    try {
      await this.start(await this.host.connection());
    } catch (error) {
      if (attempt < MAX_RESUME_ATTEMPTS && !this.#cancelled) await this.#afterBrokerCancel(queue, attempt + 1);
      else this.end(error instanceof Error ? error : deleted);
    }
  }

  /** Ends the subscription for a reason of the broker's (its queue is gone): the consumer hears why. */
  end(reason: Error): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.host.removed(this);
    void this.#close();
    this.sink.cancelled?.(reason);
  }

  #channelClosed(ch: Channel): void {
    this.host.closedChannels.add(ch);
    if (this.#channel !== ch) return;
    this.#channel = undefined;
    this.#unsettled = 0;
    // A channel error with the connection still up (a double ack, a policy change): consume again
    // at once. A connection loss is the transport's recovery to handle.
    if (this.#cancelled || !this.host.isReady()) return;
    this.host
      .connection()
      .then((conn) => this.start(conn))
      .catch((error: unknown) => {
        // Channel events can arrive before the connection's own close: if the connection is what
        // failed, recovery resumes this subscription; only a refusal about the queue itself ends it.
        const reason = fromAmqpError(error);
        if (reason.retriable) return;
        this.#cancelled = true;
        this.host.removed(this);
        this.sink.cancelled?.(reason);
      });
  }

  async #close(): Promise<void> {
    const ch = this.#channel;
    this.#channel = undefined;
    if (!ch || this.host.closedChannels.has(ch)) return;
    this.host.flushAcks(ch);
    if (this.host.sharedChannel) {
      for (const tag of this.request.consumerTags) await ch.cancel(tag).catch(() => undefined);
      return;
    }
    await ch.close().catch(() => undefined);
  }
}
