// Must stay the first import: amqplib binds its table decoder when it loads.
import './install-codec.js';
import type {
  BrokerUrl,
  ConsumeRequest,
  DeliverySink,
  InboundMessage,
  ObservedTopology,
  OutboundMessage,
  PublishTarget,
  RecoveryPolicy,
  SettleOutcome,
  Transport,
  TransportOptions,
  TransportStatus,
  TransportSubscription,
} from '@wakame/core/spi';
import {
  backoffDelay,
  ConnectionClosedError,
  InvalidArgumentError,
  InvalidOperationError,
  MessageStateError,
  NotFoundError,
  TimeoutError,
  UnsupportedFeatureError,
  type WakameError,
} from '@wakame/core/spi';
import type { Channel, ChannelModel } from 'amqplib';
import { AckBatcher } from './acks.js';
import { AmqpAdmin } from './admin.js';
import { AMQP_CAPABILITIES, type AmqpOptions, DEFAULT_PUBLISH_TIMEOUT_MS } from './amqp-options.js';
import { RabbitBrokerAdmin } from './broker-admin.js';
import { clusterNameOf, firstAttemptAfterLoss, openAmqpConnection, untilClosed } from './connect.js';
import { fromAmqpError } from './errors.js';
import { inspectViaManagement, managementEndpoint } from './management.js';
import { AmqpPrioritySubscription } from './priority-subscription.js';
import { Publisher } from './publisher.js';
import { AmqpStacks } from './stacks.js';
import {
  type AmqpHandle,
  AmqpSubscription,
  DIRECT_REPLY_TO,
  type SubscriptionHost,
  toInbound,
} from './subscription.js';
import { UnavailableQueues } from './unavailable-queues.js';

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * The native AMQP 0-9-1 transport: RabbitMQ routes; this class owns one connection state machine
 * (connecting → ready → recovering → ready … → closed). On a connection loss it reconnects with
 * backoff and jitter, rotating through the failover URLs, declares again what was declared,
 * consumes again with the same prefetch, and only then sends again what was unconfirmed (a message
 * re-sent before its queue is declared again could be confirmed and dropped). Publishes made
 * meanwhile wait, bounded by their deadline. A queue whose node is down does not fail the reconnect:
 * see {@link UnavailableQueues}.
 */
export class AmqpTransport implements Transport {
  readonly kind = 'amqp';
  readonly capabilities = AMQP_CAPABILITIES;
  readonly admin: AmqpAdmin;
  readonly knownExchanges = new Set<string>();
  readonly closedChannels = new WeakSet<Channel>();
  readonly #ackBatchers = new WeakMap<Channel, AckBatcher>();
  /** Channels of cancelled subscriptions being closed (their last acks on the way). */
  readonly #channelClosings = new Set<Promise<void>>();
  readonly #urls: readonly BrokerUrl[];
  readonly #options: TransportOptions;
  readonly #extra: AmqpOptions;
  readonly #recovery: Required<RecoveryPolicy>;
  readonly #publisher: Publisher;
  readonly #subscriptions = new Set<AmqpSubscription>();
  readonly #statusListeners = new Set<(status: TransportStatus) => void>();
  #conn: ChannelModel | undefined;
  #state: 'new' | 'connecting' | 'ready' | 'recovering' | 'closed' = 'new';
  #waiters: { resolve: (c: ChannelModel) => void; reject: (e: Error) => void }[] = [];
  #getChannel: Promise<Channel> | undefined;
  #closing: Promise<void> | undefined;
  /** The URL of the node connected now (failover moves it). */
  #current: BrokerUrl;
  /** Why the broker closed the current connection, when it said (see {@link SubscriptionHost.closeReason}). */
  #closeReason: Error | undefined;
  readonly #unavailable: UnavailableQueues;
  /** When the connection last became ready, and after which attempt: a quick loss resumes the backoff. */
  #readyAt = 0;
  #readyAfterAttempt = 0;

