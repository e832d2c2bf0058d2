/**
 * The shared machinery of the transport conformance suite: the capability probe, per-test broker URL,
 * tracked connections and entities (cleaned up after every test), and small helpers to collect deliveries.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  type Capabilities,
  Connection,
  type ConnectionOptions,
  type Consumer,
  type ConsumerOptions,
  Exchange,
  type ExchangeOptions,
  type Message,
  Queue,
  type QueueOptions,
} from '@wakame/core';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';

/**
 * How long a wait may take before the test fails. Waits end as soon as what they wait for happens
 * (milliseconds, usually), so this bounds only a failure; it is generous because the suite must
 * pass on a loaded 2-core machine with `pnpm bench` beside it (a file broker's expiry sweep once took
 * over 5 s there, with the bench fsyncing on the same disk).
 */
export const FAILURE_BOUND_MS = 20_000;

/** Options of {@link runTransportConformance}. */
export interface ConformanceOptions {
  /** Shown in describe names. */
  readonly name: string;
  /**
   * A broker URL that fresh connections can open, e.g. `() => \`memory://${randomUUID()}\``. It is called once
   * for the capability probe and once per test: every connection of one test uses the URL returned for that test,
   * so a factory returning a fresh name isolates tests completely, and a constant URL (a real broker) works as well
   * because every entity a test declares has a random name and is deleted after the test.
   */
  readonly url: () => string;
  /** Options for `Connection.open` (e.g. a transports registry). */
  readonly connectionOptions?: ConnectionOptions;
  /** Skip everything (used when a broker is unreachable on a laptop). */
  readonly skip?: boolean;
}

/** Decides from the declared capabilities whether a test applies to the transport. */
export type Requirement = (caps: Capabilities) => boolean;

/** Options of {@link Harness.test}. */
export interface TestOptions {
  /** The test is skipped (reported as such) unless the transport declares what this needs. */
  readonly needs?: Requirement;
  /** @defaultValue twice {@link FAILURE_BOUND_MS} */
  readonly timeout?: number;
}

/** The deliveries of one consumer, in arrival order. */
export interface Collector {
  readonly consumer: Consumer;
  readonly messages: Message[];
  /** Resolves once at least `count` messages arrived; rejects after `timeoutMs`. */
  waitForCount(count: number, timeoutMs?: number): Promise<Message[]>;
}

/** Options of {@link Harness.collect}. */
export type CollectOptions = Omit<ConsumerOptions, 'queues' | 'handler'> & {
  /** Ack each message as it arrives. @defaultValue `true` */
  readonly ack?: boolean;
};

/** What a test needs from the suite: connections, declarations and capability gates, all cleaned up. */
export class Harness {
  readonly options: ConformanceOptions;
  #caps: Capabilities | undefined;
  #url: string | undefined;
  readonly #connections = new Set<Connection>();
  readonly #queues = new Set<string>();
  readonly #exchanges = new Set<string>();

  constructor(options: ConformanceOptions) {
    this.options = options;
  }

  /** Registers the capability probe and the per-test cleanup in the enclosing describe. */
  install(): void {
    beforeAll(async () => {
      const probe = await Connection.open(this.options.url(), this.options.connectionOptions);
      try {
        this.#caps = probe.capabilities;
      } finally {
        await probe.close();
      }
    });
    afterEach(async () => this.cleanup());
  }

