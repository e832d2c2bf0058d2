/**
 * The queue-argument table: every typed queue argument once, with its RabbitMQ name, type, range,
 * default, whether a policy can set it, the transport capability it needs and its descriptions.
 * Validation ({@link checkQueueArguments}), the broker mapping (`toBrokerArguments`,
 * `fromBrokerArguments`), the export, the topology rules and the argument part of the JSON Schema
 * (`pnpm schema:generate`) are all derived from it: adding an argument is one entry here (and its
 * field in `QueueArguments`, which the compiler then asks for).
 *
 * @module
 */
import type { QueueArguments } from './specs.js';

/** The transport capabilities an argument can need (a slice of the SPI's `Capabilities`, which satisfies it). */
export interface ArgumentCapabilities {
  readonly priority: boolean;
  readonly messageTtl: boolean;
  readonly queueExpires: boolean;
  readonly maxLength: boolean;
  readonly maxLengthBytes?: boolean;
  readonly deadLetter: boolean;
}

/** 2^32-1 ms: the largest TTL (and queue expiry) RabbitMQ accepts. */
export const MAX_TTL_MS = 4_294_967_295;

interface ArgumentBase {
  /** The RabbitMQ queue argument (`x-…`); without the `x-` it is the policy key. */
  readonly broker: string;
  /** Whether a RabbitMQ policy can set (and later change) it; the others are fixed at declaration. */
  readonly policy: boolean;
  /** What the broker does when the argument is absent, if that is a value of the argument. */
  readonly default?: string | number | boolean;
  /** The transport capability the argument needs, and the feature named when it is missing. */
  readonly needs?: { readonly feature: string; readonly supported: (caps: ArgumentCapabilities) => boolean };
  /** The schema's description of the queue property. */
  readonly description: string;
  /** The schema's description of the same property under `defaults.queue`. */
  readonly defaultsDescription: string;
}

/** A whole number from `min` to `max` (unbounded above when `max` is absent). */
export interface CountArgument extends ArgumentBase {
  readonly kind: 'count';
  readonly min: number;
  readonly max?: number;
  /** Unit of the value, shown in messages (`messageTtl (ms)`). */
  readonly unit?: 'ms';
}
/** One of a fixed set of strings. */
export interface EnumArgument<T extends string = string> extends ArgumentBase {
  readonly kind: 'enum';
  readonly values: readonly T[];
}
/** A boolean. */
export interface FlagArgument extends ArgumentBase {
  readonly kind: 'flag';
}
/** An exchange and optional routing key (`deadLetter`): two broker arguments. */
export interface TargetArgument extends ArgumentBase {
  readonly kind: 'target';
  /** The broker argument of the routing key (`broker` holds the exchange). */
  readonly routingKeyBroker: string;
}
export type ArgumentDefinition = CountArgument | EnumArgument | FlagArgument | TargetArgument;

type Typed = Required<QueueArguments>;
/** The kind of entry each typed argument needs, from its TypeScript type. */
type DefinitionOf<V> = [V] extends [number]
  ? CountArgument
  : [V] extends [boolean]
    ? FlagArgument
    : [V] extends [string]
      ? EnumArgument<V>
      : TargetArgument;

/**
 * Every typed queue argument, in the order declarations list them (validation, `Queue.toJSON`, the
 * broker table and the schema keep it).
 */
