/**
 * The transport for brokers without AMQP semantics (memory, Redis, files), after kombu's virtual
 * transport. It wires the shared pieces (routing and publishing, the dispatcher, the admin, expiry
 * sweeps) around one store, so that a store only has to keep records and claim messages, and the
 * broker behaviour an application sees is the same whichever store is underneath. Claiming with
 * expiry (dead-lettering what ran out on the way) is in `live-claims.ts`.
 *
 * @module
 */
import {
  ConnectionClosedError,
  InvalidOperationError,
  MessageStateError,
  NotFoundError,
  UnsupportedFeatureError,
} from '../errors.js';
import { SETTLED } from '../internal/settled.js';
import { BUILTIN_EXCHANGES } from '../model/builtin-exchanges.js';
import type {
  Capabilities,
  ConsumeRequest,
  DeliverySink,
  InboundMessage,
  OutboundMessage,
  PublishTarget,
  SettleOutcome,
  Transport,
  TransportStatus,
  TransportSubscription,
} from '../transport/spi.js';
import { Dispatcher, type Subscription } from './dispatcher.js';
import { ExpirySchedule } from './expiry-schedule.js';
import { LiveClaims } from './live-claims.js';
import { Publishing } from './publishing.js';
import type { Claimed, ImmediateStore, VirtualStore } from './store.js';
import { TopologyCache } from './topology-cache.js';
import { Handle, UnsettledList } from './unsettled.js';
import { VirtualAdmin } from './virtual-admin.js';
import { virtualCapabilities } from './virtual-capabilities.js';

/** Options of {@link VirtualTransport}. */
export interface VirtualTransportOptions {
  /** Poll interval for stores that cannot signal new messages (ms). @defaultValue `100` */
  readonly pollIntervalMs?: number;
  /** Receives errors that have no caller (a failed background drain). */
  readonly onError?: (error: unknown) => void;
  /**
   * The connection's bound on a received body (`TransportOptions.maxBodyBytes`), passed to the
   * store's claims for delivery so a store that can see a body's size leaves a larger body unread.
   */
  readonly maxBodyBytes?: number;
  /** The URL's vhost: policies of other vhosts are kept but not applied. @defaultValue `'/'` */
  readonly vhost?: string;
}

/** @defaultValue for {@link VirtualTransportOptions.pollIntervalMs} */
export const DEFAULT_POLL_INTERVAL_MS = 100;

/**
 * Lifts a {@link VirtualStore} to a full {@link Transport}: exchanges and routing (direct, topic,
 * fanout, headers, exchange-to-exchange, alternate exchanges), prefetch, redelivery, priorities,
 * per-message and per-queue TTL, max-length with overflow, and dead-lettering with `x-death`
 * headers all happen here, the same way for every store.
 */
export class VirtualTransport implements Transport {
  readonly kind: string;
  readonly capabilities: Capabilities;
  readonly admin: VirtualAdmin;
  readonly #store: VirtualStore;
  /** The store's synchronous fast path, if it has one. */
  readonly #now: ImmediateStore | undefined;
  readonly #topology: TopologyCache;
  readonly #dispatcher: Dispatcher;
  readonly #publishing: Publishing;
  readonly #claims: LiveClaims;
  readonly #unsettled = new UnsettledList();
  readonly #statusListeners = new Set<(s: TransportStatus) => void>();
  readonly #onError: (error: unknown) => void;
  /** What claims for delivery tell the store (the body bound). */
  #deliveryTags = 0;
  /** When to sweep expired messages off queue heads; shared with the store's other transports. */
  readonly #expiry: ExpirySchedule;
  #leaveExpiry: (() => void) | undefined;
  #state: 'new' | 'open' | 'closed' = 'new';
  #closing: Promise<void> | undefined;
  #unwatch: (() => void) | undefined;
  #unstatus: (() => void) | undefined;