  constructor(url: BrokerUrl, options: TransportOptions) {
    this.#urls = options.alternates && options.alternates.length > 0 ? options.alternates : [url];
    this.#options = options;
    this.#extra = options.extra as AmqpOptions;
    this.#recovery = {
      maxAttempts: options.recovery?.maxAttempts ?? Number.POSITIVE_INFINITY,
      initialDelayMs: options.recovery?.initialDelayMs ?? 100,
      maxDelayMs: options.recovery?.maxDelayMs ?? 5_000,
      jitter: options.recovery?.jitter ?? 0.5,
    };
    this.#current = this.#urls[0] as BrokerUrl;
    const publishTimeout = this.#extra.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    this.#publisher = new Publisher(publishTimeout, {
      channelLost: (error) => this.#publishChannelLost(error),
      refresh: () => this.#refreshPublishChannel(),
      unavailableOn: (target, message) => this.#unavailable.unavailableOn(target, message),
    });
    const extra = this.#extra;
    // The management API followed: the one of the node connected now (after a failover, not the first URL's).
    const current = (): BrokerUrl => this.#current;
    this.admin = new AmqpAdmin({
      connection: () => this.connection(),
      knownExchanges: this.knownExchanges,
      inspect: () => this.#inspect(),
      stacks: new AmqpStacks({
        connection: () => this.connection(),
        get url() {
          return current();
        },
        managementUrl: this.#extra.managementUrl,
      }),
      broker: new RabbitBrokerAdmin({
        vhost: current().vhost,
        endpoint: () => managementEndpoint(current(), extra.managementUrl),
      }),
      migration: {
        connection: () => this.connection(),
        vhost: current().vhost,
        // Read when a migration runs, so a malformed managementUrl fails that migration, not the connection.
        get management() {
          return managementEndpoint(current(), extra.managementUrl);
        },
      },
    });
    this.#unavailable = new UnavailableQueues({
      record: this.admin.record,
      recovery: this.#recovery,
      redeclare: (queue) => this.admin.redeclare(queue),
      restored: (queue) => void this.#restored(queue),
      unavailable: (queue, error, attempt) => this.#emit({ type: 'queue-unavailable', queue, error, attempt }),
    });
  }

  get isReady(): boolean {
    return this.#state === 'ready';
  }

  async connect(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'closed') throw new ConnectionClosedError('amqp transport is closed');
    if (this.#state !== 'new') return;
    this.#state = 'connecting';
    const url = this.#urls[0] as BrokerUrl;
    try {
      const conn = await this.#open(url, signal);
      this.#setup(conn, url);
      this.#publisher.attach(await conn.createConfirmChannel());
    } catch (error) {
      this.#state = 'new';
      throw error;
    }
    this.#ready();
    this.#emit({ type: 'connected', url: url.redacted });
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  publish(message: OutboundMessage, target: PublishTarget): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ConnectionClosedError('amqp transport is closed'));
    if (target.transaction !== undefined)
      return Promise.reject(new UnsupportedFeatureError('publishing in a database transaction', 'amqp'));
    const { exchange } = target;
    // A publish to a missing exchange closes the channel, failing every publish in flight on it;
    // checking an exchange once (on the admin channel) keeps that failure to the one publish.
    if (exchange !== '' && !this.knownExchanges.has(exchange)) {
      return this.admin
        .declareExchange(
          { name: exchange, type: 'direct', durable: true, autoDelete: false, internal: false, arguments: {} },
          { passive: true },
        )
        .then(() => this.#publisher.publish(message, target));
    }
    return this.#publisher.publish(message, target);
  }

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
      ...(directReplyTo ? { sharedChannel: () => this.#publisher.channel } : {}),
    });
    await subscription.start(await this.connection());
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async #consumeByPriority(request: ConsumeRequest, sink: DeliverySink): Promise<TransportSubscription> {
    const subscription = new AmqpPrioritySubscription(
      request,
      sink,
      this.#subscriptionHost(),
      async (queue) =>
        (
          await this.admin.declareQueue(
            { name: queue, durable: true, exclusive: false, autoDelete: false, arguments: {} },
            { passive: true },
          )
        ).messageCount,
      (message) => this.settle(message, 'requeue'),
      (message) => this.closedChannels.has((message.handle as AmqpHandle).channel),
    );
    await subscription.start(await this.connection());
    // Each queue's consumer recovers like any other subscription.
    for (const part of subscription.parts) this.#subscriptions.add(part);
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
    if (message.autoAcked) return RESOLVED;
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
    return RESOLVED;
  }

  #subscriptionHost(): SubscriptionHost {
    return {
      connection: () => this.connection(),
      isReady: () => this.isReady,
      closeReason: () => this.#closeReason,
      closedChannels: this.closedChannels,
      delivered: (ch, tag) => this.#acks(ch).delivered(tag),
      flushAcks: (ch) => this.#ackBatchers.get(ch)?.flush(),
      removed: (sub) => this.#subscriptions.delete(sub),
      closing: (done) => {
        this.#channelClosings.add(done);
        const forget = (): void => void this.#channelClosings.delete(done);
        done.then(forget, forget);
      },
      report: () => {},
    };
  }

  #acks(channel: Channel): AckBatcher {
    let batcher = this.#ackBatchers.get(channel);
    if (!batcher) {
      batcher = new AckBatcher(channel);
      this.#ackBatchers.set(channel, batcher);
    }
    return batcher;
  }

  /** The live connection; during a recovery, waits for it (bounded by the publish deadline). */
  connection(): Promise<ChannelModel> {
    if (this.#state === 'ready' && this.#conn) return Promise.resolve(this.#conn);
    if (this.#state === 'closed') return Promise.reject(new ConnectionClosedError('amqp transport is closed'));
    if (this.#state === 'new') return Promise.reject(new ConnectionClosedError('amqp transport is not connected'));
    const timeoutMs = this.#extra.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    return new Promise<ChannelModel>((resolve, reject) => {
      const waiter = {
        resolve: (c: ChannelModel) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new TimeoutError(`the broker was unreachable for ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  // ---------------------------------------------------------------------------------------------

  #open(url: BrokerUrl, signal?: AbortSignal): Promise<ChannelModel> {
    return openAmqpConnection(url, this.#options, this.#extra, signal);
  }

  /** Adopts a fresh connection; its publish channel is attached by the caller, once that is safe. */
  #setup(conn: ChannelModel, url: BrokerUrl): void {
    this.#conn = conn;
    this.#current = url;
    this.#closeReason = undefined;
    conn.on('error', (error: Error) => {
      if (this.#conn === conn) this.#closeReason = error;
    });
    conn.on('close', (error?: Error) => this.#lost(conn, error));
    conn.on('blocked', (reason: string) => this.#emit({ type: 'blocked', reason }));
    conn.on('unblocked', () => this.#emit({ type: 'unblocked' }));
  }

  #ready(): void {
    this.#state = 'ready';
    this.#readyAt = Date.now();
    const conn = this.#conn as ChannelModel;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve(conn);
  }

  #lost(conn: ChannelModel, error: Error | undefined): void {
    if (conn !== this.#conn) return;
    this.#conn = undefined;
    this.#getChannel = undefined;
    this.admin.reset();
    this.#publisher.detach();
    this.#unavailable.stop();
    if (this.#state === 'closed') return;
    // A connection that became ready and was lost at once (a refused subscription, a node that is still
    // starting) counts as one more failed attempt: the backoff grows instead of starting over.
    const first = firstAttemptAfterLoss(this.#state === 'ready', Date.now() - this.#readyAt, this.#readyAfterAttempt);
    this.#state = 'recovering';
    const cause = fromAmqpError(error ?? this.#closeReason ?? new Error('connection closed by the broker'));
    this.#recover(cause, first).catch((e: unknown) => this.#fail(e instanceof Error ? e : new Error(String(e))));
  }

  async #recover(error: WakameError, first: number): Promise<void> {
    let last: Error = error;
    // The node that failed is tried last: start the rotation at the next URL.
    const start = this.#urls.indexOf(this.#current) + 1;
    for (let attempt = first; attempt < first + this.#recovery.maxAttempts; attempt++) {
      if (this.#closed()) return;
      this.#emit({ type: 'reconnecting', error: last, attempt });
      const delay = attempt === 1 ? 0 : backoffDelay(attempt - 1, { ...this.#recovery, factor: 2 });
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.#closed()) return;
      const url = this.#urls[(start + attempt - first) % this.#urls.length] as BrokerUrl;
      let conn: ChannelModel | undefined;
      try {
        conn = await this.#open(url);
        if (this.#closed()) {
          await conn.close().catch(() => undefined);
          return;
        }
        this.#setup(conn, url);
        // Ready for the admin (declarations replay through it); the publisher is attached only after
        // the replay, so nothing is re-sent to a queue that is not declared again yet.
        this.#state = 'ready';
        const { renamed, unavailable } = await this.admin.replay();
        this.#unavailable.track(unavailable);
        this.#publisher.attach(await conn.createConfirmChannel());
        for (const sub of this.#subscriptions) {
          if (!sub.queues.some((q) => this.#unavailable.has(q))) await sub.resume(conn, renamed);
          else sub.rename(renamed);
        }
        this.#readyAfterAttempt = attempt;
        this.#ready();
        this.#emit({ type: 'reconnected', url: url.redacted });
        this.#unavailable.announce();
        return;
      } catch (e) {
        last = e instanceof Error ? e : new Error(String(e));
        this.#state = 'recovering';
        if (conn && this.#conn === conn) {
          this.#conn = undefined;
          this.#publisher.detach();
          this.#unavailable.stop();
          this.admin.reset();
          await conn.close().catch(() => undefined);
        }
      }
    }
    this.#fail(last);
  }

  /** Read through a method: the state changes across awaits, which flow analysis cannot see. */
  #closed(): boolean {
    return this.#state === 'closed';
  }

  /** Recovery gave up: everything waiting fails, and the owner is told to drop this transport. */
  #fail(error: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    const closed = new ConnectionClosedError(`connection lost and not recovered: ${error.message}`, { cause: error });
    this.#publisher.close(closed);
    for (const w of this.#waiters) w.reject(closed);
    this.#waiters = [];
    this.#emit({ type: 'disconnected', error: closed });
  }

  async #close(): Promise<void> {
    const wasOpen = this.#state !== 'closed' && this.#state !== 'new';
    this.#state = 'closed';
    const closed = new ConnectionClosedError('amqp transport is closed');
    this.#publisher.close(closed);
    for (const w of this.#waiters) w.reject(closed);
    this.#waiters = [];
    for (const sub of this.#subscriptions) await sub.close();
    this.#subscriptions.clear();
    // A connection.close overtakes frames still queued on other channels: let those channels close first.
    await Promise.all(this.#channelClosings);
    const getChannel = await this.#getChannel?.catch(() => undefined);
    if (getChannel) this.#ackBatchers.get(getChannel)?.flush();
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn) await conn.close().catch(() => undefined);
    if (wasOpen) this.#emit({ type: 'disconnected' });
  }

  /** The publish channel closed on its own (say, a publish to an exchange deleted meanwhile). */
  #publishChannelLost(error: WakameError): void {
    if (error instanceof NotFoundError && error.entity.kind === 'exchange') {
      this.knownExchanges.delete(error.entity.name);
      this.#publisher.failMissingExchange(error.entity.name, error);
    }
    this.#openPublishChannel();
  }

  /** Nacks suggest a channel tied to a quorum leader that is gone: publish on a fresh one. */
  #refreshPublishChannel(): void {
    if (!this.#openPublishChannel()) this.#publisher.refreshFailed();
  }

  /** A new confirm channel for the publisher; false when there is no live connection to open it on. */
  #openPublishChannel(): boolean {
    const conn = this.#conn;
    if (!conn || this.#state !== 'ready') return false;
    conn.createConfirmChannel().then(
      async (channel) => {
        this.#publisher.attach(channel);
        // Direct reply-to consumers lived on the lost channel: consume again on the new one.
        for (const sub of this.#subscriptions) {
          if (sub.queues[0] === DIRECT_REPLY_TO) await sub.resume(conn, new Map()).catch(() => undefined);
        }
      },
      () => this.#publisher.refreshFailed(), // the connection is going too; recovery will attach a channel
    );
    return true;
  }

  /** A queue that was unavailable is declared and bound again: its consumers and held publishes go on. */
  async #restored(queue: string): Promise<void> {
    this.#emit({ type: 'queue-restored', queue });
    const conn = this.#conn;
    if (conn && this.#state === 'ready') {
      for (const sub of this.#subscriptions) {
        if (!sub.queues.includes(queue) || sub.active || sub.queues.some((q) => this.#unavailable.has(q))) continue;
        // A failure here leaves the subscription to the next reconnect; the event says why it is not consuming.
        await sub.resume(conn, new Map()).catch((error: unknown) => {
          this.#emit({ type: 'queue-unavailable', queue, error: fromAmqpError(error), attempt: 0 });
        });
      }
    }
    this.#publisher.release();
  }

  async #getChannelOpen(): Promise<Channel> {
    if (!this.#getChannel) {
      const opening = this.connection().then(async (conn) => {
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

  async #inspect(): Promise<ObservedTopology> {
    const url = this.#current;
    const conn = await this.connection();
    // The management API must be the broker's own: one found by guessing (port 15672 of the AMQP host)
    // may belong to another broker on that host, whose listing would turn every queue into a "create".
    const expected = clusterNameOf(conn);
    return inspectViaManagement(url, managementEndpoint(url, this.#extra.managementUrl), expected);
  }

  #emit(status: TransportStatus): void {
    for (const listener of this.#statusListeners) listener(status);
  }
}
