/**
 * Queue declarations. A {@link Queue} carries its bindings, so one object declares everything a
 * consumer needs (exchanges, queue, bindings), and it is plain data that round-trips through JSON, so
 * a declaration can be stored, sent and rebuilt. {@link broadcast} builds kombu's per-consumer fanout
 * queue on top of it.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { type Channel, type FetchedMessage, requireChannel } from './channel.js';
import { Exchange, type ExchangeJSON } from './exchange.js';
import { checkName, checkRoutingKey } from './names.js';
import { checkQueueArguments, QUEUE_ARGUMENT_KEYS } from './queue-arguments.js';
import type {
  BindingSpec,
  DeadLetterTarget,
  OverflowBehaviour,
  QueueArguments,
  QueueDeclareResult,
  QueueSpec,
  QueueType,
} from './specs.js';

/** How a headers binding matches: every listed header (`all`) or at least one (`any`). */
export type HeadersMatch = 'all' | 'any';

/** One binding of a queue to an exchange, as given to {@link Queue}. */
export interface QueueBindingOptions {
  /** The exchange, as a declaration (declared with the queue) or a name (declared elsewhere). */
  readonly exchange: Exchange | ExchangeJSON | string;
  /** @defaultValue `''` */
  readonly routingKey?: string;
  /** Headers to match on a headers exchange (turned into binding arguments with `x-match`). */
  readonly headers?: Readonly<Record<string, unknown>>;
  /** @defaultValue `'all'` when `headers` is set */
  readonly match?: HeadersMatch;
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/** A normalised queue binding. */
export interface QueueBinding {
  /** The exchange declaration, when the binding carries one; otherwise only its name is known. */
  readonly exchange: Exchange | undefined;
  readonly exchangeName: string;
  readonly routingKey: string;
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** Options of {@link Queue}. Durations are milliseconds. */
export interface QueueOptions extends QueueArguments {
  /** @defaultValue `true` */
  readonly durable?: boolean;
  /** Only this connection may use it; deleted when it closes. @defaultValue `false` */
  readonly exclusive?: boolean;
  /** Deleted when its last consumer goes. @defaultValue `false` (`true` when `exclusive`) */
  readonly autoDelete?: boolean;
  /** Shorthand for a single binding: the exchange. */
  readonly exchange?: Exchange | ExchangeJSON | string;
  /** Shorthand for a single binding: the routing key. @defaultValue the queue name */
  readonly routingKey?: string;
  /** Several bindings. */
  readonly bindings?: readonly QueueBindingOptions[];
  /** Raw broker arguments beyond the typed ones. @defaultValue `{}` */
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/** The JSON form of a {@link Queue}. */
export interface QueueJSON extends Omit<QueueOptions, 'exchange' | 'routingKey' | 'bindings'> {
  readonly name: string;
  readonly bindings: readonly {
    readonly exchange: ExchangeJSON | string;
    readonly routingKey: string;
    readonly arguments: Readonly<Record<string, unknown>>;
  }[];
}

/**
 * A queue declaration with its bindings: immutable plain data that round-trips through JSON.
 *
 * @example
 * const tasks = new Queue('tasks', { exchange: new Exchange('work'), routingKey: 'tasks', maxPriority: 10 });
 * await tasks.attach(connection).declare(); // declares the exchange, the queue and the binding
 */
export class Queue implements QueueSpec {
  readonly name: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly bindings: readonly QueueBinding[];
  declare readonly maxPriority?: number;
  declare readonly messageTtl?: number;
  declare readonly expires?: number;
  declare readonly maxLength?: number;
  declare readonly maxLengthBytes?: number;
  declare readonly overflow?: OverflowBehaviour;
  declare readonly deadLetter?: DeadLetterTarget;
  declare readonly queueType?: QueueType;
  declare readonly singleActiveConsumer?: boolean;
  readonly #channel: Channel | undefined;