export const QUEUE_ARGUMENTS = {
  maxPriority: {
    kind: 'count',
    broker: 'x-max-priority',
    min: 1,
    max: 255,
    policy: false,
    needs: { feature: 'priority queues', supported: (c) => c.priority },
    description:
      'Enables message priorities 0..maxPriority on this queue (RabbitMQ x-max-priority); keep it small, 10 or less.',
    defaultsDescription: 'Priority levels for queues that set none.',
  },
  messageTtl: {
    kind: 'count',
    broker: 'x-message-ttl',
    min: 0,
    max: MAX_TTL_MS,
    unit: 'ms',
    policy: true,
    needs: { feature: 'message TTL', supported: (c) => c.messageTtl },
    description: 'Milliseconds a message may wait in the queue before it expires (x-message-ttl).',
    defaultsDescription: 'Message time-to-live in milliseconds for queues that set none.',
  },
  expires: {
    kind: 'count',
    broker: 'x-expires',
    min: 1,
    max: MAX_TTL_MS,
    unit: 'ms',
    policy: true,
    needs: { feature: 'queue expiry', supported: (c) => c.queueExpires },
    description: 'Milliseconds of disuse (no consumers, no gets) after which the queue is deleted (x-expires).',
    defaultsDescription: 'Idle expiry in milliseconds for queues that set none.',
  },
  maxLength: {
    kind: 'count',
    broker: 'x-max-length',
    min: 0,
    policy: true,
    needs: { feature: 'queue length limits', supported: (c) => c.maxLength },
    description: 'Most messages the queue holds; see overflow for what happens beyond (x-max-length).',
    defaultsDescription: 'Length limit for queues that set none.',
  },
  maxLengthBytes: {
    kind: 'count',
    broker: 'x-max-length-bytes',
    min: 0,
    policy: true,
    needs: { feature: 'queue length limits in bytes', supported: (c) => c.maxLengthBytes ?? c.maxLength },
    description: 'Most bytes of message bodies the queue holds (x-max-length-bytes).',
    defaultsDescription: 'Size limit in bytes for queues that set none.',
  },
  overflow: {
    kind: 'enum',
    broker: 'x-overflow',
    values: ['drop-head', 'reject-publish', 'reject-publish-dlx'],
    default: 'drop-head',
    policy: true,
    needs: { feature: 'queue length limits', supported: (c) => c.maxLength },
    description:
      'What a full queue does: drop the oldest message (drop-head), refuse new ones (reject-publish), or refuse and dead-letter them (reject-publish-dlx). Default: drop-head.',
    defaultsDescription: 'Overflow behaviour for queues that set none.',
  },
  deadLetter: {
    kind: 'target',
    broker: 'x-dead-letter-exchange',
    routingKeyBroker: 'x-dead-letter-routing-key',
    policy: true,
    needs: { feature: 'dead-lettering', supported: (c) => c.deadLetter },
    description: 'Where rejected and expired messages go (x-dead-letter-exchange / x-dead-letter-routing-key).',
    defaultsDescription: 'Dead-letter target for queues that set none.',
  },
  // Which types a transport supports is checked per value, by the `unsupported-feature` rule.
  queueType: {
    kind: 'enum',
    broker: 'x-queue-type',
    values: ['classic', 'quorum', 'stream'],
    default: 'classic',
    policy: false,
    description: 'RabbitMQ queue type: classic, quorum (replicated) or stream (x-queue-type). Default: classic.',
    defaultsDescription: 'Queue type for queues that set none.',
  },
  singleActiveConsumer: {
    kind: 'flag',
    broker: 'x-single-active-consumer',
    default: false,
    policy: false,
    description:
      'Only one consumer receives at a time; the others take over if it goes away (x-single-active-consumer).',
    defaultsDescription: 'Single-active-consumer for queues that set none.',
  },
} as const satisfies { readonly [K in keyof Typed]: DefinitionOf<Typed[K]> };

/** A typed queue argument's name. */
export type QueueArgumentKey = keyof typeof QUEUE_ARGUMENTS;

/** The table's entries, in its order. */
export const QUEUE_ARGUMENT_ENTRIES = Object.entries(QUEUE_ARGUMENTS) as readonly (readonly [
  QueueArgumentKey,
  ArgumentDefinition,
])[];

/** Compile-time check: each enum entry lists every value of its TypeScript type. */
type MissingValues = {
  [K in QueueArgumentKey]: (typeof QUEUE_ARGUMENTS)[K] extends { readonly values: readonly (infer U)[] }
    ? Exclude<Typed[K], U>
    : never;
}[QueueArgumentKey];
const everyValueListed: [MissingValues] extends [never] ? true : false = true;
void everyValueListed;

/** The broker arguments of an entry: one, or two for a target (exchange and routing key). */
export function brokerNames(def: ArgumentDefinition): readonly string[] {
  return def.kind === 'target' ? [def.broker, def.routingKeyBroker] : [def.broker];
}

/** The RabbitMQ policy keys (`message-ttl`, …) a policy may set: the table's `policy` entries without `x-`. */
export const POLICY_ARGUMENT_KEYS: readonly string[] = QUEUE_ARGUMENT_ENTRIES.filter(([, def]) => def.policy).flatMap(
  ([, def]) => brokerNames(def).map((name) => name.replace(/^x-/, '')),
);
