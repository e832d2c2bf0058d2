import { InvalidArgumentError } from '../errors.js';
import type { OverflowBehaviour, QueueArguments, QueueSpec, QueueType } from '../transport/spi.js';
import { checkCount, checkName } from './names.js';

const OVERFLOWS: readonly OverflowBehaviour[] = ['drop-head', 'reject-publish', 'reject-publish-dlx'];
const QUEUE_TYPES: readonly QueueType[] = ['classic', 'quorum', 'stream'];
/** RabbitMQ caps `x-max-priority` at 255. */
export const MAX_PRIORITY = 255;

/** Every typed queue argument, in the order declarations list them (`Queue.toJSON` keeps it). */
export const QUEUE_ARGUMENT_KEYS = [
  'maxPriority',
  'messageTtl',
  'expires',
  'maxLength',
  'maxLengthBytes',
  'overflow',
  'deadLetter',
  'queueType',
  'singleActiveConsumer',
] as const satisfies readonly (keyof QueueArguments)[];

type PlainQueueArgument = Exclude<(typeof QUEUE_ARGUMENT_KEYS)[number], 'deadLetter'>;

/** The typed queue arguments whose values are copied as they are (all but `deadLetter`, an object). */
export const PLAIN_QUEUE_ARGUMENTS: readonly PlainQueueArgument[] = QUEUE_ARGUMENT_KEYS.filter(
  (key): key is PlainQueueArgument => key !== 'deadLetter',
);
/** 2^32-1 ms: the largest TTL RabbitMQ accepts. */
const MAX_TTL_MS = 4_294_967_295;

/** Validates the typed queue arguments, returning a frozen copy with only the fields that are set. */
export function checkQueueArguments(queue: string, args: QueueArguments): QueueArguments {
  const where = `queue '${queue}'`;
  const out: { -readonly [K in keyof QueueArguments]: QueueArguments[K] } = {};
  const maxPriority = checkCount(args.maxPriority, `${where}: maxPriority`, 1, MAX_PRIORITY);
  if (maxPriority !== undefined) out.maxPriority = maxPriority;
  const messageTtl = checkCount(args.messageTtl, `${where}: messageTtl (ms)`, 0, MAX_TTL_MS);
  if (messageTtl !== undefined) out.messageTtl = messageTtl;
  const expires = checkCount(args.expires, `${where}: expires (ms)`, 1, MAX_TTL_MS);
  if (expires !== undefined) out.expires = expires;
  const maxLength = checkCount(args.maxLength, `${where}: maxLength`);
  if (maxLength !== undefined) out.maxLength = maxLength;
  const maxLengthBytes = checkCount(args.maxLengthBytes, `${where}: maxLengthBytes`);
  if (maxLengthBytes !== undefined) out.maxLengthBytes = maxLengthBytes;
  if (args.overflow !== undefined) {
    if (!OVERFLOWS.includes(args.overflow)) {
      throw new InvalidArgumentError(
        `${where}: overflow must be one of ${OVERFLOWS.join(', ')}, got '${String(args.overflow)}'`,
      );
    }
    out.overflow = args.overflow;
  }
  if (args.deadLetter !== undefined) {
    const { exchange, routingKey } = args.deadLetter;
    checkName('exchange', exchange);
    out.deadLetter = Object.freeze(routingKey === undefined ? { exchange } : { exchange, routingKey });
  }
  if (args.queueType !== undefined) {
    if (!QUEUE_TYPES.includes(args.queueType)) {
      throw new InvalidArgumentError(
        `${where}: queueType must be one of ${QUEUE_TYPES.join(', ')}, got '${String(args.queueType)}'`,
      );
    }
    out.queueType = args.queueType;
  }
  if (args.singleActiveConsumer !== undefined) {
    if (typeof args.singleActiveConsumer !== 'boolean') {
      throw new InvalidArgumentError(`${where}: singleActiveConsumer must be a boolean`);
    }
    out.singleActiveConsumer = args.singleActiveConsumer;
  }
  return Object.freeze(out);
}

/**
 * The RabbitMQ `x-*` argument table of a queue: raw arguments overlaid with the typed ones.
 * Queue equivalence is decided on this table, so two declarations that mean the same compare equal.
 */
export function toBrokerArguments(spec: QueueSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { ...spec.arguments };
  if (spec.maxPriority !== undefined) out['x-max-priority'] = spec.maxPriority;
  if (spec.messageTtl !== undefined) out['x-message-ttl'] = spec.messageTtl;
  if (spec.expires !== undefined) out['x-expires'] = spec.expires;
  if (spec.maxLength !== undefined) out['x-max-length'] = spec.maxLength;
  if (spec.maxLengthBytes !== undefined) out['x-max-length-bytes'] = spec.maxLengthBytes;
  if (spec.overflow !== undefined) out['x-overflow'] = spec.overflow;
  if (spec.deadLetter !== undefined) {
    out['x-dead-letter-exchange'] = spec.deadLetter.exchange;
    if (spec.deadLetter.routingKey !== undefined) out['x-dead-letter-routing-key'] = spec.deadLetter.routingKey;
  }
  if (spec.queueType !== undefined) out['x-queue-type'] = spec.queueType;
  if (spec.singleActiveConsumer !== undefined) out['x-single-active-consumer'] = spec.singleActiveConsumer;
  return out;
}

/**
 * The inverse of {@link toBrokerArguments}: lifts known `x-*` arguments into typed fields and
 * leaves the rest raw. Lets stores and transports that receive raw tables apply the semantics.
 */
export function fromBrokerArguments(
  table: Readonly<Record<string, unknown>>,
): QueueArguments & { arguments: Record<string, unknown> } {
  const raw: Record<string, unknown> = {};
  const typed: { -readonly [K in keyof QueueArguments]: QueueArguments[K] } = {};
  let dlx: string | undefined;
  let dlk: string | undefined;
  for (const [key, value] of Object.entries(table)) {
    switch (key) {
      case 'x-max-priority':
        typed.maxPriority = Number(value);
        break;
      case 'x-message-ttl':
        typed.messageTtl = Number(value);
        break;
      case 'x-expires':
        typed.expires = Number(value);
        break;
      case 'x-max-length':
        typed.maxLength = Number(value);
        break;
      case 'x-max-length-bytes':
        typed.maxLengthBytes = Number(value);
        break;
      case 'x-overflow':
        typed.overflow = value as OverflowBehaviour;
        break;
      case 'x-dead-letter-exchange':
        dlx = String(value);
        break;
      case 'x-dead-letter-routing-key':
        dlk = String(value);
        break;
      case 'x-queue-type':
        typed.queueType = value as QueueType;
        break;
      case 'x-single-active-consumer':
        typed.singleActiveConsumer = Boolean(value);
        break;
      default:
        raw[key] = value;
    }
  }
  if (dlx !== undefined) typed.deadLetter = dlk === undefined ? { exchange: dlx } : { exchange: dlx, routingKey: dlk };
  else if (dlk !== undefined) raw['x-dead-letter-routing-key'] = dlk;
  return { ...typed, arguments: raw };
}
