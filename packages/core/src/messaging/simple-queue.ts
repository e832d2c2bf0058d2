/**
 * kombu's `SimpleQueue`, for scripts, tests and small tools that want `put` and `get` rather than
 * exchanges, bindings and handlers. It is built from the ordinary producer and consumer, so it gets
 * their serialization, declaration and settling rules; what it adds is a bounded `get()` that never
 * acks or drops a message on the caller's behalf.
 *
 * @module
 */
import { InvalidArgumentError, InvalidOperationError, QueueEmptyError } from '../errors.js';
import { Deque } from '../internal/deque.js';
import { MAX_TIMER_MS } from '../internal/sleep.js';
import { Exchange } from '../model/exchange.js';
import { checkCount } from '../model/names.js';
import { Queue, type QueueOptions } from '../model/queue.js';
import type { Connection } from './connection.js';
import { Consumer } from './consumer.js';
import type { Message } from './message.js';
import type { Producer, PublishOptions } from './producer.js';

/** Options of {@link SimpleQueue}. */
export interface SimpleQueueOptions {
  /** Options of the queue declared for a string name (ignored when a {@link Queue} is given). @defaultValue `{}` */
  readonly queue?: QueueOptions;
  /** Serializer of {@link SimpleQueue.put}. @defaultValue by body type, `json` for objects */
  readonly serializer?: string;
  /** Compression of {@link SimpleQueue.put}. @defaultValue none */
  readonly compression?: string;
  /** Serializer names or content types that received messages may be decoded as. @defaultValue `['json']` */
  readonly accept?: readonly string[];
  /**
   * The broker forgets each message as it is handed out, so the caller never settles it. Messages
   * are then fetched one `get` at a time (basic.get), never buffered: a buffered message would be
   * lost on close. @defaultValue `false`: the caller acks (or requeues) every message
   */
  readonly noAck?: boolean;
  /**
   * Most messages the underlying consumer holds unsettled: buffered for the next `get()` or handed
   * out and not yet settled. @defaultValue `1`
   */
  readonly prefetch?: number;
}

/** Options of {@link SimpleQueue.put}. */
export type SimplePutOptions = Pick<
  PublishOptions,
  | 'headers'
  | 'priority'
  | 'expiration'
  | 'serializer'
  | 'compression'
  | 'contentType'
  | 'persistent'
  | 'messageId'
  | 'correlationId'
  | 'signal'
>;

/** Options of {@link SimpleQueue.get}. */
export interface SimpleGetOptions {
  /** Longest wait in ms; `0` is {@link SimpleQueue.getNowait}. @defaultValue {@link DEFAULT_GET_TIMEOUT_MS} */
  readonly timeout?: number;
  /** Gives up early, rejecting with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** How long {@link SimpleQueue.get} waits by default. Every wait is bounded: there is no "forever". */
export const DEFAULT_GET_TIMEOUT_MS = 5_000;

// Polling backs a wait only when no push can come (noAck, a full prefetch window, a cancelled
// consumer), so the interval trades a little latency for not hammering the broker.
const POLL_MIN_MS = 10;
const POLL_MAX_MS = 200;
/** Held messages are swept of settled ones only past this many, so tracking stays O(1) per message. */
const HELD_SWEEP_AT = 256;

interface Waiter {
  /** A consumer delivery for this waiter. */
  deliver(message: Message): void;
  /** Stop waiting with `reason` (deferred while a fetch for this waiter is in flight). */
  cancel(reason: unknown): void;
}

/**
 * A queue used like a local one (kombu's `SimpleQueue`): {@link SimpleQueue.put} publishes,
 * {@link SimpleQueue.get} waits a bounded time for the next message.
 *
 * A string name declares a direct exchange, a queue and a routing key all named `name`; a
 * {@link Queue} is used as it is, publishing through its first binding (or the default exchange).
 *
 * `get()` consumes under the hood (prefetch {@link SimpleQueueOptions.prefetch}). No message is
 * ever dropped or acked behind the caller's back: one that arrives after a `get()` gave up is kept
 * for the next `get()`, and {@link SimpleQueue.close} returns every unsettled message to the queue.
 *
 * @example
 * const jobs = new SimpleQueue(connection, 'jobs');
 * await jobs.put({ id: 1 });
 * const message = await jobs.get({ timeout: 1_000 });
 * work(message.payload);
 * await message.ack();
 * await jobs.close();
 */
export class SimpleQueue {
  readonly connection: Connection;
  /** The declaration, attached to {@link SimpleQueue.connection}. */
  readonly queue: Queue;
  readonly noAck: boolean;
  readonly #producer: Producer;
  readonly #exchange: string;
  readonly #routingKey: string;
  readonly #prefetch: number;
  readonly #fetchOptions: { noAck: boolean; accept?: readonly string[] };
  readonly #accept: readonly string[] | undefined;
  /** Delivered or fetched, not yet returned by `get()`: the oldest first. */
  readonly #buffer = new Deque<Message>();
  /** Every message this queue received and may still have to return on close. */
  readonly #held = new Set<Message>();
  /** Pending `get()` calls, oldest first (a Set iterates in insertion order). */
  readonly #waiters = new Set<Waiter>();
  /** basic.get calls in flight; they never reject (close waits for them). */
  readonly #fetches = new Set<Promise<void>>();
  readonly #unhookClose: () => void;
  #consumer: Consumer | undefined;
  #starting: Promise<void> | undefined;
  #closed = false;

