/**
 * Sending declares and binds with AMQP's `nowait` bit: the broker sends no reply, so many of them go
 * out back to back and cost one round trip together (the synchronous call that follows them, see
 * {@link barrier}). amqplib's public API always waits for the `-ok` reply, so this is the one module
 * that reaches into its internals: `sendImmediately(method, fields)` of the channel (it writes one
 * method frame, bypassing the RPC queue) and the numeric method ids of its `defs` module (not
 * exported by the package, so they are spelled here: class id << 16 | method id, AMQP 0-9-1).
 * `nowait.int.test.ts` checks all of it against a real broker, so an amqplib upgrade that changes
 * them fails there, not in production.
 *
 * What makes this safe: a channel processes its methods in order, and the first one that fails
 * closes the channel, and the broker discards everything sent after it on that channel. So when a
 * batch ends with a synchronous call that succeeds, every method before it succeeded; when the
 * channel closes instead, every method before the failing one succeeded and none after it ran — the
 * reply text names the failing entity.
 *
 * @module
 */
import type { BindingSpec, ExchangeSpec, QueueSpec } from '@wakame/core/spi';
import { exchangeArguments, InvalidOperationError, toBrokerArguments } from '@wakame/core/spi';
import type { Channel } from 'amqplib';

/** amqplib's `defs` method ids (`module.exports.QueueDeclare = 3276810` …). */
export const METHOD = {
  ExchangeDeclare: (40 << 16) | 10,
  ExchangeBind: (40 << 16) | 30,
  QueueDeclare: (50 << 16) | 10,
  QueueBind: (50 << 16) | 20,
} as const;

/** The amqplib channel internals used here (lib/channel.js, `BaseChannel`). */
interface ChannelInternals {
  sendImmediately(method: number, fields: Record<string, unknown>): unknown;
  /** The reply callback of the RPC in flight, `null` when none. */
  reply: unknown;
  /** RPCs queued behind it (`null` once the channel closed). */
  pending: unknown[] | null;
}

/** One method sent with `nowait`. */
export type NowaitMethod =
  | { readonly method: 'exchange.declare'; readonly spec: ExchangeSpec; readonly passive: boolean }
  | { readonly method: 'queue.declare'; readonly spec: QueueSpec; readonly passive: boolean }
  | { readonly method: 'bind'; readonly binding: BindingSpec };

/**
 * Sends `methods` on `ch` without waiting for replies. The channel must be idle (no RPC in flight
 * or queued): a frame written while one waits would overtake the queued ones and break their order.
 * The fields are those amqplib's own `assertExchange`/`assertQueue`/`checkQueue`/`bindQueue` build
 * (`lib/api_args.js`), with `nowait` set, so the broker compares exactly what a lone declare sends.
 */
export function sendNowait(ch: Channel, methods: readonly NowaitMethod[]): void {
  const internals = ch as unknown as ChannelInternals;
  if (internals.reply !== null || (internals.pending?.length ?? 0) > 0)
    throw new InvalidOperationError('sendNowait needs an idle channel (an RPC is in flight)');
  for (const m of methods) {
    const [method, fields] = frameOf(m);
    internals.sendImmediately(method, { ...fields, ticket: 0, nowait: true });
  }
}

function frameOf(m: NowaitMethod): readonly [number, Record<string, unknown>] {
  switch (m.method) {
    case 'exchange.declare':
      return m.passive
        ? [
            METHOD.ExchangeDeclare,
            { exchange: m.spec.name, passive: true, type: '', durable: true, autoDelete: false, internal: false },
          ]
        : [
            METHOD.ExchangeDeclare,
            {
              exchange: m.spec.name,
              type: m.spec.type,
              passive: false,
              durable: m.spec.durable,
              autoDelete: m.spec.autoDelete,
              internal: m.spec.internal,
              arguments: exchangeArguments(m.spec),
            },
          ];
    case 'queue.declare':
      return m.passive
        ? [
            METHOD.QueueDeclare,
            { queue: m.spec.name, passive: true, durable: true, exclusive: false, autoDelete: false },
          ]
        : [
            METHOD.QueueDeclare,
            {
              queue: m.spec.name,
              passive: false,
              durable: m.spec.durable,
              exclusive: m.spec.exclusive,
              autoDelete: m.spec.autoDelete,
              arguments: toBrokerArguments(m.spec),
            },
          ];
    case 'bind': {
      const b = m.binding;
      return b.destinationType === 'queue'
        ? [
            METHOD.QueueBind,
            { queue: b.destination, exchange: b.source, routingKey: b.routingKey, arguments: b.arguments },
          ]
        : [
            METHOD.ExchangeBind,
            { destination: b.destination, source: b.source, routingKey: b.routingKey, arguments: b.arguments },
          ];
    }
  }
}

/**
 * The synchronous call that ends a batch: `basic.qos` with no limit (what a fresh channel has, so
 * it changes nothing). It resolves once the broker has processed everything sent before it, or
 * rejects with the close of the channel when one of those failed.
 */
export async function barrier(ch: Channel): Promise<void> {
  await ch.prefetch(0, false);
}
