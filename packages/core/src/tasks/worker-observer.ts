/**
 * What a worker tells an observer (its health server and metrics): each task's outcome and every connection
 * it (re)connects with. A separate module so that observers need not import the worker (no import cycles), and so
 * that a worker nobody observes pays nothing: it checks for observers before reading a clock.
 *
 * @module
 */
import type { Connection } from '../messaging/connection.js';

/** A finished task, as an observer sees it (the worker's `TaskEvent` is one). */
export interface ObservedTask {
  /** `done`, `retry`, `dead-letter` or `returned` (a forced stop gave the message back). */
  readonly type: string;
  readonly task: string;
  readonly queue: string;
  /** Handler plus settlement, in milliseconds. */
  readonly durationMs: number;
}

/** What the worker's scheduler did, as an observer sees it (the worker's `ScheduleEvent` is one). */
export interface ObservedScheduleEvent {
  /** `leader`, `follower`, `fired`, `skipped` or `error`. */
  readonly type: string;
  readonly schedule?: string;
}

/** Callbacks a worker calls; see `Worker.observe()`. Each is optional; one that throws is logged and ignored. */
export interface WorkerObserver {
  /** A task message was handled (or dead-lettered without a handler). */
  readonly taskFinished?: (task: ObservedTask) => void;
  /** The worker is connected: after its first connection, after each reconnection and each recovery. */
  readonly connected?: (connection: Connection) => void;
  /** The worker's scheduler took or gave up the schedules' lease, sent or skipped a run, or failed. */
  readonly scheduleEvent?: (event: ObservedScheduleEvent) => void;
  /** The worker has stopped (`run()` is about to resolve). */
  readonly stopped?: () => void;
}
