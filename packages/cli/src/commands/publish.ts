/**
 * `wakame publish`: sends one message (or `--count` copies of it) to an exchange, for debugging and smoke tests.
 *
 * The body is given inline or as `@file`. Inline text that parses as JSON goes out with the json serializer, any
 * other text as `text/plain`; a `.json` file is sent as JSON, any other file as raw bytes (`application/data`).
 * `--content-type` sends the body as it is, labelled with that type.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import {
  type Connection,
  type EncodedBody,
  InvalidArgumentError,
  NotFoundError,
  type QueueSpec,
  serializers,
} from '@wakame/core';
import type { CommandContext } from '../context.js';
import { type BrokerOptions, openBroker } from '../topology-input.js';

/** Options of {@link publish}; numbers arrive parsed and range-checked (see `options.ts`). */
export interface PublishCommandOptions extends BrokerOptions {
  /** @defaultValue the default exchange `''`, which routes to the queue named by the routing key */
  readonly exchange?: string;
  readonly routingKey?: string;
  readonly contentType?: string;
  /** `key=value` pairs; values are sent as strings. */
  readonly header?: readonly string[];
  /** 0–255. */
  readonly priority?: number;
  /** Per-message TTL in milliseconds. */
  readonly expiration?: number;
  readonly persistent?: boolean;
  readonly transient?: boolean;
  readonly mandatory?: boolean;
  /** At least 1. @defaultValue 1 */
  readonly count?: number;
}

/** What was published. */
export interface PublishResult {
  readonly exchange: string;
  readonly routingKey: string;
  /** Size of each message body on the wire. */
  readonly bytes: number;
  readonly count: number;
  readonly contentType: string;
}

/** Publishes the body given on the command line; see the module description for how it is encoded. */
export async function publish(
  ctx: CommandContext,
  body: string,
  options: PublishCommandOptions,
): Promise<PublishResult> {
  // Every input problem is reported before connecting: a typo should not need a reachable broker to be found.
  const exchange = options.exchange ?? '';
  const routingKey = options.routingKey ?? '';
  if (exchange === '' && routingKey === '') {
    throw new InvalidArgumentError(
      'nothing to route to: give --exchange, or --routing-key with the name of a queue (the default exchange routes by queue name)',
    );
  }
  if (options.persistent && options.transient) {
    throw new InvalidArgumentError('--persistent and --transient contradict each other; give one of them');
  }
  const count = options.count ?? 1;
  const headers = parseHeaders(options.header ?? []);
  const encoded = await encodeBody(ctx, body, options.contentType);
  const publishOptions = {
    exchange,
    routingKey,
    // Already encoded: passing the content type makes the producer send these exact bytes.
    contentType: encoded.contentType,
    contentEncoding: encoded.contentEncoding,
    ...(headers ? { headers } : {}),
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    ...(options.expiration !== undefined ? { expiration: options.expiration } : {}),
    persistent: !options.transient,
    mandatory: options.mandatory ?? false,
  };

  const connection = await openBroker(ctx, options);
  try {
    if (exchange === '' && !publishOptions.mandatory) await warnIfNoQueue(ctx, connection.admin, routingKey);
    const producer = connection.producer();
    // One at a time, so that `--count` copies arrive in order and a failure stops the run where it happened.
    for (let i = 0; i < count; i++) await producer.publish(encoded.body, publishOptions);
    const result: PublishResult = {
      exchange,
      routingKey,
      bytes: encoded.body.length,
      count,
      contentType: encoded.contentType,
    };
    if (ctx.jsonMode) ctx.json(result);
    else if (!ctx.quiet) ctx.out(describe(result));
    return result;
  } finally {
    await connection.close();
  }
}

/** Turns the body argument into bytes with their content type. */
async function encodeBody(ctx: CommandContext, body: string, contentType: string | undefined): Promise<EncodedBody> {
  // `@@text` escapes a literal body that starts with '@'.
  if (body.startsWith('@') && !body.startsWith('@@')) return encodeFile(resolve(ctx.cwd, body.slice(1)), contentType);
  const text = body.startsWith('@@') ? body.slice(1) : body;
  if (contentType !== undefined) return serializers.encode(text, { contentType, contentEncoding: 'utf-8' });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return serializers.encode(text, { serializer: 'text' });
  }
  return serializers.encode(value, { serializer: 'json' });
}

async function encodeFile(path: string, contentType: string | undefined): Promise<EncodedBody> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new InvalidArgumentError(`cannot read the body from ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (contentType === undefined && extname(path).toLowerCase() === '.json') {
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      throw new InvalidArgumentError(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    return serializers.encode(value, { serializer: 'json' });
  }
  if (contentType === undefined) return serializers.encode(bytes, { serializer: 'raw' });
  // A type with a text serializer (or any text/*) is labelled utf-8, so that kombu peers decode it as text;
  // anything else stays bytes.
  const known = serializers.byContentType(contentType)?.contentEncoding;
  const encoding = known ?? (contentType.toLowerCase().startsWith('text/') ? 'utf-8' : 'binary');
  return serializers.encode(bytes, { contentType, contentEncoding: encoding });
}

/** `k=v` pairs to a headers table; `undefined` when there are none, so no empty table is sent. */
function parseHeaders(pairs: readonly string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const headers: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`--header must look like key=value, got '${pair}'`);
    headers[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return headers;
}

/**
 * The default exchange drops a message whose routing key names no queue, and says nothing: warn, since a typo in
 * the queue name is the likeliest reason to publish there by hand.
 */
async function warnIfNoQueue(ctx: CommandContext, admin: Connection['admin'], queue: string): Promise<void> {
  try {
    await admin.declareQueue(passiveSpec(queue), { passive: true });
  } catch (error) {
    // Only advisory: any other failure (an exclusive queue of another connection is locked, say) is left to the
    // publish itself to report.
    if (error instanceof NotFoundError && !ctx.quiet) {
      ctx.err(`warning: no queue named '${queue}': the default exchange will drop the message`);
    }
  }
}

/**
 * A declaration for a passive check of `name`. A passive declare looks at the name only; the other fields are
 * required by the type and ignored by the broker.
 */
export function passiveSpec(name: string): QueueSpec {
  return { name, durable: true, exclusive: false, autoDelete: false, arguments: {} };
}

function describe(r: PublishResult): string {
  const what = r.count === 1 ? '1 message' : `${r.count} messages`;
  const where =
    r.exchange === ''
      ? `to queue '${r.routingKey}' (default exchange)`
      : `to exchange '${r.exchange}' with routing key '${r.routingKey}'`;
  return `Published ${what} of ${r.bytes} byte${r.bytes === 1 ? '' : 's'} (${r.contentType}) ${where}.`;
}
