/**
 * `wakame send` for a task the topology marks `protocol: celery`: the JSON is the task's
 * `{ "args": [...], "kwargs": {...} }` (checked against its payload schema), sent in Celery's protocol
 * v2 by a {@link CeleryClient} so that a Python Celery worker runs it. `--wait` reads the result from
 * Celery's result backend: `rpc://` on RabbitMQ, Celery's Redis result backend (the broker's Redis
 * server and database, no key prefix) on Redis; other brokers have neither.
 *
 * @module
 */
import {
  type BrokerUrl,
  CeleryClient,
  type CeleryResultBackend,
  type CelerySendOptions,
  type Connection,
  InvalidArgumentError,
  RpcResultBackend,
  type TopologyDocument,
  UnsupportedFeatureError,
} from '@wakame/core';
import type { CommandContext } from '../context.js';

/** What `wakame send` options mean to a Celery task (see `SendCommandOptions`). */
export interface CelerySendCommandOptions {
  /** Celery's message priority (a number; priority classes are Wakame's). */
  readonly priority?: string | number;
  /** The same, under the name of Wakame's priority within a class. */
  readonly messagePriority?: number;
  /** Milliseconds before the task may run (Celery's `countdown`). */
  readonly delay?: number;
  /** Milliseconds within which the task must start (Celery's `expires`). */
  readonly expires?: number;
  /** Seconds to wait for the result. */
  readonly wait?: number;
}

/** The arguments of a Celery task as `wakame send` takes them. */
interface CeleryArguments {
  args?: unknown[];
  kwargs?: Record<string, unknown>;
}

const SHAPE = '{"args": [...], "kwargs": {...}}';

/** Sends `task` (a Celery task of `document`) and prints its id, or with `--wait` its result. */
export async function sendCelery(
  ctx: CommandContext,
  connection: Connection,
  document: TopologyDocument,
  task: string,
  payload: unknown,
  options: CelerySendCommandOptions,
): Promise<void> {
  const sendOptions: CelerySendOptions = {
    ...celeryArguments(task, payload),
    ...celeryTiming(task, options),
  };
  // Before anything is sent: a broker without a result backend refuses --wait here.
  const backend = options.wait !== undefined ? await resultBackend(connection) : undefined;
  try {
    const client = new CeleryClient(connection, { topology: document, ...(backend ? { backend } : {}) });
    const sent = await client.send(task, sendOptions);
    if (options.wait === undefined) {
      if (ctx.jsonMode) ctx.json({ task, id: sent.id, protocol: 'celery' });
      else if (!ctx.quiet) ctx.out(`sent ${task} (id ${sent.id}) as a Celery task`);
      return;
    }
    // A FAILURE or REVOKED outcome throws CeleryTaskError, reported as a failed task is.
    const result = await sent.get(options.wait * 1000);
    if (ctx.jsonMode) ctx.json({ task, id: sent.id, protocol: 'celery', result });
    else ctx.out(JSON.stringify(result, null, 2));
  } finally {
    await backend?.close();
  }
}

/** `{ args, kwargs }` from the command line's JSON; anything else is refused, naming the expected shape. */
function celeryArguments(task: string, payload: unknown): CeleryArguments {
  const refuse = (why: string): never => {
    throw new InvalidArgumentError(`task '${task}' is a Celery task (protocol: celery): its JSON is ${SHAPE}; ${why}`);
  };
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return refuse(`got ${JSON.stringify(payload).slice(0, 60)}`);
  }
  const { args, kwargs, ...rest } = payload as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) refuse(`unexpected ${extra.map((key) => `'${key}'`).join(', ')}`);
  if (args !== undefined && !Array.isArray(args)) refuse("'args' must be an array");
  if (kwargs !== undefined && (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs))) {
    refuse("'kwargs' must be an object");
  }
  return {
    ...(args !== undefined ? { args: args as unknown[] } : {}),
    ...(kwargs !== undefined ? { kwargs: kwargs as Record<string, unknown> } : {}),
  };
}

/**
 * `--delay` and `--expires` in Celery's seconds (`countdown`, `expires`); `--priority` or
 * `--message-priority` as Celery's one message priority. Priority classes are Wakame's: a class name is refused.
 */
function celeryTiming(task: string, options: CelerySendCommandOptions): CelerySendOptions {
  if (typeof options.priority === 'string') {
    throw new InvalidArgumentError(
      `--priority '${options.priority}': task '${task}' is a Celery task, which has no priority classes; give a message priority number (--priority 0–255)`,
    );
  }
  if (options.priority !== undefined && options.messagePriority !== undefined) {
    throw new InvalidArgumentError(
      `task '${task}' is a Celery task, which has one message priority: give --priority or --message-priority, not both`,
    );
  }
  const priority = options.priority ?? options.messagePriority;
  return {
    ...(priority !== undefined ? { priority } : {}),
    ...(options.delay !== undefined ? { countdown: options.delay / 1000 } : {}),
    ...(options.expires !== undefined ? { expires: options.expires / 1000 } : {}),
  };
}

/** Where `--wait` reads Celery results on this broker. */
async function resultBackend(connection: Connection): Promise<CeleryResultBackend> {
  const kind = connection.transport.kind;
  if (kind === 'amqp') return new RpcResultBackend(connection);
  if (kind === 'redis') {
    const { CeleryRedisResultBackend } = await import('@wakame/transports/redis');
    return new CeleryRedisResultBackend({ url: redisResultsUrl(connection.urls[0] as BrokerUrl) });
  }
  throw new UnsupportedFeatureError(
    "waiting for a Celery task's result (--wait reads rpc:// results on amqp:// and Celery's Redis result backend on redis://); send without --wait",
    kind,
  );
}

/** The Redis server and database of the broker, as Celery's `result_backend` URL (no transport options). */
function redisResultsUrl(url: BrokerUrl): string {
  const user = encodeURIComponent(url.username ?? '');
  const auth = url.password !== undefined ? `${user}:${encodeURIComponent(url.password)}@` : user ? `${user}@` : '';
  const host = url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname;
  return `${url.scheme}://${auth}${host}:${url.port ?? 6379}/${url.db}`;
}