  constructor(name: string, options: QueueOptions = {}, channel?: Channel) {
    this.name = checkName('queue', name);
    this.durable = options.durable ?? true;
    this.exclusive = options.exclusive ?? false;
    this.autoDelete = options.autoDelete ?? this.exclusive;
    Object.assign(this, checkQueueArguments(name, options));
    this.arguments = Object.freeze({ ...(options.arguments ?? {}) });
    const bindings: QueueBinding[] = [];
    if (options.exchange !== undefined) {
      bindings.push(normaliseBinding(name, { exchange: options.exchange, routingKey: options.routingKey ?? name }));
    } else if (options.routingKey !== undefined) {
      throw new InvalidArgumentError(`queue '${name}': routingKey given without exchange`);
    }
    for (const b of options.bindings ?? []) bindings.push(normaliseBinding(name, b));
    this.bindings = Object.freeze(bindings);
    this.#channel = channel;
    Object.freeze(this);
  }

  /** Rebuilds a queue from its JSON form. */
  static fromJSON(json: QueueJSON): Queue {
    const { name, bindings, ...options } = json;
    return new Queue(name, { ...options, bindings: bindings.map((b) => ({ ...b })) });
  }

  /** A copy of this declaration that can talk to the broker through `channel`. */
  attach(channel: Channel): Queue {
    return new Queue(this.name, this.toOptions(), channel);
  }

  get isAttached(): boolean {
    return this.#channel !== undefined;
  }

  /** The queue-to-exchange binding specs of this queue. */
  bindingSpecs(name = this.name): BindingSpec[] {
    return this.bindings.map((b) => ({
      source: b.exchangeName,
      destination: name,
      destinationType: 'queue',
      routingKey: b.routingKey,
      arguments: b.arguments,
    }));
  }

