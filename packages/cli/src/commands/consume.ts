/**
 * `wakame consume <queue>`: a tail of a queue, for debugging. Shows each message (decoded where possible) and, by
 * default, changes nothing: every message shown goes back to the queue when the command ends. `--ack` removes
 * the messages shown instead.
 *
 * Why messages are held rather than requeued one by one: a message requeued while the consumer is still
 * subscribed comes straight back to it, so the tail would show the same message forever. Held messages count
 * against the prefetch window, which bounds how many one run can show without `--ack` ({@link DEFAULT_WINDOW},
 * or `--count`); they are marked redelivered once they are back in the queue.
 *
 * A run ends after `--count` messages, after `--timeout` seconds without a message (default
 * {@link DEFAULT_TIMEOUT_SECONDS}; `--timeout 0` waits until interrupted), when the window is full, on the
 * context's abort signal (SIGINT), or when the broker cancels the consumer (queue deleted).
 *
 * @module
 */
import { InvalidArgumentError, type Message } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { type BrokerOptions, openBroker } from '../topology-input.js';
import { passiveSpec } from './publish.js';

/** Options of {@link consume}; numbers arrive parsed and range-checked (see `options.ts`). */
export interface ConsumeOptions extends BrokerOptions {
  /** Stop after this many messages. @defaultValue unlimited (bounded by the window without `--ack`) */
  readonly count?: number;
  /** Seconds without a message before stopping; 0 = never. @defaultValue {@link DEFAULT_TIMEOUT_SECONDS} */
  readonly timeout?: number;
  /** Acknowledge (remove) the messages shown. */
  readonly ack?: boolean;
  /** Return the messages shown to the queue (the default; the flag makes it explicit in scripts). */
  readonly requeue?: boolean;
  /** Serializer names or content types to decode, comma-separated. @defaultValue every registered serializer */
  readonly accept?: string | readonly string[];
}

/** Why a run ended. */
export type StopReason = 'count' | 'timeout' | 'window' | 'signal' | 'cancelled' | 'error';

/** What a run did. */
export interface ConsumeResult {
  readonly queue: string;
  readonly shown: number;
  readonly acked: number;
  readonly requeued: number;
  /** Messages that could not be decoded (shown raw, never acked silently). */
  readonly undecodable: number;
  readonly stoppedBy: StopReason;
}

/** Seconds without a message after which a run ends, unless `--timeout` says otherwise. */
export const DEFAULT_TIMEOUT_SECONDS = 10;
/** Without `--ack` (and without `--count`), at most this many messages are held, and so shown, per run. */
export const DEFAULT_WINDOW = 200;
/** Prefetch with `--ack`: acked messages leave the window, so it only needs to keep the pipe full. */
const ACK_PREFETCH = 100;
/** The largest AMQP prefetch count. */
const MAX_PREFETCH = 65_535;

/** Tails `queue`; see the module description. @throws {@link NotFoundError} when the queue does not exist. */
export async function consume(ctx: CommandContext, queue: string, options: ConsumeOptions): Promise<ConsumeResult> {
  if (options.ack && options.requeue) {
    throw new InvalidArgumentError('--ack and --requeue contradict each other; give one of them');
  }
  const ack = options.ack ?? false;
  const count = options.count;
  const timeoutSeconds = options.timeout ?? DEFAULT_TIMEOUT_SECONDS;
  const window = Math.min(count ?? (ack ? ACK_PREFETCH : DEFAULT_WINDOW), ack ? ACK_PREFETCH : MAX_PREFETCH);
  const accept = parseAccept(options.accept);

  const connection = await openBroker(ctx, options);
  try {
    const { messageCount } = await connection.admin.declareQueue(passiveSpec(queue), { passive: true });
    if (!ctx.quiet) {
      const until = [
        count === undefined ? undefined : `${count} message${count === 1 ? '' : 's'}`,
        timeoutSeconds === 0 ? undefined : `${timeoutSeconds} s without a message`,
      ].filter((s) => s !== undefined);
      ctx.err(
        `Consuming from '${queue}' on ${connection.url} (${messageCount} ready) until ${until.length > 0 ? until.join(' or ') : 'interrupted'}; ` +
          (ack ? 'messages shown are acked (removed).' : 'messages shown go back to the queue (--ack removes them).'),
      );
    }

    let shown = 0;
    let acked = 0;
    let undecodable = 0;
    let failure: unknown;
    const held: Message[] = [];
    let stop: (reason: StopReason) => void = () => {};
    const stopped = new Promise<StopReason>((resolve) => {
      stop = resolve;
    });
    let done = false;
    const finish = (reason: StopReason): void => {
      if (done) return;
      done = true;
      stop(reason);
    };
    let timer: NodeJS.Timeout | undefined;
    const rearm = (): void => {
      if (timeoutSeconds === 0) return;
      clearTimeout(timer);
      timer = setTimeout(() => finish('timeout'), timeoutSeconds * 1000);
    };

    const handler = async (message: Message): Promise<void> => {
      // Arrived after the end (prefetched): left unsettled, so closing the consumer returns it to the queue.
      if (done) return;
      shown++;
      rearm();
      if (!show(ctx, message, shown)) undecodable++;
      if (!ack) held.push(message);
      if (count !== undefined && shown >= count) finish('count');
      else if (!ack && held.length >= window) finish('window');
      if (!ack) return;
      try {
        // Acked only once shown, undecodable ones included: they were printed raw, so nothing is lost unseen.
        await message.ack();
        acked++;
      } catch (error) {
        failure ??= error;
        finish('error');
      }
    };

    const consumer = connection.consumer({
      queues: [queue],
      accept: accept ?? connection.serializers.names(),
      prefetch: window,
      // Decoded in the handler, so that a message that cannot be decoded is shown raw rather than rejected.
      decode: false,
      autoDeclare: false,
      tagPrefix: 'wakame-cli',
      handler,
      // With decoding off, only a body over the connection's maxBodyBytes comes here: shown (size and error,
      // the body is never read) and held or acked like any other, never rejected by a debugging tool.
      onDecodeError: handler,
    });
    const onAbort = (): void => finish('signal');
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal?.aborted) finish('signal');
    const unlisten = connection.events.on('consumer.cancelled_by_broker', () => finish('cancelled'));
    let requeued = 0;
    let stoppedBy: StopReason;
    try {
      rearm();
      await consumer.consume();
      stoppedBy = await stopped;
    } finally {
      clearTimeout(timer);
      ctx.signal?.removeEventListener('abort', onAbort);
      unlisten();
      // Stop deliveries first: a message requeued while still subscribed would come straight back.
      await consumer.cancel();
      for (const message of held) {
        if (message.settled) continue;
        try {
          await message.requeue();
          requeued++;
        } catch {
          // The connection is failing: the broker returns unacknowledged messages by itself when it closes.
        }
      }
      await consumer.close();
    }
    if (failure !== undefined) throw failure;

    const result: ConsumeResult = { queue, shown, acked, requeued, undecodable, stoppedBy };
    if (!ctx.quiet) ctx.err(summary(result, ack, timeoutSeconds, window));
    return result;
  } finally {
    await connection.close();
  }
}