  /** The declared capabilities of the transport (available inside tests). */
  get caps(): Capabilities {
    if (!this.#caps) throw new Error('conformance: capabilities are only known once the probe in beforeAll ran');
    return this.#caps;
  }

  /** The broker URL of the running test. */
  get url(): string {
    this.#url ??= this.options.url();
    return this.#url;
  }

  /**
   * Registers a test. `it.runIf` cannot be used for capability gates because the capabilities are only known
   * once the probe in `beforeAll` has run, after collection: a test whose requirement is not declared skips
   * itself at run time instead (and is reported as skipped).
   */
  test(name: string, fn: () => Promise<void>, options: TestOptions = {}): void {
    const { needs } = options;
    it(name, { timeout: options.timeout ?? FAILURE_BOUND_MS * 2 }, async (context) => {
      if (needs !== undefined && !needs(this.caps)) context.skip('the transport does not declare this capability');
      await fn();
    });
  }

  /** A unique resource name. */
  name(prefix = 't'): string {
    return `${prefix}-${randomUUID()}`;
  }

  /** Opens a connection to the test's broker; it is closed after the test. */
  async open(options: ConnectionOptions = {}): Promise<Connection> {
    const connection = await Connection.open(this.url, { ...this.options.connectionOptions, ...options });
    this.#connections.add(connection);
    return connection;
  }

  /** Remembers a queue name to delete after the test (for queues declared by other means). */
  trackQueue(name: string): void {
    if (name !== '') this.#queues.add(name);
  }

  /** Remembers an exchange name to delete after the test. */
  trackExchange(name: string): void {
    if (name !== '') this.#exchanges.add(name);
  }

  /** Declares an exchange with a random name (unless given) on `connection`; deleted after the test. */
  async exchange(connection: Connection, options: ExchangeOptions = {}, name = this.name('x')): Promise<Exchange> {
    const exchange = new Exchange(name, options).attach(connection);
    this.trackExchange(name);
    await exchange.declare();
    return exchange;
  }

  /**
   * Declares a queue (and the exchanges its bindings carry) with a random name unless given, and returns it
   * attached to `connection` under its final name; deleted after the test.
   */
  async queue(connection: Connection, options: QueueOptions = {}, name = this.name('q')): Promise<Queue> {
    const queue = new Queue(name, options).attach(connection);
    this.trackQueue(name);
    for (const binding of queue.bindings) this.trackExchange(binding.exchangeName);
    const { name: declared } = await queue.declare();
    this.trackQueue(declared);
    return declared === name ? queue : new Queue(declared, options).attach(connection);
  }

  /**
   * Declares a direct dead-letter exchange and a queue bound to it; pass `deadLetter` to the queue that should
   * dead-letter into it.
   */
  async deadLetterQueue(
    connection: Connection,
  ): Promise<{ dlq: Queue; deadLetter: { exchange: string; routingKey: string } }> {
    const exchange = await this.exchange(connection, { type: 'direct' }, this.name('dlx'));
    const dlq = await this.queue(connection, { exchange, routingKey: 'dead' }, this.name('dlq'));
    return { dlq, deadLetter: { exchange: exchange.name, routingKey: 'dead' } };
  }

  /** Starts a handler consumer on `queue` that records every delivery (and acks it unless `ack: false`). */
  async collect(connection: Connection, queue: Queue | string, options: CollectOptions = {}): Promise<Collector> {
    const { ack = true, ...consumerOptions } = options;
    const messages: Message[] = [];
    const consumer = connection.consumer({
      ...consumerOptions,
      queues: [queue],
      handler: async (message) => {
        messages.push(message);
        if (ack) await message.ack();
      },
    });
    await consumer.consume();
    return {
      consumer,
      messages,
      waitForCount: async (count, timeoutMs = FAILURE_BOUND_MS) => {
        await waitFor(() => messages.length >= count, {
          timeoutMs,
          what: `${count} message(s) on ${typeof queue === 'string' ? queue : queue.name} (got ${messages.length})`,
        });
        return messages;
      },
    };
  }

  /** Waits until `queue` holds exactly `count` ready messages, and returns that count. */
  async waitForMessageCount(queue: Queue, count: number, timeoutMs = FAILURE_BOUND_MS): Promise<number> {
    let last = -1;
    await waitFor(
      async () => {
        last = await queue.messageCount();
        return last === count;
      },
      { timeoutMs, what: `${count} ready message(s) in ${queue.name}` },
    );
    return last;
  }

  /** Fetches every ready message of `queue` with basic.get, acking each; returns them in order. */
  async drain(queue: Queue, accept: readonly string[] = ['json']): Promise<Message[]> {
    const out: Message[] = [];
    for (;;) {
      const message = await queue.get({ accept });
      if (message === undefined) return out;
      out.push(message);
      await message.ack();
    }
  }

  /** Closes every connection of the test and deletes every entity it declared. */
  async cleanup(): Promise<void> {
    const connections = [...this.#connections];
    const queues = [...this.#queues];
    const exchanges = [...this.#exchanges];
    this.#connections.clear();
    this.#queues.clear();
    this.#exchanges.clear();
    const url = this.#url;
    this.#url = undefined;
    await Promise.allSettled(connections.map((c) => c.close()));
    if (url === undefined || (queues.length === 0 && exchanges.length === 0)) return;
    const janitor = await Connection.open(url, this.options.connectionOptions);
    try {
      for (const name of queues) await janitor.admin.deleteQueue(name).catch(() => undefined);
      for (const name of exchanges) await janitor.admin.deleteExchange(name).catch(() => undefined);
    } finally {
      await janitor.close();
    }
  }
}

/** A class of error, for {@link expectRejection} and {@link expectThrow}. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** Asserts that `promise` rejects with an instance of `type` whose `code` is `code`; returns the error. */
export async function expectRejection(promise: Promise<unknown>, type: ErrorClass, code: string): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error, `expected a rejection with ${type.name} (${code})`).toBeInstanceOf(type);
  expect(error).toMatchObject({ code });
  return error as Error;
}

/** Asserts that `fn` throws synchronously an instance of `type` whose `code` is `code`; returns the error. */
export function expectThrow(fn: () => unknown, type: ErrorClass, code: string): Error {
  let error: unknown;
  try {
    fn();
  } catch (caught) {
    error = caught;
  }
  expect(error, `expected ${type.name} (${code}) to be thrown`).toBeInstanceOf(type);
  expect(error).toMatchObject({ code });
  return error as Error;
}

/** The `id` of a JSON payload `{ id }`. */
export function idOf(message: Message): number {
  return (message.payload as { id: number }).id;
}

/** Asserts that `value` is defined and returns it (for `noUncheckedIndexedAccess` and optional results). */
export function must<T>(value: T | undefined, what = 'value'): T {
  expect(value, `expected ${what} to be defined`).toBeDefined();
  return value as T;
}
