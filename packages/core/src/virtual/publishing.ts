/**
 * The publishing half of the virtual transport: routing a message to its queues, storing one copy
 * per queue (with its TTL and priority settled), applying max-length with its overflow behaviour,
 * and dead-lettering with `x-death` records. The delivery half stays in {@link VirtualTransport}.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { InvalidOperationError, NotFoundError, PublishRejectedError, UnroutableError } from '../errors.js';
import { SETTLED } from '../internal/settled.js';
import type { OutboundMessage, PublishTarget, QueueSpec } from '../transport/spi.js';
import { type DeathReason, deadLetterMessage, isDeadLetterCycle } from './dead-letter.js';
import type { ImmediateStore, StoredMessage, VirtualStore } from './store.js';
import type { CompiledTopology, TopologyCache } from './topology-cache.js';

export class Publishing {
  readonly #idPrefix = `${randomBytes(6).toString('hex')}.`;
  #ids = 0;

  constructor(
    private readonly store: VirtualStore,
    private readonly topology: TopologyCache,
    /** Makes sure the head of `queue` is looked at when a message in it may have expired. */
    private readonly armExpiry: (queue: string, at: number) => void,
  ) {}

  /**
   * The fast path of stores behind a round trip: routes synchronously and hands each copy to the
   * store, returning the store's own promise (no async frame per publish). Undefined (having done
   * nothing) when a destination needs the full path (max-length bookkeeping).
   */
  publishRouted(
    topology: CompiledTopology,
    message: OutboundMessage,
    target: PublishTarget,
  ): Promise<void> | undefined {
    const specs = this.#fastDestinations(topology, message, target);
    if (!specs) return undefined;
    const at = Date.now();
    const puts = specs.map((spec) => {
      const stored = this.stored(message, target.exchange, target.routingKey, spec, at);
      const put = this.store.put(spec.name, stored);
      const { expiresAt } = stored;
      // Armed once the message is stored: a sweep that ran before it was (a store that writes at the end of the
      // turn, a short TTL) would find the queue empty and never look again.
      return expiresAt === undefined ? put : put.then(() => this.armExpiry(spec.name, expiresAt));
    });
    if (puts.length === 1) return puts[0];
    return puts.length === 0 ? SETTLED : Promise.all(puts).then(() => undefined);
  }

  /**
   * The in-memory fast path: routes and stores without a single await. Returns false (having done
   * nothing) when a destination needs the asynchronous path (max-length bookkeeping).
   */
  publishNow(
    now: ImmediateStore,
    topology: CompiledTopology,
    message: OutboundMessage,
    target: PublishTarget,
  ): boolean {
    if (target.exchange === '') return this.#publishDirectNow(now, topology, message, target);
    const specs = this.#fastDestinations(topology, message, target);
    if (!specs) return false;
    const at = Date.now();
    for (const spec of specs) {
      const stored = this.stored(message, target.exchange, target.routingKey, spec, at);
      now.put(spec.name, stored);
      if (stored.expiresAt !== undefined) this.armExpiry(spec.name, stored.expiresAt);
    }
    return true;
  }

  /** {@link Publishing.publishNow} through the default exchange: at most one queue, no arrays to build. */
  #publishDirectNow(
    now: ImmediateStore,
    topology: CompiledTopology,
    message: OutboundMessage,
    target: PublishTarget,
  ): boolean {
    const { routingKey } = target;
    const spec = topology.queues.has(routingKey) ? topology.effective.get(routingKey) : undefined;
    if (spec === undefined) {
      if (target.mandatory) throw new UnroutableError('', routingKey);
      return true;
    }
    if (spec.maxLength !== undefined || spec.maxLengthBytes !== undefined) return false;
    const stored = this.stored(message, '', routingKey, spec, Date.now());
    now.put(spec.name, stored);
    if (stored.expiresAt !== undefined) this.armExpiry(spec.name, stored.expiresAt);
    return true;
  }

  /**
   * The queues a publish reaches, for the fast paths: undefined when one of them keeps a length limit
   * (its bookkeeping needs the full path). @throws UnroutableError for a mandatory publish nothing takes.
   */
  #fastDestinations(
    topology: CompiledTopology,
    message: OutboundMessage,
    target: PublishTarget,
  ): QueueSpec[] | undefined {
    const specs: QueueSpec[] = [];
    for (const name of this.#destinations(topology, message, target)) {
      const spec = topology.effective.get(name);
      if (!spec) continue;
      if (spec.maxLength !== undefined || spec.maxLengthBytes !== undefined) return undefined;
      specs.push(spec);
    }
    if (specs.length === 0 && target.mandatory) throw new UnroutableError(target.exchange, target.routingKey);
    return specs;
  }

  /** Queues a publish reaches. @throws NotFoundError / PublishRejectedError for a bad exchange. */
  #destinations(topology: CompiledTopology, message: OutboundMessage, target: PublishTarget): Iterable<string> {
    const { exchange, routingKey } = target;
    if (exchange === '') return topology.queues.has(routingKey) ? [routingKey] : [];
    const spec = topology.table.exchange(exchange);
    if (!spec) throw new NotFoundError({ kind: 'exchange', name: exchange });
    if (spec.internal) {
      throw new PublishRejectedError(
        `exchange '${exchange}' is internal: only exchange-to-exchange bindings may publish to it`,
      );
    }
    return topology.table.route(exchange, routingKey, message.properties.headers).queues;
  }

  async publish(message: OutboundMessage, target: PublishTarget): Promise<void> {
    const topology = this.topology.fresh() ?? (await this.topology.current());
    const { exchange, routingKey } = target;
    const queues = this.#destinations(topology, message, target);
    const now = Date.now();
    let routed = 0;
    let refused = 0;
    if (target.transaction !== undefined) {
      // Every copy in the caller's transaction; a length limit would need reads and drops outside it.
      const specs = [...queues].flatMap((name) => topology.effective.get(name) ?? []);
      const limited = specs.find((q) => q.maxLength !== undefined || q.maxLengthBytes !== undefined);
      if (limited)
        throw new InvalidOperationError(
          `queue '${limited.name}' has a length limit, which a transactional publish cannot keep: publish without the transaction`,
        );
      if (specs.length === 0 && target.mandatory) throw new UnroutableError(exchange, routingKey);
      for (const spec of specs) {
        const stored = this.stored(message, exchange, routingKey, spec, now);
        if (stored.expiresAt !== undefined) this.armExpiry(spec.name, stored.expiresAt);
        await this.store.put(spec.name, stored, { transaction: target.transaction });
      }
      return;
    }
    for (const name of queues) {
      const spec = topology.effective.get(name);
      if (!spec) continue;
      routed++;
      if (!(await this.#enqueue(spec, this.stored(message, exchange, routingKey, spec, now), topology))) refused++;
    }
    if (routed === 0 && target.mandatory) throw new UnroutableError(exchange, routingKey);
    if (refused > 0) {
      throw new PublishRejectedError(
        `message refused by ${refused} full queue${refused === 1 ? '' : 's'} (overflow: reject-publish)`,
      );
    }
  }

  stored(message: OutboundMessage, exchange: string, routingKey: string, queue: QueueSpec, now: number): StoredMessage {
    const { properties } = message;
    let expiresAt: number | undefined;
    if (properties.expiration !== undefined) expiresAt = now + Number(properties.expiration);
    if (queue.messageTtl !== undefined)
      expiresAt = Math.min(expiresAt ?? Number.POSITIVE_INFINITY, now + queue.messageTtl);
    const priority = queue.maxPriority === undefined ? 0 : Math.min(properties.priority ?? 0, queue.maxPriority);
    return {
      id: this.#idPrefix + (++this.#ids).toString(36),
      body: message.body,
      properties,
      exchange,
      routingKey,
      priority,
      expiresAt,
      redelivered: false,
    };
  }

  /** Puts a message, applying max-length; false when the queue refused it (reject-publish). */
  async #enqueue(queue: QueueSpec, message: StoredMessage, topology: CompiledTopology): Promise<boolean> {
    const stored = await this.#enqueueAndLimit(queue, message, topology);
    // Armed once the message is stored (see `publishRouted`).
    if (stored && message.expiresAt !== undefined) this.armExpiry(queue.name, message.expiresAt);
    return stored;
  }

  async #enqueueAndLimit(queue: QueueSpec, message: StoredMessage, topology: CompiledTopology): Promise<boolean> {
    const { maxLength, maxLengthBytes } = queue;
    if (maxLength === undefined && maxLengthBytes === undefined) {
      await this.store.put(queue.name, message);
      return true;
    }
    const overflow = queue.overflow ?? 'drop-head';
    if (overflow !== 'drop-head') {
      if (await this.#wouldOverflow(queue, message.body.length)) {
        if (overflow === 'reject-publish-dlx') await this.deadLetter(queue.name, message, 'maxlen', topology);
        return false;
      }
      await this.store.put(queue.name, message);
      return true;
    }
    await this.store.put(queue.name, message);
    while (await this.#wouldOverflow(queue, 0)) {
      const head = await this.store.get(queue.name);
      if (!head) break;
      await this.deadLetter(queue.name, head.message, 'maxlen', topology);
      await this.store.settle(head.receipt, 'ack');
    }
    return true;
  }

  async #wouldOverflow(queue: QueueSpec, adding: number): Promise<boolean> {
    const extra = adding > 0 ? 1 : 0;
    if (queue.maxLength !== undefined && (await this.store.size(queue.name)) + extra > queue.maxLength) return true;
    if (queue.maxLengthBytes !== undefined && this.store.sizeBytes) {
      return (await this.store.sizeBytes(queue.name)) + adding > queue.maxLengthBytes;
    }
    return false;
  }

  /**
   * Re-publishes a message through its queue's dead-letter exchange; dropped when there is none.
   * `readBody` reads a body the store left unread (`withheldBodyBytes`): only once the copy has
   * somewhere to go, so a message that is dropped is never read.
   */
  async deadLetter(
    queueName: string,
    message: StoredMessage,
    reason: DeathReason,
    known?: CompiledTopology,
    readBody?: () => Promise<Buffer>,
  ): Promise<void> {
    const topology = known ?? (await this.topology.current());
    const queue = topology.effective.get(queueName);
    const target = queue?.deadLetter;
    if (!queue || !target) return;
    const out = deadLetterMessage(message, queue, reason);
    const exchange = target.exchange;
    const routingKey = target.routingKey ?? message.routingKey;
    let destinations: Iterable<string>;
    if (exchange === '') destinations = [routingKey];
    else if (topology.table.hasExchange(exchange))
      destinations = topology.table.route(exchange, routingKey, out.properties.headers).queues;
    else return; // RabbitMQ drops silently when the dead-letter exchange is missing.
    const specs: QueueSpec[] = [];
    for (const name of destinations) {
      const spec = topology.effective.get(name);
      if (spec && (reason === 'rejected' || !isDeadLetterCycle(message, name))) specs.push(spec);
    }
    if (specs.length === 0) return;
    const copy = message.withheldBodyBytes !== undefined && readBody ? { ...out, body: await readBody() } : out;
    const now = Date.now();
    for (const spec of specs) await this.#enqueue(spec, this.stored(copy, exchange, routingKey, spec, now), topology);
  }
}
