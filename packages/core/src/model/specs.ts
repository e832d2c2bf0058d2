/**
 * The broker model as plain data: exchange, queue and binding specs and the typed queue arguments.
 * Declarations hold them, the transport SPI carries them, the planner compares them.
 *
 * @module
 */

/** The four AMQP exchange types. */
export type ExchangeType = 'direct' | 'topic' | 'fanout' | 'headers';
/** RabbitMQ queue types. */
export type QueueType = 'classic' | 'quorum' | 'stream';
/** What happens when a queue reaches `maxLength`/`maxLengthBytes`. */
export type OverflowBehaviour = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

/** A plain-data exchange declaration (what the `Exchange` class of `@wakame/core` holds). */
export interface ExchangeSpec {
  readonly name: string;
  readonly type: ExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  /** Internal exchanges accept messages only from exchange-to-exchange bindings. */
  readonly internal: boolean;
  /** Unroutable messages go here (RabbitMQ `alternate-exchange`). */
  readonly alternateExchange?: string;
  /** Extra broker arguments, passed through untouched. */
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** Where a queue sends rejected, expired and overflowed messages. */
export interface DeadLetterTarget {
  readonly exchange: string;
  /** Replaces the message's routing key when set. */
  readonly routingKey?: string;
}

/** The typed queue arguments; all durations are milliseconds. */
export interface QueueArguments {
  /** Highest priority the queue honours (1–255); enables priority ordering. */
  readonly maxPriority?: number;
  /** Messages older than this expire (`x-message-ttl`). */
  readonly messageTtl?: number;
  /** The queue is deleted after being unused this long (`x-expires`). */
  readonly expires?: number;
  readonly maxLength?: number;
  readonly maxLengthBytes?: number;
  readonly overflow?: OverflowBehaviour;
  readonly deadLetter?: DeadLetterTarget;
  readonly queueType?: QueueType;
  readonly singleActiveConsumer?: boolean;
}

/** A plain-data queue declaration (what the `Queue` class of `@wakame/core` holds, without its bindings). */
export interface QueueSpec extends QueueArguments {
  readonly name: string;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  /** Raw broker arguments not covered by the typed ones, passed through untouched. */
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** A binding from an exchange to a queue or to another exchange. */
export interface BindingSpec {
  /** The exchange messages come from. */
  readonly source: string;
  readonly destination: string;
  readonly destinationType: 'queue' | 'exchange';
  readonly routingKey: string;
  /** Binding arguments; for headers exchanges the headers to match plus `x-match`. */
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** Result of a queue declaration. */
export interface QueueDeclareResult {
  /** The queue name (server-generated when the declaration had an empty name). */
  readonly name: string;
  readonly messageCount: number;
  readonly consumerCount: number;
}