/** `json,text` (or repeated values) to an accept list; `undefined` for the default. */
function parseAccept(accept: string | readonly string[] | undefined): string[] | undefined {
  if (accept === undefined) return undefined;
  const list = (typeof accept === 'string' ? [accept] : accept)
    .flatMap((entry) => entry.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (list.length === 0)
    throw new InvalidArgumentError('--accept needs serializer names or content types, e.g. json,text');
  return list;
}

/**
 * Prints one message: as one JSON line with `--json` (a stream of messages is NDJSON, which `jq` reads line by
 * line; the context's `json()` is for one document per run), else a header line and the body.
 * @returns whether the body could be decoded.
 */
function show(ctx: CommandContext, message: Message, n: number): boolean {
  let decoded: { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: Error };
  try {
    decoded = { ok: true, value: message.decode() };
  } catch (error) {
    decoded = { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
  }
  if (ctx.jsonMode) {
    ctx.out(
      JSON.stringify({
        body: decoded.ok ? jsonSafe(decoded.value) : { base64: message.rawBody.toString('base64') },
        ...(decoded.ok ? {} : { error: decoded.error.message }),
        properties: jsonSafe(message.properties),
        headers: jsonSafe(message.headers),
        deliveryInfo: message.deliveryInfo,
      }),
    );
    return decoded.ok;
  }
  if (!ctx.quiet) {
    const info = message.deliveryInfo;
    const line = [
      `#${n}`,
      `tag ${String(info.deliveryTag)}`,
      info.exchange === '' ? undefined : `exchange '${info.exchange}'`,
      `routing key '${info.routingKey}'`,
      info.redelivered ? 'redelivered' : 'first delivery',
      message.contentType ?? 'no content type',
      `${message.bodySize} byte${message.bodySize === 1 ? '' : 's'}`,
    ]
      .filter((part) => part !== undefined)
      .join(' · ');
    ctx.out(ctx.color ? `\u001b[36m${line}\u001b[0m` : line);
    if (Object.keys(message.headers).length > 0) ctx.out(`headers: ${JSON.stringify(jsonSafe(message.headers))}`);
  }
  if (decoded.ok) {
    ctx.out(formatValue(decoded.value));
  } else {
    ctx.out(`could not decode: ${decoded.error.message}; raw body (base64):`);
    ctx.out(message.rawBody.toString('base64'));
  }
  return decoded.ok;
}

/** A decoded body for people: strings as they are, bytes as base64, anything else as indented JSON. */
function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return `(binary, base64) ${Buffer.from(value).toString('base64')}`;
  return JSON.stringify(jsonSafe(value), null, 2) ?? String(value);
}

/**
 * A value JSON can carry: bytes become `{ base64 }` (JSON.stringify would spell a Buffer as an array of numbers),
 * big integers strings, dates ISO strings, and a cycle (YAML aliases can make one) `"[circular]"`.
 */
export function jsonSafe(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString('base64') };
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  const safe = Array.isArray(value)
    ? value.map((item: unknown) => jsonSafe(item, seen))
    : Object.fromEntries(Object.entries(value).map(([key, item]) => [key, jsonSafe(item, seen)]));
  seen.delete(value);
  return safe;
}

function summary(r: ConsumeResult, ack: boolean, timeoutSeconds: number, window: number): string {
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const settled = ack
    ? `${r.acked} acked (removed)`
    : `${r.requeued} returned to the queue (nothing removed; --ack removes them)`;
  const why: Record<StopReason, string> = {
    count: '--count reached',
    timeout: `no message for ${timeoutSeconds} s`,
    window: `showed the first ${window}: without --ack they stay unacknowledged until the end, so raise --count to see more`,
    signal: 'interrupted',
    cancelled: 'the broker cancelled the consumer (queue deleted?)',
    error: 'an acknowledgement failed',
  };
  const undecodable = r.undecodable > 0 ? `; ${r.undecodable} could not be decoded (shown raw)` : '';
  return `${plural(r.shown, 'message')} from '${r.queue}', ${settled}${undecodable}. Stopped: ${why[r.stoppedBy]}.`;
}