  constructor(connection: Connection, name: string | Queue, options: SimpleQueueOptions = {}) {
    const queue =
      typeof name === 'string'
        ? new Queue(name, { exchange: new Exchange(name, { type: 'direct' }), routingKey: name, ...options.queue })
        : name;
    if (queue.name === '') {
      throw new InvalidArgumentError('a SimpleQueue needs a named queue: a server-named one cannot be found again');
    }
    this.connection = connection;
    this.queue = queue.attach(connection);
    this.noAck = options.noAck ?? false;
    this.#prefetch = checkCount(options.prefetch, 'prefetch', 1, 65_535) ?? 1;
    const binding = queue.bindings[0];
    this.#exchange = binding?.exchangeName ?? '';
    this.#routingKey = binding ? binding.routingKey : queue.name;
    this.#accept = options.accept;
    this.#fetchOptions = { noAck: this.noAck, ...(options.accept ? { accept: options.accept } : {}) };
    connection.acceptSet(options.accept); // an unknown serializer name fails here, not at the first get
    this.#producer = connection.producer({
      autoDeclare: false,
      ...(options.serializer !== undefined ? { serializer: options.serializer } : {}),
      ...(options.compression !== undefined ? { compression: options.compression } : {}),
    });
    this.#unhookClose = connection.onClose(() => this.close());
  }

  /** Publishes `body` to the queue, declaring it first (once per connection). */
  async put(body: unknown, options: SimplePutOptions = {}): Promise<void> {
    this.#assertOpen('put');
    await this.#producer.publish(body, {
      ...options,
      exchange: this.#exchange,
      routingKey: this.#routingKey,
      declare: [this.queue],
    });
  }

  /**
   * The next message, waiting up to `timeout` ms for one. Unless `noAck`, settle it (ack, reject or
   * requeue); until then it counts against the prefetch window.
   * @throws {@link QueueEmptyError} when none arrived in time; the signal's reason when aborted;
   * {@link InvalidOperationError} when the queue is (or gets) closed.
   */
  async get(options: SimpleGetOptions = {}): Promise<Message> {
    const timeout = checkCount(options.timeout, 'timeout', 0, MAX_TIMER_MS) ?? DEFAULT_GET_TIMEOUT_MS;
    this.#assertOpen('get');
    options.signal?.throwIfAborted();
    const buffered = this.#buffer.shift();
    if (buffered) return buffered;
    if (timeout === 0) return this.getNowait();
    const deadline = performance.now() + timeout;
    await this.connection.declare(this.queue);
    if (!this.noAck) await this.#ensureConsumer();
    // Starting the consumer may already have delivered something.
    return this.#buffer.shift() ?? this.#wait(timeout, deadline, options.signal);
  }

  /**
   * The next message if one is ready now (basic.get), without waiting.
   * @throws {@link QueueEmptyError} when the queue is empty.
   */
  async getNowait(): Promise<Message> {
    this.#assertOpen('getNowait');
    const buffered = this.#buffer.shift();
    if (buffered) return buffered;
    await this.connection.declare(this.queue);
    const message = await this.#fetch();
    if (message) return message;
    throw new QueueEmptyError(this.queue.name, `queue '${this.queue.name}' is empty`);
  }

  /** Messages waiting to be got: ready on the broker plus those already received here and not yet returned. */
  async size(): Promise<number> {
    this.#assertOpen('size');
    await this.connection.declare(this.queue);
    return (await this.queue.messageCount()) + this.#buffer.length;
  }

  /**
   * Removes every waiting message: purges the broker's ready ones and acks (discards) those
   * received here and not yet returned. Messages handed out by `get()` are the caller's to settle.
   * @returns how many were removed.
   */
  async clear(): Promise<number> {
    this.#assertOpen('clear');
    await this.connection.declare(this.queue);
    let removed = await this.queue.purge();
    for (let m = this.#buffer.shift(); m; m = this.#buffer.shift()) {
      if (!m.settled) await m.ack();
      removed++;
    }
    return removed;
  }

  /**
   * Stops consuming and returns every message received and not settled (buffered, or handed out by
   * `get()`) to the queue; pending `get()` calls reject. The connection stays open. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unhookClose();
    const reason = new InvalidOperationError(`SimpleQueue '${this.queue.name}' was closed while get() was waiting`);
    for (const waiter of [...this.#waiters]) waiter.cancel(reason);
    await Promise.all(this.#fetches);
    await this.#starting?.catch(() => undefined);
    try {
      await this.#consumer?.close();
    } finally {
      this.#buffer.clear();
      // The consumer requeued its own deliveries; basic.get ones are only known here.
      for (const message of this.#held) if (!message.settled) await message.requeue().catch(() => undefined);
      this.#held.clear();
    }
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  toString(): string {
    return `SimpleQueue(${this.queue.name})`;
  }

  // ---------------------------------------------------------------------------------------------

  #assertOpen(operation: string): void {
    if (this.#closed) {
      throw new InvalidOperationError(`SimpleQueue '${this.queue.name}' is closed: cannot ${operation}()`);
    }
  }

  async #ensureConsumer(): Promise<void> {
    if (this.#consumer?.isConsuming) return;
    this.#starting ??= this.#startConsumer().finally(() => {
      this.#starting = undefined;
    });
    await this.#starting;
  }

  async #startConsumer(): Promise<void> {
    // A consumer the broker cancelled is replaced, not closed: closing it would requeue messages
    // the caller still holds. They stay in #held and go back on close if never settled.
    const consumer = new Consumer(this.connection, {
      queues: [this.queue.name],
      handler: (message) => this.#onDeliver(message),
      prefetch: this.#prefetch,
      autoDeclare: false,
      // Decoding is the caller's (through message.payload): a bad body must reach them, not be rejected here.
      decode: false,
      // With decoding off, only a body over maxBodyBytes comes here: it reaches the caller as from a
      // basic.get, empty, its payload throwing PayloadTooLargeError.
      onDecodeError: (message) => this.#onDeliver(message),
      tagPrefix: 'wakame.simple',
      ...(this.#accept ? { accept: this.#accept } : {}),
    });
    await consumer.consume();
    if (this.#closed) {
      await consumer.close();
      throw new InvalidOperationError(`SimpleQueue '${this.queue.name}' was closed while get() was waiting`);
    }
    this.#consumer = consumer;
  }

  #onDeliver(message: Message): void {
    this.#hold(message);
    const [waiter] = this.#waiters;
    if (waiter) waiter.deliver(message);
    else this.#buffer.push(message);
  }

  /** One basic.get, remembered so close() can wait for it and requeue what it returns. */
  #fetch(): Promise<Message | undefined> {
    const fetched = this.connection.getMessage(this.queue.name, this.#fetchOptions).then((message) => {
      if (message) this.#hold(message);
      return message;
    });
    const tracked = fetched.then(
      () => undefined,
      () => undefined,
    );
    this.#fetches.add(tracked);
    void tracked.then(() => this.#fetches.delete(tracked));
    return fetched;
  }

  #hold(message: Message): void {
    if (message.settled) return; // noAck: nothing to give back
    if (this.#held.size >= HELD_SWEEP_AT) {
      for (const m of this.#held) if (m.settled) this.#held.delete(m);
    }
    this.#held.add(message);
  }

  /** A message nobody waits for any more: buffered for the next get(), or back to the queue once closed. */
  #keep(message: Message): void {
    if (!this.#closed) this.#buffer.push(message);
    else if (!message.settled) void message.requeue().catch(() => undefined);
  }

  /** Whether a wait must poll: no push will come while the window is full or nobody consumes. */
  #mustPoll(): boolean {
    const consumer = this.#consumer;
    if (this.noAck || !consumer?.isConsuming) return true;
    return consumer.unsettled >= this.#prefetch;
  }

  #wait(timeout: number, deadline: number, signal: AbortSignal | undefined): Promise<Message> {
    if (this.#closed) {
      return Promise.reject(new InvalidOperationError(`SimpleQueue '${this.queue.name}' is closed: cannot get()`));
    }
    return new Promise<Message>((resolve, reject) => {
      let done = false;
      let fetching = false;
      // A reason to give up that arrived mid-fetch: the fetch finishes first, so a message it takes
      // off the broker (already forgotten there under noAck) reaches the caller instead of being lost.
      let pending: { reason: unknown } | undefined;
      let pollTimer: NodeJS.Timeout | undefined;
      let pollDelay = POLL_MIN_MS;
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        this.#waiters.delete(waiter);
        clearTimeout(deadlineTimer);
        clearTimeout(pollTimer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const giveUp = (reason: unknown): void => {
        if (fetching) pending ??= { reason };
        else if (finish()) reject(reason);
      };
      const waiter: Waiter = {
        deliver: (message) => {
          if (finish()) resolve(message);
          else this.#keep(message);
        },
        cancel: giveUp,
      };
      const onAbort = (): void => giveUp(signal?.reason);
      const poll = async (): Promise<void> => {
        pollTimer = undefined;
        if (done) return;
        if (this.#mustPoll()) {
          fetching = true;
          let message: Message | undefined;
          try {
            message = await this.#fetch();
          } catch (error) {
            fetching = false;
            if (finish()) reject(error);
            return;
          }
          fetching = false;
          if (message) {
            if (finish()) resolve(message);
            else this.#keep(message);
            return;
          }
          if (pending) {
            if (finish()) reject(pending.reason);
            return;
          }
          if (done) return;
        }
        pollTimer = setTimeout(() => void poll(), Math.min(pollDelay, Math.max(0, deadline - performance.now())));
        pollDelay = Math.min(pollDelay * 2, POLL_MAX_MS);
      };
      const name = this.queue.name;
      const empty = () => new QueueEmptyError(name, `no message arrived on queue '${name}' within ${timeout} ms`);
      const deadlineTimer = setTimeout(() => giveUp(empty()), Math.max(0, deadline - performance.now()));
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort(); // aborted while declaring or starting the consumer
      void poll();
    });
  }
}

/** Shorthand for `new SimpleQueue(connection, name, options)`. */
export function simpleQueue(connection: Connection, name: string | Queue, options?: SimpleQueueOptions): SimpleQueue {
  return new SimpleQueue(connection, name, options);
}
