/**
 * What a worker consumes: {@link ConsumerSpec}s (queues, a handler, an accept list, a prefetch window), and how one
 * message of a spec is run and what became of it. Plain specs run the user's handler; the task worker attaches its
 * own runner to the spec it builds from the topology.
 *
 * @module
 */
import { isSettled } from '../internal/settled.js';
import type { Connection } from '../messaging/connection.js';
import type { Message } from '../messaging/message.js';
import type { Queue } from '../model/queue.js';
import { errorSummary } from './outcomes.js';

/** What a {@link ConsumerSpec} handler gets besides the message. */
export interface ConsumerContext {
  /** The worker's connection: publish follow-up messages with `context.connection.producer()`. */
  readonly connection: Connection;
  /**
   * Aborted when the worker stops without waiting any longer (its stop deadline passed, or a second stop came):
   * the message goes back to its queue (and is delivered again); a handler that honours it just ends sooner.
   */
  readonly signal: AbortSignal;
}

/**
 * One consumer of a worker (kombu's `Consumer` in `get_consumers`): its queues, the handler that settles each
 * message, what it accepts and how many messages it holds at once.
 *
 * @example
 * { queues: ['work'], accept: ['json', 'text'], prefetch: 10, handler: async (message) => { use(message.payload); await message.ack(); } }
 */
export interface ConsumerSpec {
  /** Queue declarations (declared first unless `autoDeclare: false`, bindings included) or names of existing queues. */
  readonly queues: readonly (Queue | string)[];
  /**
   * Runs for each message, up to `prefetch` at once; it settles the message (`ack`, `reject`, `requeue`), as kombu's
   * callbacks do, unless `autoAck`. When it throws, the message is settled by `onHandlerError` (default: requeued
   * once, then rejected) and counted as `failed`.
   */
  readonly handler: (message: Message, context: ConsumerContext) => unknown;
  /** Serializer names or content types the handler may read `message.payload` of (`json`, `text`, `raw`, …). @defaultValue `['json']` */
  readonly accept?: readonly string[];
  /** Messages held (and handlers running) at once. @defaultValue the worker's `concurrency` (10) */
  readonly prefetch?: number;
  /** `'priority'`: serve the queues in the order given, later ones only while earlier ones are empty. @defaultValue `'round-robin'` */
  readonly order?: 'round-robin' | 'priority';
  /** Ack a message whose handler returned without settling it. @defaultValue false (the handler settles it) */
  readonly autoAck?: boolean;
  /** Decode before the handler runs, so undecodable messages go to `onDecodeError`. @defaultValue true */
  readonly decode?: boolean;
  /** Declare {@link Queue} declarations before consuming. @defaultValue true */
  readonly autoDeclare?: boolean;
  /** The broker forgets messages as it sends them: faster, lost if the process dies, and a stop cannot return them. @defaultValue false */
  readonly noAck?: boolean;
  /** Start of each consumer tag. @defaultValue `'wakame-worker'` */
  readonly tagPrefix?: string;
  /**
   * A message that could not be decoded, is not in `accept`, or is over the connection's `maxBodyBytes`.
   * @defaultValue reject it without requeue (dead-lettered when its queue has a dead-letter exchange)
   */
  readonly onDecodeError?: (message: Message, error: Error) => void | Promise<void>;
  /** The handler threw and left the message unsettled. @defaultValue requeue it once, reject it when it fails again */
  readonly onHandlerError?: (message: Message, error: unknown) => void | Promise<void>;
}

/** What became of one message, for the worker's counters and per-queue health. */
export interface RunOutcome {
  /** `returned`: a forced stop gave the message back to its queue while its handler ran. */
  readonly type: 'done' | 'retry' | 'dead-letter' | 'returned' | 'failed';
  readonly error?: { readonly name: string; readonly message: string };
}

/** Runs one spec's messages and says what became of them. */
export interface MessageRunner {
  /** What per-queue health calls this runner's failures. */
  readonly source: 'task' | 'handler';
  /** Synchronous when nothing had to wait (a synchronous handler that settled its message, say). */
  run(message: Message, context: ConsumerContext): RunOutcome | Promise<RunOutcome>;
  undecodable(message: Message, error: Error, context: ConsumerContext): Promise<RunOutcome>;
}

const runners = new WeakMap<ConsumerSpec, MessageRunner>();

/** Runs `spec`'s messages with `runner` instead of its handler (the task worker's consumer). */
export function withRunner<S extends ConsumerSpec>(spec: S, runner: MessageRunner): S {
  runners.set(spec, runner);
  return spec;
}

const DONE: RunOutcome = Object.freeze({ type: 'done' });
const RETURNED: RunOutcome = Object.freeze({ type: 'returned' });

/** The runner of `spec`: its attached one, else its handler's. */
export function runnerOf(spec: ConsumerSpec): MessageRunner {
  return runners.get(spec) ?? plainRunner(spec);
}

function plainRunner(spec: ConsumerSpec): MessageRunner {
  const { handler, autoAck = false, onHandlerError, onDecodeError } = spec;
  const failed = async (message: Message, context: ConsumerContext, error: unknown): Promise<RunOutcome> => {
    // After a forced stop a failure is the abort (or the closing connection): the message goes back as it was.
    if (context.signal.aborted && message.state !== 'acked') return returned(message);
    if (!message.settled) {
      if (onHandlerError) await onHandlerError(message, error);
      else await message.reject({ requeue: !message.redelivered });
    }
    return { type: 'failed', error: errorSummary(error) };
  };
  const succeeded = (message: Message, context: ConsumerContext): RunOutcome | Promise<RunOutcome> => {
    // A forced stop gives back what the handler left unsettled (or the stop already gave back).
    if (context.signal.aborted && (message.state === 'requeued' || !message.settled)) return returned(message);
    if (autoAck && !message.settled) {
      // Acked synchronously (in memory): nothing to wait for, no promise per message.
      const acked = message.ack();
      return isSettled(acked) ? DONE : acked.then(done);
    }
    return DONE;
  };
  return {
    source: 'handler',
    // Not async: a handler's promise costs one `then`, a synchronous handler none.
    run(message, context) {
      let result: unknown;
      try {
        result = handler(message, context);
      } catch (error) {
        return failed(message, context, error);
      }
      // Awaiting only real promises spares synchronous handlers a microtask turn.
      if (result instanceof Promise) {
        return result.then(
          () => succeeded(message, context),
          (error: unknown) => failed(message, context, error),
        );
      }
      return succeeded(message, context);
    },
    async undecodable(message, error) {
      if (onDecodeError) await onDecodeError(message, error);
      else if (!message.settled) await message.reject();
      return { type: 'failed', error: errorSummary(error) };
    },
  };
}

function done(): RunOutcome {
  return DONE;
}

async function returned(message: Message): Promise<RunOutcome> {
  if (!message.settled) await message.requeue().catch(() => undefined);
  return RETURNED;
}

/** A queue's name, as the worker's health lists it. */
export function queueName(queue: Queue | string): string {
  return typeof queue === 'string' ? queue : queue.name;
}
