/**
 * The consuming half of an AMQP connection: subscriptions (each on a channel of its own), basic.get
 * on one shared channel, and settling, with acks batched per channel. Deliveries of a channel that
 * closed are refused on settle: the broker delivers them again.
 */
import type {
  ConsumeRequest,
  DeliverySink,
  InboundMessage,
  SettleOutcome,
  TransportSubscription,
} from '@wakame/core/spi';
import {
  ConnectionClosedError,
  InvalidArgumentError,
  InvalidOperationError,
  MessageStateError,
  SETTLED,
} from '@wakame/core/spi';
import type { Channel, ChannelModel } from 'amqplib';
import { AckBatcher } from './acks.js';
import { untilClosed } from './connect.js';
import { fromAmqpError } from './errors.js';
import { AmqpPrioritySubscription } from './priority-subscription.js';
import {
  type AmqpHandle,
  AmqpSubscription,
  DIRECT_REPLY_TO,
  type SubscriptionHost,
  toInbound,
} from './subscription.js';

/** What deliveries need from their transport. */
export interface DeliveriesHost {
  /** The live connection (waits through a recovery). */
  connection(): Promise<ChannelModel>;
  isReady(): boolean;
  /** Why the broker closed the current connection, when it said. */
  closeReason(): Error | undefined;
  /** The publishing channel (direct reply-to consumes on it). */
  publishChannel(): Channel | undefined;
  /** Ready messages of a queue on the broker (a passive declare). */
  readyCount(queue: string): Promise<number>;
  /** The broker cancelled a consumer of `queue`: see {@link SubscriptionHost.brokerCancelled}. */
  brokerCancelled(queue: string): Promise<'wait' | 'resume' | Error>;
}

export class AmqpDeliveries {
  readonly closedChannels = new WeakSet<Channel>();
  /** Live subscriptions (a priority subscription's per-queue parts): recovery resumes them. */
  readonly subscriptions = new Set<AmqpSubscription>();
  readonly #ackBatchers = new WeakMap<Channel, AckBatcher>();
  /** The entry of #ackBatchers used last (a WeakRef would cost more than it saves: one channel is kept alive at most). */
  #lastChannel: Channel | undefined;
  #lastBatcher: AckBatcher | undefined;
  /** Channels of cancelled subscriptions being closed (their last acks on the way). */
  readonly #channelClosings = new Set<Promise<void>>();
  #getChannel: Promise<Channel> | undefined;

  constructor(private readonly host: DeliveriesHost) {}

  async consume(request: ConsumeRequest, sink: DeliverySink): Promise<TransportSubscription> {
    const directReplyTo = request.queues.length === 1 && request.queues[0] === DIRECT_REPLY_TO;
    if (directReplyTo && !request.noAck) {
      throw new InvalidArgumentError(`'${DIRECT_REPLY_TO}' can only be consumed with noAck: true (RabbitMQ's rule)`);
    }
    if (request.order === 'priority' && request.queues.length > 1 && !directReplyTo) {
      return this.#consumeByPriority(request, sink);
    }
    const subscription = new AmqpSubscription(request, sink, {
      ...this.#subscriptionHost(),
      // Replies to amq.rabbitmq.reply-to only reach the channel that published the request.
      ...(directReplyTo ? { sharedChannel: () => this.host.publishChannel() } : {}),
    });
    await subscription.start(await this.host.connection());
    this.subscriptions.add(subscription);
    return subscription;
  }

