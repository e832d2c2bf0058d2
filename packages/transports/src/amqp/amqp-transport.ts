// Must stay the first import: amqplib binds its table decoder when it loads.
import './install-codec.js';
import type {
  BrokerUrl,
  ConsumeRequest,
  DeliverySink,
  InboundMessage,
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
  NotFoundError,
  QueueUnavailableError,
  UnsupportedFeatureError,
  type WakameError,
} from '@wakame/core/spi';
import type { ChannelModel } from 'amqplib';
import { type AmqpAdmin, PASSIVE_PROBE } from './admin.js';
import { AMQP_CAPABILITIES, type AmqpOptions, DEFAULT_PUBLISH_TIMEOUT_MS } from './amqp-options.js';
import { firstAttemptAfterLoss, openAmqpConnection } from './connect.js';
import { ConnectionWaiters } from './connection-waiters.js';
import { AmqpDeliveries } from './deliveries.js';
import { fromAmqpError } from './errors.js';
import { Publisher } from './publisher.js';
import { type AmqpSubscription, DIRECT_REPLY_TO, type SubscriptionHost } from './subscription.js';
import { createTransportAdmin } from './transport-admin.js';
import { UnavailableQueues } from './unavailable-queues.js';

/**
 * The native AMQP 0-9-1 transport: RabbitMQ routes; this class owns one connection state machine
 * (connecting → ready → recovering → ready … → closed). On a connection loss it reconnects with
 * backoff and jitter, rotating through the failover URLs, declares again what was declared,
 * consumes again with the same prefetch, and only then sends again what was unconfirmed (a message
 * re-sent before its queue is declared again could be confirmed and dropped). Publishes made
 * meanwhile wait, bounded by their deadline. A queue whose node is down does not fail the reconnect:
 * see `unavailable-queues.ts`.
 */
