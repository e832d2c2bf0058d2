/**
 * What a handler of a Celery task receives ({@link CeleryCall}), and the retry request a handler
 * raises with `call.retry()` — the equivalent of Celery's `self.retry()`: the task is sent again
 * with the same id, `retries + 1` and an eta, and its state becomes RETRY meanwhile.
 *
 * @module
 */

import type { TaskName, TaskPayloads } from '../tasks/types.js';
import type { TopologyDocument } from '../topology/document.js';
import type { CeleryTimeLimitError } from './errors.js';
import type { CeleryTask } from './protocol.js';

/** Celery's `default_retry_delay`: three minutes. */
export const DEFAULT_RETRY_DELAY_SECONDS = 180;
/** Celery's `max_retries` default. */
export const DEFAULT_MAX_RETRIES = 3;

/** Options of `call.retry()`. */
export interface CeleryRetryOptions {
  /** Seconds until the next attempt. @defaultValue {@link DEFAULT_RETRY_DELAY_SECONDS} */
  readonly countdown?: number;
  /** The next attempt's time (instead of `countdown`). */
  readonly eta?: Date;
  /** The reason: stored with the RETRY state, and the failure once retries are exhausted. */
  readonly exc?: unknown;
  /** Attempts after the first one. @defaultValue {@link DEFAULT_MAX_RETRIES} */
  readonly maxRetries?: number;
}

/**
 * Thrown by `call.retry()`; the worker turns it into a new message. Not an error of the task, so it
 * is no `WakameError`: a handler that catches everything should rethrow it.
 */
export class CeleryRetry extends Error {
  override readonly name = 'CeleryRetry';
  readonly options: CeleryRetryOptions;

  constructor(options: CeleryRetryOptions) {
    super('Celery task retry requested');
    this.options = options;
  }
}

/** The `args` of a payload type `{ args, kwargs }` (any list when the payload says nothing). */
export type CeleryArgsOf<P> = P extends { readonly args?: infer A } ? NonNullable<A> : readonly unknown[];
/** The `kwargs` of a payload type `{ args, kwargs }` (any mapping when the payload says nothing). */
export type CeleryKwargsOf<P> = P extends { readonly kwargs?: infer K }
  ? NonNullable<K>
  : Readonly<Record<string, unknown>>;

/** The task as its handler sees it; `P`, the `{ args, kwargs }` type from a topology's payload schema. */
export interface CeleryCall<P = unknown> {
  readonly id: string;
  readonly name: string;
  readonly args: CeleryArgsOf<P>;
  readonly kwargs: CeleryKwargsOf<P>;
  /** How many times this task was retried before this run. */
  readonly retries: number;
  /** The whole decoded message. */
  readonly task: CeleryTask;
  /** The queue it was consumed from. */
  readonly queue: string;
  /** The message's priority, as the transport reports it. */
  readonly priority: number | undefined;
  /**
   * Aborted at the task's soft time limit (or at its hard one when it has no soft one); its `reason`
   * is the {@link CeleryTimeLimitError} to throw to give up.
   */
  readonly signal: AbortSignal;
  /** Asks for another attempt later (Celery's `self.retry`); never returns. */
  retry(options?: CeleryRetryOptions): never;
}

/** A handler: its return value is the task's result (JSON- or msgpack-serializable). */
export type CeleryHandler<P = unknown> = (call: CeleryCall<P>) => unknown;

/**
 * Handlers by task name. With a `defineTopology(...)` value, only its task names are allowed and each
 * call's `args` and `kwargs` are typed from the task's payload schema.
 */
export type CeleryHandlers<T extends TopologyDocument = TopologyDocument> = {
  readonly [K in TaskName<T>]?: CeleryHandler<TaskPayloads<T>[K]>;
};

export function callOf(
  task: CeleryTask,
  delivery: { queue: string; priority: number | undefined; signal: AbortSignal },
): CeleryCall {
  return {
    signal: delivery.signal,
    queue: delivery.queue,
    priority: delivery.priority,
    id: task.id,
    name: task.name,
    // Checked against the topology's payload schema by the worker when it has one.
    args: task.args as CeleryArgsOf<unknown>,
    kwargs: task.kwargs as CeleryKwargsOf<unknown>,
    retries: task.retries,
    task,
    retry(options: CeleryRetryOptions = {}): never {
      throw new CeleryRetry(options);
    },
  };
}
