/**
 * The broker access of a queue migration (`migrate-queue.ts`): live queue and binding lookups
 * through the management HTTP API (AMQP cannot list bindings or tell a queue's type), and AMQP
 * operations on a confirm channel of the migration's own that is reopened after a channel error (a
 * refused `queue.delete` with `if-empty` closes the channel it ran on).
 *
 * @module
 */
import type { BindingSpec } from '@wakame/core/spi';
import { NotFoundError, PreconditionFailedError, TopologyConflictError, type WakameError } from '@wakame/core/spi';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { fromAmqpError } from './errors.js';
import type { ManagementEndpoint } from './management.js';

const TIMEOUT_MS = 10_000;

/** A queue as the management API shows it. */
export interface LiveQueue {
  readonly name: string;
  readonly type: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly consumers: number;
}

interface ApiQueue {
  name: string;
  type?: string;
  durable: boolean;
  exclusive: boolean;
  auto_delete: boolean;
  arguments?: Record<string, unknown>;
  consumers?: number;
}

interface ApiBinding {
  source: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments?: Record<string, unknown>;
}

/** The management API, scoped to one vhost. */
export class MigrationManagement {
  constructor(
    readonly endpoint: ManagementEndpoint,
    readonly vhost: string,
  ) {}

  /** The queue, or `undefined` when it does not exist. */
  async queue(name: string): Promise<LiveQueue | undefined> {
    const q = await this.#get<ApiQueue>(`queues/${this.#v()}/${encodeURIComponent(name)}`);
    if (q === undefined) return undefined;
    return {
      name: q.name,
      type: q.type ?? 'classic',
      durable: q.durable,
      exclusive: q.exclusive,
      autoDelete: q.auto_delete,
      arguments: q.arguments ?? {},
      consumers: q.consumers ?? 0,
    };
  }

  /** Whether the exchange exists. */
  async exchangeExists(name: string): Promise<boolean> {
    return (await this.#get(`exchanges/${this.#v()}/${encodeURIComponent(name)}`)) !== undefined;
  }

  /** The queue's bindings, the default exchange's implicit one left out. */
  async bindingsOf(queue: string): Promise<BindingSpec[]> {
    const list = (await this.#get<ApiBinding[]>(`queues/${this.#v()}/${encodeURIComponent(queue)}/bindings`)) ?? [];
    return list
      .filter((b) => b.source !== '')
      .map((b) => ({
        source: b.source,
        destination: b.destination,
        destinationType: b.destination_type,
        routingKey: b.routing_key,
        arguments: b.arguments ?? {},
      }));
  }

  #v(): string {
    return encodeURIComponent(this.vhost);
  }

  /** GETs `/api/<path>`; `undefined` for a 404. Unreachable or refusing: a {@link PreconditionFailedError}. */
  async #get<T>(path: string): Promise<T | undefined> {
    let response: Response;
    try {
      response = await fetch(`${this.endpoint.base}/api/${path}`, {
        headers: { authorization: this.endpoint.authorization },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      throw unreachable(this.endpoint.base, (error as Error).message, error);
    }
    if (response.status === 404) return undefined;
    if (!response.ok) throw unreachable(this.endpoint.base, `HTTP ${response.status} for /api/${path}`);
    return (await response.json()) as T;
  }
}

function unreachable(base: string, why: string, cause?: unknown): PreconditionFailedError {
  return new PreconditionFailedError(
    `a queue migration needs the RabbitMQ management API to see the queue's bindings, and ${base} did not answer (${why}); ` +
      'enable the rabbitmq_management plugin or give its address with transportOptions.managementUrl, then run the migration again',
    { cause },
  );
}

/** AMQP topology operations of a migration, on a confirm channel reopened after a channel error. */
export class MigrationChannel {
  #channel: ConfirmChannel | undefined;
  #closed = false;

  constructor(private readonly connection: ChannelModel) {}

  /** Runs `op`; an AMQP failure becomes a Wakame error, and the next call gets a fresh channel. */
  async run<T>(what: string, op: (ch: ConfirmChannel) => Promise<T>): Promise<T> {
    const ch = await this.#open();
    try {
      return await op(ch);
    } catch (error) {
      throw fromAmqpError(error, { operation: what });
    }
  }

  /** Like {@link run}, but an absent entity (404) is success: deleting or unbinding what is gone. */
  async runIdempotent(what: string, op: (ch: ConfirmChannel) => Promise<unknown>): Promise<void> {
    try {
      await this.run(what, op);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  /**
   * Runs `op` and returns the refusal instead of throwing when the broker answers 406 (a queue that
   * is not empty, a declaration that differs from what exists): callers retry those.
   */
  async attempt(what: string, op: (ch: ConfirmChannel) => Promise<unknown>): Promise<WakameError | undefined> {
    try {
      await this.run(what, op);
      return undefined;
    } catch (error) {
      if (error instanceof PreconditionFailedError || error instanceof TopologyConflictError) return error;
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#channel?.close().catch(() => undefined);
    this.#channel = undefined;
  }

  async #open(): Promise<ConfirmChannel> {
    if (this.#channel) return this.#channel;
    let ch: ConfirmChannel;
    try {
      ch = await this.connection.createConfirmChannel();
    } catch (error) {
      throw fromAmqpError(error, { operation: 'opening the migration channel' });
    }
    // Errors reach the operation that caused them; without a listener they would crash the process.
    ch.on('error', () => {});
    ch.on('close', () => {
      if (this.#channel === ch) this.#channel = undefined;
    });
    if (this.#closed) await ch.close().catch(() => undefined);
    this.#channel = ch;
    return ch;
  }
}
