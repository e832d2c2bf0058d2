/**
 * The Wakame side of the kombu interop suites of every transport (`../amqp/kombu-interop.int.test.ts`,
 * `../redis/kombu-*.int.test.ts`): bounded connections, publishes, gets and consumers, and what Wakame made of each
 * message, captured while its connection was open.
 */
import { Connection, type Exchange, type Message, type PublishOptions, type Queue } from '@wakame/core';
import { Latch, waitFor, within } from '@wakame/testkit';

/** Everything Wakame can decode, like the peer's accept list. */
export const ACCEPT = ['json', 'yaml', 'msgpack', 'text', 'raw'];
/** Bound on one Wakame broker operation, so that a wedged transport fails a test instead of hanging. */
export const OP_TIMEOUT_MS = 8_000;

/** What Wakame made of one message, captured while its connection was open. */
export interface WakameView {
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly exchange: string;
  readonly routingKey: string;
  readonly rawBody: Buffer;
  readonly body?: Buffer;
  readonly payload?: unknown;
  /** Why `payload` (or `body`) could not be read. */
  readonly decodeError?: unknown;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function capture(message: Message): WakameView {
  let body: Buffer | undefined;
  let payload: unknown;
  let decodeError: unknown;
  try {
    body = message.body;
    payload = message.payload;
  } catch (error) {
    decodeError = error;
  }
  return {
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    headers: message.headers,
    properties: message.properties,
    exchange: message.exchange,
    routingKey: message.routingKey,
    rawBody: message.rawBody,
    ...(body === undefined ? {} : { body }),
    ...(decodeError === undefined ? { payload } : { decodeError }),
  };
}

/** Opens a Wakame connection (bounded), runs `fn`, closes it (bounded). */
export async function withWakame<T>(url: string, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await within(OP_TIMEOUT_MS, `Connection.open(${url})`, Connection.open(url));
  try {
    return await fn(conn);
  } finally {
    await within(OP_TIMEOUT_MS, 'close', conn.close()).catch(() => undefined);
  }
}

export async function wakameDeclare(url: string, ...entities: (Exchange | Queue)[]): Promise<void> {
  await withWakame(url, (conn) => within(OP_TIMEOUT_MS, 'declare', conn.declare(...entities)));
}

/** One publish: a body and its options (routing key included). */
export interface Publish {
  readonly body: unknown;
  readonly options: PublishOptions;
}

/** Declares `entities`, then publishes `messages` to `exchange` one after the other, on a connection of its own. */
export async function wakamePublishAll(
  url: string,
  exchange: Exchange,
  entities: readonly (Exchange | Queue)[],
  messages: readonly Publish[],
): Promise<void> {
  await withWakame(url, async (conn) => {
    if (entities.length > 0) await within(OP_TIMEOUT_MS, 'declare', conn.declare(...entities));
    const producer = conn.producer({ exchange });
    for (const { body, options } of messages) {
      await within(OP_TIMEOUT_MS, `publish to ${options.routingKey}`, producer.publish(body, options));
    }
  });
}

/**
 * Gets, captures and acks up to `count` messages of `queue` (stopping early once it stays empty for `idleMs`),
 * on a connection of its own; a failure ends the list with the Error.
 */
export async function wakameGetAll(
  url: string,
  queue: Queue,
  count: number,
  idleMs = OP_TIMEOUT_MS,
): Promise<(WakameView | Error)[]> {
  const out: (WakameView | Error)[] = [];
  try {
    await withWakame(url, async (conn) => {
      const attached = queue.attach(conn);
      while (out.length < count) {
        // The next message, polled with basic_get (what this helper exercises) until one is there; `idleMs`
        // without any ends the list early. A failing get ends it at once, with the error.
        let failure: { readonly error: unknown } | undefined;
        const get = async (): Promise<Message | undefined> => {
          try {
            return await within(OP_TIMEOUT_MS, `get from ${queue.name}`, attached.get({ accept: ACCEPT }));
          } catch (error) {
            failure = { error };
            throw error;
          }
        };
        const message = await waitFor(async () => failure !== undefined || (await get()), {
          timeoutMs: idleMs,
          intervalMs: 20,
          what: `a message in ${queue.name}`,
        }).catch(() => undefined);
        if (failure !== undefined) throw failure.error;
        if (message === undefined || message === true) break;
        out.push(capture(message));
        await within(OP_TIMEOUT_MS, 'ack', message.ack());
      }
    });
  } catch (error) {
    out.push(asError(error));
  }
  return out;
}

/** The one message of `queue`, or the Error that kept Wakame from it. */
export async function wakameReceive(url: string, queue: Queue): Promise<WakameView | Error> {
  const [first] = await wakameGetAll(url, queue, 1);
  return first ?? new Error(`no message arrived in ${queue.name}`);
}

/**
 * Consumes `queue` with a Wakame consumer until `count` messages arrived (or `waitMs`, default
 * {@link OP_TIMEOUT_MS}, passed), then 200 ms more to catch any extra one.
 */
export async function wakameConsume(
  url: string,
  queue: Queue | string,
  count: number,
  options: { prefetch?: number; waitMs?: number } = {},
): Promise<{ views: WakameView[]; lostOrRevived: number }> {
  const views: WakameView[] = [];
  const arrived = new Latch(count);
  let lostOrRevived = 0;
  await withWakame(url, async (conn) => {
    conn.events.on('connection.lost', () => {
      lostOrRevived++;
    });
    conn.events.on('connection.revived', () => {
      lostOrRevived++;
    });
    const consumer = conn.consumer({
      queues: [queue],
      accept: ACCEPT,
      ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }),
      handler: async (message) => {
        views.push(capture(message));
        await message.ack();
        arrived.countDown();
      },
    });
    await within(OP_TIMEOUT_MS, 'consume', consumer.consume());
    // Fewer than `count` by the bound is the caller's to judge (it asserts on `views`).
    await arrived.wait(options.waitMs ?? OP_TIMEOUT_MS).catch(() => undefined);
    // Kept sleep: whether more than `count` arrive is something NOT happening, which only a bounded wait shows.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await within(OP_TIMEOUT_MS, 'consumer.close', consumer.close());
  });
  return { views, lostOrRevived };
}

export function viewOf(views: ReadonlyMap<string, WakameView | Error>, variant: string): WakameView {
  const view = views.get(variant);
  if (view === undefined) throw new Error(`variant ${variant} was not received`);
  if (view instanceof Error) throw new Error(`Wakame could not receive kombu's ${variant}: ${view.message}`);
  return view;
}

export function payloadOf(view: WakameView, variant: string): unknown {
  if (view.decodeError !== undefined) {
    const why = view.decodeError instanceof Error ? view.decodeError.message : String(view.decodeError);
    throw new Error(`Wakame could not decode kombu's ${variant}: ${why}`);
  }
  return view.payload;
}

export function onlyViews(list: readonly (WakameView | Error)[]): WakameView[] {
  const failure = list.find((v): v is Error => v instanceof Error);
  if (failure !== undefined) throw new Error(`Wakame failed while receiving: ${failure.message}`);
  return list as WakameView[];
}
