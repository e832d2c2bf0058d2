/**
 * The seam between the broker model and the layers above it. Declarations need a broker to act on,
 * but must not import the connection, which imports them; they talk to a {@link Channel} instead,
 * and the connection implements it. For the same reason the type of a fetched message is supplied
 * by the messaging layer through declaration merging.
 *
 * @module
 */
import { NotBoundError } from '../errors.js';
import type { BindingSpec, ExchangeSpec, QueueDeclareResult, QueueSpec } from './specs.js';

/**
 * The declaring operations a declaration uses: the part of the transport SPI's `TopologyAdmin` that
 * {@link Exchange} and {@link Queue} call (every `TopologyAdmin` is one).
 */
export interface EntityAdmin {
  /**
   * Declare an exchange. Idempotent when identical.
   * @throws {@link TopologyConflictError} when it exists with different properties.
   * @throws {@link NotFoundError} with `passive` when it does not exist.
   */
  declareExchange(spec: ExchangeSpec, options?: { passive?: boolean }): Promise<void>;
  /** Declare a queue; see {@link EntityAdmin.declareExchange} for errors. */
  declareQueue(spec: QueueSpec, options?: { passive?: boolean }): Promise<QueueDeclareResult>;
  bind(binding: BindingSpec): Promise<void>;
  unbind(binding: BindingSpec): Promise<void>;
  deleteExchange(name: string, options?: { ifUnused?: boolean }): Promise<void>;
  /** @returns the number of messages deleted with the queue. */
  deleteQueue(name: string, options?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<number>;
  /** @returns the number of messages purged. */
  purgeQueue(name: string): Promise<number>;
}

/**
 * Where the messaging layer registers the class of a fetched message (`message: Message`, by
 * declaration merging), so that {@link Queue.get} returns a `Message` while the broker model names
 * nothing of the layers above it.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by declaration merging (messaging/message.ts)
export interface FetchedMessageTypes {}

/** The message {@link Channel.getMessage} fetches: `Message` of `@wakame/core`. */
export type FetchedMessage = FetchedMessageTypes extends { readonly message: infer M } ? M : unknown;

/**
 * What a declaration needs to act on a broker: a {@link Connection} implements it. Declarations are
 * plain data until {@link Exchange.attach}/{@link Queue.attach} gives them one (kombu's "bound" entities).
 */
export interface Channel {
  /** The declaring side of the broker connection. */
  readonly admin: EntityAdmin;
  /** Fetch one message from a queue without subscribing (basic.get). */
  getMessage(
    queue: string,
    options?: { noAck?: boolean; accept?: readonly string[] },
  ): Promise<FetchedMessage | undefined>;
}

/** Returns the channel, or throws {@link NotBoundError} naming the entity and the operation. */
export function requireChannel(channel: Channel | undefined, entity: string, operation: string): Channel {
  if (!channel) {
    throw new NotBoundError(
      `${entity} is not attached to a connection: call .attach(connection) before .${operation}()`,
    );
  }
  return channel;
}
