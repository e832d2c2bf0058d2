/**
 * The task layer's public shapes: what `send()` accepts, what handlers receive, and the type-level
 * map from a topology's task names to their payload types (so `send('media.process', …)` and
 * `defineWorker(topology, handlers)` are checked at compile time).
 *
 * @module
 */
import type { Message } from '../messaging/message.js';
import type { TopologyDocument } from '../topology/document.js';
import type { FromSchema } from './from-schema.js';

/** How urgent a task is: a priority class of the topology, or a number 0–255. */
export type TaskPriority = string | number;

/** Options of {@link TaskClient.send}. Durations in milliseconds. */
export interface SendOptions {
  /**
   * A priority class name (`'high'`, …), or a message priority 0–255. A number on a task that goes
   * by priority class also picks the class whose range holds it (see `priorityClassRanges`: with
   * high/mid/low and queues without `maxPriority`, low 0–3, mid 4–6, high 7–255), so it never
   * bypasses the classes. @defaultValue the task's own
   */
  readonly priority?: TaskPriority;
  /**
   * The message priority 0–255 within the class (honoured by queues with `maxPriority`):
   * `{ priority: 'high', messagePriority: 9 }`. @defaultValue the numeric `priority`, else the task's own number, else none
   */
  readonly messagePriority?: number;
  /** Compression for this task's body (`zlib`, `gzip`, …). @defaultValue the client's */
  readonly compression?: string;
  /** Deliver no earlier than this many ms from now (through a delay queue, never a sleeping worker). */
  readonly delay?: number;
  /** Deliver no earlier than this time (same mechanism as `delay`). */
  readonly eta?: Date;
  /** Discard the task if not started within this many ms. */
  readonly expires?: number;
  readonly headers?: Readonly<Record<string, unknown>>;
  /** A task id; generated when absent. */
  readonly id?: string;
  readonly signal?: AbortSignal;
  /**
   * Send the task in the application's own open database transaction (SQL transports): it is sent
   * if and only if the transaction commits. See `PublishOptions.transaction`.
   */
  readonly transaction?: unknown;
}

/** What a handler gets besides the payload. */
export interface TaskContext {
  readonly id: string;
  readonly task: string;
  /** 1 on the first delivery, then 2, 3, … on retries. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** W3C trace context carried from the sender, when there was one. */
  readonly traceparent?: string;
  readonly message: Message;
  /**
   * Aborted when the worker stops without waiting any longer: its stop deadline passed, or a second stop (signal)
   * came. The messages of handlers still running then go back to their queues (and run again); a handler that
   * honours the signal just ends sooner.
   */
  readonly signal: AbortSignal;
}

/** A task handler: its return value is the RPC reply (when the sender used `call`). */
export type TaskHandler<P = unknown, R = unknown> = (payload: P, context: TaskContext) => R | Promise<R>;

/** Task name → payload type, read from a `defineTopology(...)` value's tasks and their JSON Schemas. */
export type TaskPayloads<T extends TopologyDocument> = T['tasks'] extends readonly (infer Task)[]
  ? {
      [K in Task as K extends { readonly name: infer N extends string } ? N : never]: K extends {
        readonly payload: infer S;
      }
        ? FromSchema<S>
        : unknown;
    }
  : Record<string, unknown>;

/** Task names of a topology (plain `string` for an untyped one). */
export type TaskName<T extends TopologyDocument> = keyof TaskPayloads<T> & string;

/** Handlers for (some of) a topology's tasks, with payloads typed from their schemas. */
export type TaskHandlers<T extends TopologyDocument> = {
  readonly [K in TaskName<T>]?: TaskHandler<TaskPayloads<T>[K]>;
};
