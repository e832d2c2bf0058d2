/**
 * The receiving side. {@link Consumer} subscribes to queues through the transport, bounds unsettled
 * messages with a prefetch window, and feeds a handler or a `for await` loop. Its defaults are chosen
 * so that no message disappears silently: an undecodable one is rejected, a failing handler's message
 * is requeued once and then rejected, and closing returns what was not settled to its queue.
 *
 * @module
 */
import { hostname } from 'node:os';
import { InvalidArgumentError, InvalidOperationError } from '../errors.js';
import { QueuedIterator } from '../internal/queued-iterator.js';
import { checkCount } from '../model/names.js';
import { Queue } from '../model/queue.js';
import type { InboundMessage, SettleOutcome, Transport, TransportSubscription } from '../transport/spi.js';
import type { ConnectionContext } from './connection-context.js';
import { Message, type MessageContext } from './message.js';
import type { MessageSpan } from './tracing.js';

/** Options of {@link Consumer}. */
export interface ConsumerOptions {
  /** Queues to consume: declarations (declared first when `autoDeclare`) or names of existing queues. */
  readonly queues: readonly (Queue | string)[];
  /**
   * Called for each message; handlers run concurrently up to `prefetch`. Leave it out to iterate the
   * consumer with `for await` instead (one or the other, not both).
   */
  readonly handler?: (message: Message) => void | Promise<void>;
  /** Serializer names or content types that may be decoded. @defaultValue `['json']` */
  readonly accept?: readonly string[];
  /** Most unsettled messages at once (0 = unlimited, which lets a backlog flood memory). @defaultValue `100` */
  readonly prefetch?: number;
  /** The broker forgets messages as it sends them: faster, and lost if the process dies. @defaultValue `false` */
  readonly noAck?: boolean;
  /** Start of each consumer tag. @defaultValue `'wakame'` */
  readonly tagPrefix?: string;
  /** Declare {@link Queue} declarations before consuming. @defaultValue `true` */
  readonly autoDeclare?: boolean;
  /** `'priority'` serves queues in the order given, later ones only while earlier ones are empty. @defaultValue `'round-robin'` */
  readonly order?: 'round-robin' | 'priority';
  /**
   * Decode each payload before the handler sees it, so decode failures go to `onDecodeError`. A body
   * over the connection's `maxBodyBytes` goes to `onDecodeError` either way. @defaultValue `true`
   */
  readonly decode?: boolean;
  /**
   * A message that cannot be decoded, is not accepted, or whose body is larger than the connection's
   * `maxBodyBytes` (a `PayloadTooLargeError`, before anything decoded it). @defaultValue reject without
   * requeue (it is dead-lettered if the queue has a dead-letter exchange), never a silent ack
   */
  readonly onDecodeError?: (message: Message, error: Error) => void | Promise<void>;
  /**
   * A handler threw and left the message unsettled. @defaultValue requeue it once, then (when it comes
   * back redelivered and fails again) reject it, so a poison message cannot loop forever
   */
  readonly onHandlerError?: (message: Message, error: unknown) => void | Promise<void>;
  /**
   * Run the handler inside an OpenTelemetry CONSUMER span of each message (see the connection's `tracing`); a
   * `Worker` turns this off for its consumers, which it traces itself. @defaultValue `true`
   */
  readonly tracing?: boolean;
}

export const DEFAULT_PREFETCH = 100;
let tagCounter = 0;

/**
 * Consumes messages from one or more queues, through a handler or `for await`.
 *
 * @example
 * const consumer = connection.consumer({ queues: [tasks], handler: async (m) => { work(m.payload); await m.ack(); } });
 * await consumer.consume();
 * // …
 * await consumer.close(); // unsettled messages go back to the queue
 */
export class Consumer implements AsyncIterable<Message> {
  readonly connection: ConnectionContext;
  readonly queues: readonly (Queue | string)[];
  readonly #options: ConsumerOptions;
  readonly #prefetch: number;
  /** Handlers (and decode-error hooks) running now, and who waits for them to finish. */
  #running = 0;
  #idleWaiters: (() => void)[] = [];
  readonly #delivered = new Set<Message>();
  #iterator: QueuedIterator<Message> | undefined;
  #subscription: TransportSubscription | undefined;
  #transport: Transport | undefined;
  #tags: string[] = [];
  #state: 'idle' | 'starting' | 'consuming' | 'cancelled' | 'closed' = 'idle';
  #starting: Promise<void> | undefined;
  #context: MessageContext | undefined;
  #unhookClose: (() => void) | undefined;

  constructor(connection: ConnectionContext, options: ConsumerOptions) {
    if (!Array.isArray(options.queues) || options.queues.length === 0) {
      throw new InvalidArgumentError('a consumer needs at least one queue');
    }
    this.connection = connection;
    this.queues = options.queues;
    this.#options = options;
    this.#prefetch = checkCount(options.prefetch, 'prefetch', 0, 65_535) ?? DEFAULT_PREFETCH;
    connection.acceptSet(options.accept); // fail now, not at the first message, on an unknown name
  }