  /**
   * Declares the exchanges this queue's bindings carry, then the queue, then its bindings (kombu's
   * order, so a binding never refers to a missing exchange). With `passive`, only checks existence.
   * @returns the queue name (server-generated for an unnamed queue) and its counts.
   * @throws {@link NotBoundError} when not attached.
   */
  async declare(options: { passive?: boolean } = {}): Promise<QueueDeclareResult> {
    const channel = requireChannel(this.#channel, `queue '${this.name}'`, 'declare');
    if (options.passive) return channel.admin.declareQueue(this, { passive: true });
    for (const b of this.bindings) {
      if (b.exchange?.canDeclare) await channel.admin.declareExchange(b.exchange);
    }
    const result = await channel.admin.declareQueue(this);
    for (const spec of this.bindingSpecs(result.name)) {
      if (spec.source !== '') await channel.admin.bind(spec);
    }
    return result;
  }

  /** Messages in the queue right now (a passive declare). */
  async messageCount(): Promise<number> {
    const channel = requireChannel(this.#channel, `queue '${this.name}'`, 'messageCount');
    return (await channel.admin.declareQueue(this, { passive: true })).messageCount;
  }

  /** Removes every ready message; returns how many. */
  async purge(): Promise<number> {
    return requireChannel(this.#channel, `queue '${this.name}'`, 'purge').admin.purgeQueue(this.name);
  }

  /** Deletes the queue; returns how many messages went with it. */
  async delete(options: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<number> {
    return requireChannel(this.#channel, `queue '${this.name}'`, 'delete').admin.deleteQueue(this.name, options);
  }

  /** Fetches one message without subscribing, or `undefined` when the queue is empty. */
  async get(options: { noAck?: boolean; accept?: readonly string[] } = {}): Promise<FetchedMessage | undefined> {
    return requireChannel(this.#channel, `queue '${this.name}'`, 'get').getMessage(this.name, options);
  }

  /** Adds a binding on the broker (it is not added to this immutable declaration). */
  async bindTo(exchange: Exchange | string, options: Omit<QueueBindingOptions, 'exchange'> = {}): Promise<void> {
    const channel = requireChannel(this.#channel, `queue '${this.name}'`, 'bindTo');
    await channel.admin.bind(toSpec(this.name, normaliseBinding(this.name, { ...options, exchange })));
  }

  async unbindFrom(exchange: Exchange | string, options: Omit<QueueBindingOptions, 'exchange'> = {}): Promise<void> {
    const channel = requireChannel(this.#channel, `queue '${this.name}'`, 'unbindFrom');
    await channel.admin.unbind(toSpec(this.name, normaliseBinding(this.name, { ...options, exchange })));
  }

  toJSON(): QueueJSON {
    const { bindings, ...rest } = this.toOptions();
    return {
      name: this.name,
      ...rest,
      bindings: (bindings ?? []).map((b) => ({
        exchange: b.exchange instanceof Exchange ? b.exchange.toJSON() : b.exchange,
        routingKey: b.routingKey ?? '',
        arguments: { ...(b.arguments ?? {}) },
      })),
    };
  }

  toString(): string {
    return `Queue(${this.name || '(server-named)'})`;
  }

  private toOptions(): QueueOptions & { bindings: QueueBindingOptions[] } {
    const typed: Record<string, unknown> = {};
    for (const key of QUEUE_ARGUMENT_KEYS) if (this[key] !== undefined) typed[key] = this[key];
    return {
      durable: this.durable,
      exclusive: this.exclusive,
      autoDelete: this.autoDelete,
      ...(typed as QueueArguments),
      arguments: { ...this.arguments },
      bindings: this.bindings.map((b) => ({
        exchange: b.exchange ?? b.exchangeName,
        routingKey: b.routingKey,
        arguments: b.arguments,
      })),
    };
  }
}

function normaliseBinding(queue: string, b: QueueBindingOptions): QueueBinding {
  const exchange =
    typeof b.exchange === 'string'
      ? undefined
      : b.exchange instanceof Exchange
        ? b.exchange
        : Exchange.fromJSON(b.exchange);
  const exchangeName = typeof b.exchange === 'string' ? checkName('exchange', b.exchange) : (exchange as Exchange).name;
  const args: Record<string, unknown> = { ...(b.arguments ?? {}) };
  if (b.headers !== undefined) {
    const match = b.match ?? 'all';
    if (match !== 'all' && match !== 'any') {
      throw new InvalidArgumentError(`queue '${queue}': headers match must be 'all' or 'any', got '${String(match)}'`);
    }
    Object.assign(args, b.headers, { 'x-match': match });
  } else if (b.match !== undefined) {
    throw new InvalidArgumentError(`queue '${queue}': match given without headers`);
  }
  return Object.freeze({
    exchange,
    exchangeName,
    routingKey: checkRoutingKey(b.routingKey ?? '', 'binding key'),
    arguments: Object.freeze(args),
  });
}

function toSpec(queue: string, b: QueueBinding): BindingSpec {
  return {
    source: b.exchangeName,
    destination: queue,
    destinationType: 'queue',
    routingKey: b.routingKey,
    arguments: b.arguments,
  };
}

/** Options of {@link broadcast}. */
export interface BroadcastOptions extends Omit<QueueOptions, 'exchange' | 'bindings' | 'routingKey'> {
  /** Prefix of the generated queue name. @defaultValue `'bcast'` */
  readonly queuePrefix?: string;
}

/**
 * A broadcast queue (kombu's `Broadcast`): a unique, auto-deleting queue per consumer, bound to a
 * fanout exchange named `exchange`, so every consumer gets its own copy of each message instead of
 * competing for it.
 */
export function broadcast(exchange: string, options: BroadcastOptions = {}): Queue {
  const { queuePrefix = 'bcast', ...rest } = options;
  return new Queue(`${queuePrefix}.${randomUUID()}`, {
    durable: false,
    autoDelete: true,
    exclusive: false,
    ...rest,
    bindings: [{ exchange: new Exchange(exchange, { type: 'fanout', durable: rest.durable ?? true }) }],
  });
}
