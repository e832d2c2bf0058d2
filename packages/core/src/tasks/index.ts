/**
 * Tasks: named messages with payload schemas, routed by the topology; the client that sends them
 * and the worker that runs them (and any other consumers: {@link ConsumerMixin}).
 *
 * @module
 */
export {
  type CallOptions,
  DEFAULT_CALL_TIMEOUT_MS,
  TaskClient,
  type TaskClientOptions,
  type TaskDestination,
} from './client.js';
export { type GenerateTaskTypesOptions, generateTaskTypes } from './codegen.js';
export { deadLetterQueuesOf } from './dead-letter-queues.js';
export {
  type DeadLetter,
  type DeadLetterFilter,
  describeDeadLetter,
  REPLAY_HEADER,
  replayHeaders,
} from './dead-letter-record.js';
export {
  type DeadLetterDetail,
  type DeadLetterList,
  type DeadLetterMove,
  DeadLetterNotFoundError,
  type DeadLetterProgress,
  type DeadLetterPurgeOptions,
  type DeadLetterReplayOptions,
  type DeadLetterRunResult,
  type DeadLetterScope,
  type DeadLetterSkipReason,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetters,
  showDeadLetter,
} from './dead-letters.js';
export { delayBucket, delayQueue } from './delay.js';
export type { EventLoopStatus, EventLoopWatchOptions } from './event-loop-watch.js';
export { FROM_SCHEMA_MAX_DEPTH, type FromSchema } from './from-schema.js';
export type { HealthServer, HealthServerOptions } from './health-server.js';
export {
  DEFAULT_PRIORITY_SCALE,
  type DeadLetterReason,
  type PriorityClassRange,
  priorityClassRanges,
  TASK_HEADERS,
} from './protocol.js';
export { DIRECT_REPLY_TO, type TaskReply } from './replies.js';
export { SYSTEM_TIMERS, type Timers } from './schedule/clock.js';
export {
  DEFAULT_LEASE_CHECK_MS,
  SCHEDULE_HEADERS,
  type ScheduleEvent,
  type SchedulerOptions,
} from './schedule/scheduler.js';
export { slotId } from './schedule/slots.js';
export { type ScheduleGroupStatus, type ScheduleStatus, scheduleStatus } from './schedule/status.js';
export { TaskProtocolError } from './task-protocol-error.js';
export type {
  SendOptions,
  TaskContext,
  TaskHandler,
  TaskHandlers,
  TaskName,
  TaskPayloads,
  TaskPriority,
} from './types.js';
export {
  type ConsumerContext,
  ConsumerMixin,
  type ConsumerMixinOptions,
  type ConsumerSpec,
  DEFAULT_CONCURRENCY,
  DEFAULT_DEAD_LETTER_QUEUE,
  DEFAULT_STOP_DEADLINE_MS,
  type ObservedScheduleEvent,
  type ObservedTask,
  type QueueError,
  type QueueHealth,
  type TaskEvent,
  Worker,
  type WorkerHealth,
  type WorkerObserver,
  type WorkerOptions,
} from './worker.js';
export type { QueueDepthOptions } from './worker-metrics.js';

import type { TopologyDocument } from '../topology/document.js';
import type { TaskHandlers } from './types.js';

/** Typed handlers for a `defineTopology(...)` value: a wrong task name or payload use fails to compile. */
export function defineWorker<const T extends TopologyDocument>(
  _topology: T,
  handlers: TaskHandlers<T>,
): TaskHandlers<T> {
  return handlers;
}