  constructor(store: VirtualStore, options: VirtualTransportOptions = {}) {
    this.#store = store;
    this.#now = store.immediate;
    this.#expiry = ExpirySchedule.of(store);
    this.kind = store.kind;
    this.#onError = options.onError ?? (() => {});
    this.#topology = new TopologyCache(store.topology, options.vhost);
    const armExpiry = (queue: string, at: number): void => this.#expiry.arm(queue, at);
    this.#publishing = new Publishing(store, this.#topology, armExpiry);
    this.#claims = new LiveClaims(
      store,
      this.#publishing,
      options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes },
      () => this.#state === 'open',
      armExpiry,
    );
    const poll = store.watch ? 0 : (options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.#dispatcher = new Dispatcher(
      {
        claim: (queue) => this.#claims.claim(queue),
        ...(store.getMany ? { claimMany: (queue: string, max: number) => this.#claims.claimMany(queue, max) } : {}),
        deliver: (sub, index, claimed) => this.#deliver(sub, index, claimed),
        report: (error) => this.#onError(error),
        // Without change notifications, a queue deleted by another client is noticed when polling.
        poll: () => {
          if (!this.#topology.fresh()) this.#cancelOrphans().catch((error: unknown) => this.#onError(error));
        },
      },
      poll,
    );
    this.capabilities = virtualCapabilities(store);
    this.admin = new VirtualAdmin(
      store,
      this.#topology,
      this.capabilities,
      { queueDeleted: (name) => this.#queueDeleted(name), isOpen: () => this.#assertOpen() },
      options.vhost,
    );
  }

  async connect(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'closed') throw new ConnectionClosedError(`${this.kind} transport is closed`);
    if (this.#state === 'open') return;
    await this.#store.open(signal);
    await this.#declareBrokerExchanges();
    this.#unwatch = this.#store.watch?.((queue) => {
      if (!this.#dispatcher.consumes(queue)) return;
      this.#dispatcher.schedule();
      const before = this.#topology.fresh();
      if (!before) this.#cancelOrphans().catch((error: unknown) => this.#onError(error));
    });
    this.#unstatus = this.#store.onStatus?.((status) => this.#emit(status));
    this.#state = 'open';
    this.#leaveExpiry = this.#expiry.join((queue) =>
      this.#claims.sweep(queue).catch((error: unknown) => this.#onError(error)),
    );
    this.#emit({ type: 'connected' });
  }

  /** The exchanges every AMQP broker has (`amq.direct`, …), so topologies written for RabbitMQ route the same here. */
  async #declareBrokerExchanges(): Promise<void> {
    const topology = await this.#topology.current();
    for (const [name, type] of BUILTIN_EXCHANGES) {
      if (topology.table.hasExchange(name)) continue;
      await this.#store.topology.putExchange({
        name,
        type,
        durable: true,
        autoDelete: false,
        internal: false,
        arguments: {},
      });
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#state !== 'open') {
      this.#state = 'closed';
      return;
    }
    this.#state = 'closed';
    this.#unwatch?.();
    this.#unstatus?.();
    this.#leaveExpiry?.();
    for (const sub of this.#dispatcher.subscriptions) for (const release of sub.releaseConsumers) release();
    this.#dispatcher.stop();
    await this.#dispatcher.drained();
    // Unsettled deliveries return to their queues, as when an AMQP channel closes.
    // Latest first, so a store that requeues to the head keeps the original order.
    const pending = this.#unsettled.drainLatestFirst();
    for (const h of pending) h.settled = true;
    await Promise.all(pending.map((h) => this.#store.settle(h.claimed.receipt, 'requeue')));
    await this.admin.dropExclusive();
    await this.#store.close();
    this.#emit({ type: 'disconnected' });
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  publish(message: OutboundMessage, target: PublishTarget): Promise<void> {
    if (target.transaction !== undefined) return this.#publishInTransaction(message, target);
    const topology = this.#state === 'open' ? this.#topology.fresh() : undefined;
    if (topology) {
      try {
        const now = this.#now;
        if (now) {
          if (this.#publishing.publishNow(now, topology, message, target)) return SETTLED;
        } else {
          const stored = this.#publishing.publishRouted(topology, message, target);
          if (stored) return stored;
        }
      } catch (error) {
        return Promise.reject(error);
      }
    }
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#publishing.publish(message, target);
  }

  async #publishInTransaction(message: OutboundMessage, target: PublishTarget): Promise<void> {
    this.#assertOpen();
    if (!this.#store.features.transactionalPut)
      throw new UnsupportedFeatureError('publishing in a database transaction', this.#store.kind);
    return this.#publishing.publish(message, target);
  }

  async consume(request: ConsumeRequest, sink: DeliverySink): Promise<TransportSubscription> {
    this.#assertOpen();
    const topology = await this.#topology.current();
    for (const queue of request.queues) {
      if (!topology.queues.has(queue)) throw new NotFoundError({ kind: 'queue', name: queue });
    }
    const sub: Subscription = {
      request,
      sink,
      inflight: 0,
      cancelled: false,
      cursor: 0,
      releaseConsumers: request.queues.map(
        (q, i) => this.#store.addConsumer?.(q, request.consumerTags[i] ?? q) ?? (() => {}),
      ),
    };
    this.#dispatcher.add(sub);
    return { cancel: () => this.#cancel(sub) };
  }

  async get(queue: string, options: { noAck: boolean }): Promise<InboundMessage | undefined> {
    this.#assertOpen();
    const topology = await this.#topology.current();
    if (!topology.queues.has(queue)) throw new NotFoundError({ kind: 'queue', name: queue });
    const claimed = await this.#claims.claim(queue);
    if (!claimed) return undefined;
    return this.#inbound(undefined, queue, '', claimed, options.noAck);
  }

  settle(message: InboundMessage, outcome: SettleOutcome): Promise<void> {
    try {
      const h = this.#claimHandle(message);
      if (!h) return SETTLED;
      const now = this.#now;
      if (now && outcome !== 'reject') {
        now.settle(h.claimed.receipt, outcome);
        this.#dispatcher.schedule();
        return SETTLED;
      }
      return this.#settle(h, outcome);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Marks the delivery settled and returns its handle; undefined for noAck deliveries. */
  #claimHandle(message: InboundMessage): Handle | undefined {
    const h = message.handle as Handle | undefined;
    if (!h || h.owner !== this) throw new InvalidOperationError('this message was not delivered by this connection');
    if (message.autoAcked) return undefined;
    if (h.settled) {
      if (this.#state === 'closed')
        throw new ConnectionClosedError('connection closed: the message went back to its queue');
      throw new MessageStateError(`message ${message.deliveryInfo.deliveryTag} is already settled`);
    }
    h.settled = true;
    this.#unsettled.delete(h);
    if (h.sub) h.sub.inflight--;
    return h;
  }

  async #settle(h: Handle, outcome: SettleOutcome): Promise<void> {
    if (outcome === 'requeue') {
      await this.#store.settle(h.claimed.receipt, 'requeue');
      this.#dispatcher.schedule();
      return;
    }
    if (outcome === 'reject') await this.#claims.deadLetter(h.queue, h.claimed, 'rejected');
    const acked = this.#store.settle(h.claimed.receipt, 'ack');
    // The prefetch window opened when the delivery was settled: claim the next messages now, so a
    // store behind a network round trip sends the claim together with the ack instead of after it.
    this.#dispatcher.schedule();
    await acked;
  }

  // ---------------------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#state === 'open') return;
    throw new ConnectionClosedError(
      this.#state === 'new' ? `${this.kind} transport is not connected` : `${this.kind} transport is closed`,
    );
  }

  #deliver(sub: Subscription, index: number, claimed: Claimed): void | Promise<void> {
    // Claimed, but the consumer went away meanwhile: it was never delivered, so it goes back unflagged.
    if (index < 0 || this.#state !== 'open') return this.#store.settle(claimed.receipt, 'release');
    const { queues, consumerTags, noAck } = sub.request;
    const queue = queues[index] as string;
    if (noAck && !this.#now) {
      return this.#store
        .settle(claimed.receipt, 'ack')
        .then(() => this.#hand(sub, this.#inbound(sub, queue, consumerTags[index] ?? '', claimed, true)));
    }
    if (noAck) this.#now?.settle(claimed.receipt, 'ack');
    this.#hand(sub, this.#inbound(sub, queue, consumerTags[index] ?? '', claimed, noAck));
  }

  #hand(sub: Subscription, message: InboundMessage): void {
    try {
      sub.sink.deliver(message);
    } catch (error) {
      this.#onError(error);
    }
  }

  /** The delivery handed to a consumer; for `noAck` the caller has already acked it in the store. */
  #inbound(
    sub: Subscription | undefined,
    queue: string,
    consumerTag: string,
    claimed: Claimed,
    noAck: boolean,
  ): InboundMessage {
    const handle = new Handle(this, sub, queue, claimed, noAck);
    if (!noAck) {
      this.#unsettled.add(handle);
      if (sub) sub.inflight++;
    }
    const m = claimed.message;
    const inbound: InboundMessage = {
      body: m.body,
      properties: m.properties,
      deliveryInfo: {
        queue,
        exchange: m.exchange,
        routingKey: m.routingKey,
        redelivered: m.redelivered,
        consumerTag,
        deliveryTag: ++this.#deliveryTags,
      },
      autoAcked: noAck,
      handle,
    };
    return m.withheldBodyBytes === undefined ? inbound : { ...inbound, withheldBodyBytes: m.withheldBodyBytes };
  }

  async #cancel(sub: Subscription): Promise<void> {
    if (sub.cancelled) return;
    this.#dispatcher.remove(sub);
    for (const release of sub.releaseConsumers) release();
    if (this.#state === 'open') await this.admin.autoDeleteUnused(sub.request.queues);
  }

  /** Cancels subscriptions whose queue another client deleted. */
  async #cancelOrphans(): Promise<void> {
    const topology = await this.#topology.current();
    for (const sub of [...this.#dispatcher.subscriptions]) {
      const gone = sub.request.queues.find((q) => !topology.queues.has(q));
      if (gone !== undefined) this.#queueDeleted(gone);
    }
  }

  /** A queue went away: its consumers here are told, as RabbitMQ sends basic.cancel. */
  #queueDeleted(name: string): void {
    for (const sub of [...this.#dispatcher.subscriptions]) {
      if (!sub.request.queues.includes(name)) continue;
      this.#dispatcher.remove(sub);
      for (const release of sub.releaseConsumers) release();
      sub.sink.cancelled?.(new NotFoundError({ kind: 'queue', name }));
    }
  }

  #emit(status: TransportStatus): void {
    for (const listener of this.#statusListeners) listener(status);
  }
}