  /** One tag per queue, in queue order; empty until consuming. */
  get consumerTags(): readonly string[] {
    return this.#tags;
  }

  /**
   * Messages can arrive now: subscribed, the connection up, and none of its queues unavailable. False while a
   * transport reconnects by itself (the subscription resumes afterwards) and while a queue's node is down.
   */
  get isConsuming(): boolean {
    if (this.#state !== 'consuming' || !this.connection.isConnected) return false;
    const down = this.connection.unavailableQueues;
    return down.size === 0 || !this.queues.some((q) => down.has(typeof q === 'string' ? q : q.name));
  }

  /** Messages delivered and not yet settled. */
  get unsettled(): number {
    return this.#delivered.size;
  }

  /** Declares (when `autoDeclare`) and starts consuming. Idempotent while consuming. */
  async consume(): Promise<this> {
    if (this.#state === 'consuming') return this;
    if (this.#state === 'cancelled' || this.#state === 'closed') {
      throw new InvalidOperationError('this consumer was cancelled; create a new one to consume again');
    }
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined;
    });
    await this.#starting;
    return this;
  }

  /** Stops new deliveries; delivered messages can still be settled. Waits for running handlers. */
  async cancel(): Promise<void> {
    if (this.#state === 'cancelled' || this.#state === 'closed') return;
    await this.#starting?.catch(() => undefined);
    this.#state = 'cancelled';
    const subscription = this.#subscription;
    this.#subscription = undefined;
    await subscription?.cancel();
    this.#iterator?.stop();
    if (subscription) this.connection.events.emit('consumer.cancel', { consumerTags: this.#tags });
    await this.idle();
  }

  /** Cancels, then returns every delivered-but-unsettled message to its queue. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    await this.cancel();
    this.#state = 'closed';
    this.#unhookClose?.();
    const unsettled = [...this.#delivered];
    this.#delivered.clear();
    // All at once, latest first: a store that puts a requeued message at the head of its queue (Redis)
    // then keeps the original order, and stores that restore original positions (AMQP) do not care.
    await Promise.all(
      unsettled
        .reverse()
        .filter((message) => !message.settled)
        .map((message) => message.requeue().catch(() => undefined)),
    );
  }

  /** Resolves once the handlers running now have finished. */
  idle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    if (this.#options.handler) {
      throw new InvalidOperationError('this consumer has a handler; iterate a consumer created without one');
    }
    const iterator = this.#queue();
    iterator[Symbol.asyncIterator](); // refuses a second iteration
    const started = this.consume();
    // Start consuming on first pull, and surface a failure to start through the loop.
    return {
      next: async () => {
        await started;
        return iterator.next();
      },
      return: async () => iterator.return(),
    };
  }

  async #start(): Promise<void> {
    this.#state = 'starting';
    try {
      const conn = this.connection;
      const names: string[] = [];
      for (const q of this.queues) {
        if (q instanceof Queue && (this.#options.autoDeclare ?? true)) {
          // Always this consumer's connection, whichever connection the declaration was attached to.
          const result = await q.attach(conn).declare();
          names.push(result.name);
        } else {
          names.push(typeof q === 'string' ? q : q.name);
        }
      }
      const transport = await conn.ready();
      this.#transport = transport;
      this.#context = {
        settle: (m, outcome) => transport.settle(m, outcome),
        serializers: conn.serializers,
        compressors: conn.compressors,
        accept: conn.acceptSet(this.#options.accept),
        maxBodyBytes: conn.maxBodyBytes,
        onSettle: (m, outcome) => this.#settled(m, outcome),
      };
      const prefix = this.#options.tagPrefix ?? 'wakame';
      const seq = ++tagCounter;
      this.#tags = names.map((q) => `${prefix}.${hostname()}.${process.pid}.${seq}.${q}`.slice(0, 255));
      this.#subscription = await transport.consume(
        {
          queues: names,
          prefetch: this.#options.noAck ? 0 : this.#prefetch,
          noAck: this.#options.noAck ?? false,
          consumerTags: this.#tags,
          order: this.#options.order ?? 'round-robin',
        },
        { deliver: (m) => this.#onDeliver(m), cancelled: (reason) => this.#onCancelled(reason) },
      );
      this.#unhookClose = conn.onClose(() => this.close());
      this.#state = 'consuming';
      conn.events.emit('consumer.subscribe', { queues: names, consumerTags: this.#tags });
    } catch (error) {
      this.#state = 'idle';
      throw error;
    }
  }

  #onDeliver(inbound: InboundMessage): void {
    const message = new Message(inbound, this.#context as MessageContext);
    if (!inbound.autoAcked) this.#delivered.add(message);
    const events = this.connection.events;
    if (events.listening('consumer.deliver')) {
      const info = inbound.deliveryInfo;
      events.emit('consumer.deliver', {
        queue: info.queue,
        consumerTag: info.consumerTag,
        deliveryTag: info.deliveryTag,
        redelivered: info.redelivered,
      });
    }
    // The bound holds whatever `decode` says: a body over it never reaches a handler or the iterator.
    const tooLarge = message.tooLarge;
    if (tooLarge) {
      this.#track(this.#decodeFailed(message, tooLarge));
      return;
    }
    if (this.#options.decode ?? true) {
      try {
        message.decode();
      } catch (error) {
        this.#track(this.#decodeFailed(message, error as Error));
        return;
      }
    }
    const handler = this.#options.handler;
    if (handler) this.#runHandler(handler, message);
    else {
      this.#queue().push(message);
      this.connection.handled();
    }
  }

  /** The buffer `for await` reads from; breaking out of the loop closes the consumer. */
  #queue(): QueuedIterator<Message> {
    this.#iterator ??= new QueuedIterator<Message>(async () => this.close());
    return this.#iterator;
  }

  #track(work: Promise<void>): void {
    // The tracked functions never reject (they report failures themselves); count them out.
    this.#running++;
    void work.then(this.#finished);
  }

  /** One tracked piece of work is over (a bound function: one per consumer, not one per message). */
  readonly #finished = (): void => {
    this.connection.handled();
    if (--this.#running === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  };

  /**
   * Runs the handler without an async frame of its own: a handler that returns a promise costs one
   * `then` on it, and a synchronous one no promise at all (hot path: every delivery goes through here).
   */
  #runHandler(handler: (m: Message) => void | Promise<void>, message: Message): void {
    const span = (this.#options.tracing ?? true) ? this.connection.tracing.process(message) : undefined;
    if (span !== undefined) {
      this.#runTraced(handler, message, span);
      return;
    }
    let result: void | Promise<void>;
    try {
      result = handler(message);
    } catch (error) {
      this.#track(this.#handlerFailed(message, error));
      return;
    }
    if (isThenable(result)) {
      this.#running++;
      Promise.resolve(result).then(this.#finished, (error: unknown) => {
        void this.#handlerFailed(message, error).then(this.#finished);
      });
      return;
    }
    this.connection.handled();
  }

  /** {@link Consumer.#runHandler} inside `span`, ended when the handler returns or fails. */
  #runTraced(handler: (m: Message) => void | Promise<void>, message: Message, span: MessageSpan): void {
    let result: void | Promise<void>;
    try {
      result = span.run(() => handler(message));
    } catch (error) {
      span.end(error);
      this.#track(this.#handlerFailed(message, error));
      return;
    }
    if (isThenable(result)) {
      this.#running++;
      Promise.resolve(result).then(
        () => {
          span.end();
          this.#finished();
        },
        (error: unknown) => {
          span.end(error);
          void this.#handlerFailed(message, error).then(this.#finished);
        },
      );
      return;
    }
    span.end();
    this.connection.handled();
  }

  async #handlerFailed(message: Message, error: unknown): Promise<void> {
    this.connection.events.emit('consumer.handler_error', { queue: message.queue, error });
    this.connection.logger.error('message handler failed', { queue: message.queue, error: String(error) });
    if (message.settled) return;
    try {
      if (this.#options.onHandlerError) await this.#options.onHandlerError(message, error);
      else await message.reject({ requeue: !message.redelivered });
    } catch (settleError) {
      this.connection.logger.error('could not settle a failed message', {
        queue: message.queue,
        error: String(settleError),
      });
    }
  }

  async #decodeFailed(message: Message, error: Error): Promise<void> {
    this.connection.events.emit('consumer.decode_error', { queue: message.queue, error });
    this.connection.logger.warn('message could not be decoded', { queue: message.queue, error: error.message });
    try {
      if (this.#options.onDecodeError) await this.#options.onDecodeError(message, error);
      else if (!message.settled) await message.reject();
    } catch (settleError) {
      this.connection.logger.error('onDecodeError failed', { queue: message.queue, error: String(settleError) });
    }
  }

  #settled(message: Message, outcome: SettleOutcome): void {
    this.#delivered.delete(message);
    const events = this.connection.events;
    if (events.listening('message.settle')) {
      events.emit('message.settle', { queue: message.queue, deliveryTag: message.deliveryTag, outcome });
    }
  }

  #onCancelled(reason: Error): void {
    this.connection.logger.warn('consumer cancelled by the broker', {
      consumerTags: this.#tags,
      reason: reason.message,
    });
    this.connection.events.emit('consumer.cancelled_by_broker', { consumerTags: this.#tags, reason: reason.message });
    this.#state = 'cancelled';
    this.#subscription = undefined;
    this.#iterator?.stop(reason);
  }

  /** @internal the transport this consumer uses (for tests and the worker). */
  get transport(): Transport | undefined {
    return this.#transport;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  // A native promise first: the common case, and cheaper than the property lookup.
  return (
    value instanceof Promise ||
    (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function')
  );
}