  async #consumeByPriority(request: ConsumeRequest, sink: DeliverySink): Promise<TransportSubscription> {
    const subscription = new AmqpPrioritySubscription(
      request,
      sink,
      this.#subscriptionHost(),
      (queue) => this.host.readyCount(queue),
      (message) => this.settle(message, 'requeue'),
      (message) => this.closedChannels.has((message.handle as AmqpHandle).channel),
    );
    await subscription.start(await this.host.connection());
    // Each queue's consumer recovers like any other subscription.
    for (const part of subscription.parts) this.subscriptions.add(part);
    return subscription;
  }

  async get(queue: string, options: { noAck: boolean }): Promise<InboundMessage | undefined> {
    const ch = await this.#getChannelOpen();
    let m: Awaited<ReturnType<Channel['get']>>;
    try {
      m = await untilClosed(ch, ch.get(queue, { noAck: options.noAck }));
    } catch (error) {
      throw fromAmqpError(error, { entity: { kind: 'queue', name: queue } });
    }
    if (m === false) return undefined;
    if (!options.noAck) this.#acks(ch).delivered(m.fields.deliveryTag);
    return toInbound(ch, m, queue, '', undefined, options.noAck);
  }

  settle(message: InboundMessage, outcome: SettleOutcome): Promise<void> {
    if (message.autoAcked) return SETTLED;
    const h = message.handle as AmqpHandle | undefined;
    if (!h || typeof h.settled !== 'boolean') {
      return Promise.reject(new InvalidOperationError('this message was not delivered by this connection'));
    }
    if (h.settled)
      return Promise.reject(new MessageStateError(`message ${message.deliveryInfo.deliveryTag} is already settled`));
    h.settled = true;
    if (this.closedChannels.has(h.channel)) {
      h.subscription?.settled();
      return Promise.reject(
        new ConnectionClosedError(
          'the channel that delivered this message has closed; the broker will deliver it again',
        ),
      );
    }
    try {
      const acks = this.#acks(h.channel);
      if (outcome === 'ack') acks.ack(h.message.fields.deliveryTag);
      else acks.nack(h.message.fields.deliveryTag, outcome === 'requeue');
    } catch (error) {
      return Promise.reject(fromAmqpError(error));
    } finally {
      // After the frame is written: the subscription may close a cancelled channel once it has no deliveries left.
      h.subscription?.settled();
    }
    return SETTLED;
  }

  #subscriptionHost(): SubscriptionHost {
    return {
      connection: () => this.host.connection(),
      isReady: () => this.host.isReady(),
      closeReason: () => this.host.closeReason(),
      brokerCancelled: (queue) => this.host.brokerCancelled(queue),
      closedChannels: this.closedChannels,
      delivered: (ch, tag) => this.#acks(ch).delivered(tag),
      flushAcks: (ch) => this.#ackBatchers.get(ch)?.flush(),
      removed: (sub) => this.subscriptions.delete(sub),
      closing: (done) => {
        this.#channelClosings.add(done);
        const forget = (): void => void this.#channelClosings.delete(done);
        done.then(forget, forget);
      },
      report: () => {},
    };
  }

  #acks(channel: Channel): AckBatcher {
    // Asked twice per delivery (delivered, settled), nearly always for the channel asked last.
    if (channel === this.#lastChannel && this.#lastBatcher) return this.#lastBatcher;
    let batcher = this.#ackBatchers.get(channel);
    if (!batcher) {
      batcher = new AckBatcher(channel);
      this.#ackBatchers.set(channel, batcher);
    }
    this.#lastChannel = channel;
    this.#lastBatcher = batcher;
    return batcher;
  }

  async #getChannelOpen(): Promise<Channel> {
    if (!this.#getChannel) {
      const opening = this.host.connection().then(async (conn) => {
        const ch = await conn.createChannel();
        ch.on('error', () => {});
        ch.on('close', () => {
          this.closedChannels.add(ch);
          if (this.#getChannel === opening) this.#getChannel = undefined;
        });
        return ch;
      });
      this.#getChannel = opening;
      opening.catch(() => {
        if (this.#getChannel === opening) this.#getChannel = undefined;
      });
    }
    return this.#getChannel;
  }

  /** The connection went: the basic.get channel with it. */
  lost(): void {
    this.#getChannel = undefined;
  }

  /** Closes every subscription's channel (the broker requeues what was not settled) and sends the last acks. */
  async close(): Promise<void> {
    for (const sub of this.subscriptions) await sub.close();
    this.subscriptions.clear();
    // A connection.close overtakes frames still queued on other channels: let those channels close first.
    await Promise.all(this.#channelClosings);
    const getChannel = await this.#getChannel?.catch(() => undefined);
    if (getChannel) this.#ackBatchers.get(getChannel)?.flush();
  }
}