export class AmqpTransport implements Transport {
  readonly kind = 'amqp';
  readonly capabilities = AMQP_CAPABILITIES;
  readonly admin: AmqpAdmin;
  readonly knownExchanges = new Set<string>();
  readonly #urls: readonly BrokerUrl[];
  readonly #options: TransportOptions;
  readonly #extra: AmqpOptions;
  readonly #recovery: Required<RecoveryPolicy>;
  readonly #publisher: Publisher;
  readonly #deliveries: AmqpDeliveries;
  readonly #statusListeners = new Set<(status: TransportStatus) => void>();
  #conn: ChannelModel | undefined;
  #state: 'new' | 'connecting' | 'ready' | 'recovering' | 'closed' = 'new';
  /** Callers of {@link AmqpTransport.connection} waiting through a recovery. */
  readonly #waiters = new ConnectionWaiters();
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
      suspect: (target, message) => this.#unavailable.suspect(target, message),
    });
    this.admin = createTransportAdmin(
      {
        connection: () => this.connection(),
        knownExchanges: this.knownExchanges,
        current: () => this.#current,
      },
      this.#extra,
    );
    this.#deliveries = new AmqpDeliveries({
      connection: () => this.connection(),
      isReady: () => this.isReady,
      closeReason: () => this.#closeReason,
      publishChannel: () => this.#publisher.channel,
      readyCount: async (queue) =>
        (await this.admin.declareQueue(PASSIVE_PROBE(queue), { passive: true })).messageCount,
      brokerCancelled: (queue) => this.#brokerCancelled(queue),
    });
    this.#unavailable = new UnavailableQueues({
      record: this.admin.record,
      recovery: this.#recovery,
      redeclare: (queue) => this.admin.redeclare(queue),
      check: async (queue) => void (await this.admin.declareQueue(PASSIVE_PROBE(queue), { passive: true })),
      gone: (queue, error) => this.#gone(queue, error),
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

  consume(request: ConsumeRequest, sink: DeliverySink): Promise<TransportSubscription> {
    return this.#deliveries.consume(request, sink);
  }

  get(queue: string, options: { noAck: boolean }): Promise<InboundMessage | undefined> {
    return this.#deliveries.get(queue, options);
  }

  settle(message: InboundMessage, outcome: SettleOutcome): Promise<void> {
    return this.#deliveries.settle(message, outcome);
  }

  /** The live connection; during a recovery, waits for it (bounded by the publish deadline). */
  connection(): Promise<ChannelModel> {
    if (this.#state === 'ready' && this.#conn) return Promise.resolve(this.#conn);
    if (this.#state === 'closed') return Promise.reject(new ConnectionClosedError('amqp transport is closed'));
    if (this.#state === 'new') return Promise.reject(new ConnectionClosedError('amqp transport is not connected'));
    return this.#waiters.wait(this.#extra.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS);
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
    this.#waiters.resolveAll(this.#conn as ChannelModel);
  }

  #lost(conn: ChannelModel, error: Error | undefined): void {
    if (conn !== this.#conn) return;
    this.#conn = undefined;
    this.#deliveries.lost();
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
        for (const sub of this.#deliveries.subscriptions) await this.#resumeOrWait(sub, conn, renamed);
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
    this.#waiters.rejectAll(closed);
    this.#emit({ type: 'disconnected', error: closed });
  }

  async #close(): Promise<void> {
    const wasOpen = this.#state !== 'closed' && this.#state !== 'new';
    this.#state = 'closed';
    const closed = new ConnectionClosedError('amqp transport is closed');
    this.#publisher.close(closed);
    this.#waiters.rejectAll(closed);
    await this.#deliveries.close();
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
        for (const sub of this.#deliveries.subscriptions) {
          if (sub.queues[0] === DIRECT_REPLY_TO) await sub.resume(conn, new Map()).catch(() => undefined);
        }
      },
      () => this.#publisher.refreshFailed(), // the connection is going too; recovery will attach a channel
    );
    return true;
  }

  /**
   * The broker cancelled a consumer of `queue`. Deleted: the subscription ends. Unavailable (its node
   * went down): the subscription waits and resumes when the queue is back. There: consume again now.
   */
  async #brokerCancelled(queue: string): Promise<'wait' | 'resume' | Error> {
    try {
      await this.admin.declareQueue(PASSIVE_PROBE(queue), { passive: true });
      return 'resume';
    } catch (error) {
      const reason = fromAmqpError(error, { entity: { kind: 'queue', name: queue } });
      if (!(reason instanceof QueueUnavailableError)) return reason;
      this.#unavailable.add(queue, reason);
      return 'wait';
    }
  }

  /** A queue waited for was deleted meanwhile: its subscriptions end, held publishes go out as they are. */
  #gone(queue: string, error: Error): void {
    for (const sub of [...this.#deliveries.subscriptions]) if (sub.queues.includes(queue)) sub.end(error);
    this.#publisher.release();
  }

  /** A queue that was unavailable is declared and bound again: its consumers and held publishes go on. */
  async #restored(queue: string): Promise<void> {
    this.#emit({ type: 'queue-restored', queue });
    const conn = this.#conn;
    if (conn && this.#state === 'ready') {
      for (const sub of this.#deliveries.subscriptions) {
        if (sub.queues.includes(queue) && !sub.active) await this.#resumeOrWait(sub, conn, new Map());
      }
    }
    this.#publisher.release();
  }

  /**
   * Consumes again on `conn`, unless a queue of the subscription is unavailable: then it waits for
   * {@link AmqpTransport.#restored}. Any other refusal fails (the reconnect retries).
   */
  async #resumeOrWait(sub: AmqpSubscription, conn: ChannelModel, renamed: ReadonlyMap<string, string>): Promise<void> {
    if (sub.queues.some((q) => this.#unavailable.has(q))) {
      sub.rename(renamed);
      return;
    }
    try {
      await sub.resume(conn, renamed);
    } catch (error) {
      if (!(error instanceof QueueUnavailableError)) throw error;
      this.#unavailable.add(error.queue, error);
    }
  }

  #emit(status: TransportStatus): void {
    for (const listener of this.#statusListeners) listener(status);
  }
}
