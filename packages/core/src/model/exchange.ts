/**
 * Exchange declarations. An {@link Exchange} is validated when built, immutable, and plain data that
 * round-trips through JSON, so a declaration can be written in code or loaded from a file and mean
 * the same thing. It touches a broker only once attached to a connection, as kombu's bound entities
 * do, which keeps declaring separate from deciding what to declare.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { type Channel, requireChannel } from './channel.js';
import { checkName, checkRoutingKey, isReservedName } from './names.js';
import type { BindingSpec, ExchangeSpec, ExchangeType } from './specs.js';

const EXCHANGE_TYPES: readonly ExchangeType[] = ['direct', 'topic', 'fanout', 'headers'];

/** Options of {@link Exchange}. */
export interface ExchangeOptions {
  /** @defaultValue `'direct'` */
  readonly type?: ExchangeType;
  /** Survives a broker restart. @defaultValue `true` */
  readonly durable?: boolean;
  /** Deleted when its last binding goes. @defaultValue `false` */
  readonly autoDelete?: boolean;
  /** Only exchange-to-exchange bindings may publish to it. @defaultValue `false` */
  readonly internal?: boolean;
  /** Exchange that receives messages this one cannot route. */
  readonly alternateExchange?: string;
  /** Extra broker arguments. @defaultValue `{}` */
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/** The JSON form of an {@link Exchange}. */
export interface ExchangeJSON extends ExchangeOptions {
  readonly name: string;
}

/**
 * An exchange declaration: immutable plain data that round-trips through JSON
 * (`Exchange.fromJSON(JSON.parse(JSON.stringify(e)))` equals `e`).
 *
 * Broker operations (`declare`, `delete`, `bindTo`) need a connection: use
 * {@link Exchange.attach}, or pass the exchange to `Producer.publish({ declare })`.
 *
 * @example
 * const orders = new Exchange('orders', { type: 'topic' });
 * await orders.attach(connection).declare();
 */
export class Exchange implements ExchangeSpec {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  declare readonly alternateExchange?: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly #channel: Channel | undefined;

  constructor(name: string, options: ExchangeOptions = {}, channel?: Channel) {
    this.name = checkName('exchange', name);
    const type = options.type ?? 'direct';
    if (!EXCHANGE_TYPES.includes(type)) {
      throw new InvalidArgumentError(
        `exchange '${name}': unknown type '${String(type)}' (expected one of ${EXCHANGE_TYPES.join(', ')})`,
      );
    }
    this.type = type;
    this.durable = options.durable ?? true;
    this.autoDelete = options.autoDelete ?? false;
    this.internal = options.internal ?? false;
    if (options.alternateExchange !== undefined) {
      this.alternateExchange = checkName('exchange', options.alternateExchange);
    }
    this.arguments = Object.freeze({ ...(options.arguments ?? {}) });
    this.#channel = channel;
    Object.freeze(this);
  }

  /** The nameless default exchange: routes to the queue named by the routing key. */
  static readonly DEFAULT = new Exchange('', { type: 'direct' });

  /** Rebuilds an exchange from its JSON form. */
  static fromJSON(json: ExchangeJSON): Exchange {
    const { name, ...options } = json;
    return new Exchange(name, options);
  }

  /** A copy of this declaration that can talk to the broker through `channel`. */
  attach(channel: Channel): Exchange {
    return new Exchange(this.name, this.toJSON(), channel);
  }

  /** Whether {@link Exchange.attach} gave this instance a connection. */
  get isAttached(): boolean {
    return this.#channel !== undefined;
  }

  /** Whether this exchange can be declared (the default exchange and `amq.*` exist already). */
  get canDeclare(): boolean {
    return this.name !== '' && !isReservedName(this.name);
  }

  /**
   * Declares the exchange; with `passive`, only checks that it exists.
   * @throws {@link NotBoundError} when not attached.
   * @throws {@link TopologyConflictError} when it exists with other properties.
   */
  async declare(options: { passive?: boolean } = {}): Promise<void> {
    const channel = requireChannel(this.#channel, `exchange '${this.name}'`, 'declare');
    if (!this.canDeclare && !options.passive) return;
    await channel.admin.declareExchange(this, options);
  }

  /** Deletes the exchange. @throws {@link NotBoundError} when not attached. */
  async delete(options: { ifUnused?: boolean } = {}): Promise<void> {
    const channel = requireChannel(this.#channel, `exchange '${this.name}'`, 'delete');
    await channel.admin.deleteExchange(this.name, options);
  }

  /** Binds this exchange (as destination) to `source`: messages routed by `source` flow here. */
  async bindTo(
    source: Exchange | string,
    options: { routingKey?: string; arguments?: Readonly<Record<string, unknown>> } = {},
  ): Promise<void> {
    const channel = requireChannel(this.#channel, `exchange '${this.name}'`, 'bindTo');
    await channel.admin.bind(this.bindingFrom(source, options));
  }

  /** Removes a binding made by {@link Exchange.bindTo}. */
  async unbindFrom(
    source: Exchange | string,
    options: { routingKey?: string; arguments?: Readonly<Record<string, unknown>> } = {},
  ): Promise<void> {
    const channel = requireChannel(this.#channel, `exchange '${this.name}'`, 'unbindFrom');
    await channel.admin.unbind(this.bindingFrom(source, options));
  }

  /** The exchange-to-exchange binding spec with this exchange as destination. */
  bindingFrom(
    source: Exchange | string,
    options: { routingKey?: string; arguments?: Readonly<Record<string, unknown>> } = {},
  ): BindingSpec {
    return {
      source: typeof source === 'string' ? checkName('exchange', source) : source.name,
      destination: this.name,
      destinationType: 'exchange',
      routingKey: checkRoutingKey(options.routingKey ?? '', 'binding key'),
      arguments: { ...(options.arguments ?? {}) },
    };
  }

  /** The JSON form; omits defaults-free noise but keeps every property needed to rebuild. */
  toJSON(): ExchangeJSON {
    return {
      name: this.name,
      type: this.type,
      durable: this.durable,
      autoDelete: this.autoDelete,
      internal: this.internal,
      ...(this.alternateExchange !== undefined ? { alternateExchange: this.alternateExchange } : {}),
      arguments: { ...this.arguments },
    };
  }

  toString(): string {
    return `Exchange(${this.name || '(default)'}, ${this.type})`;
  }
}
