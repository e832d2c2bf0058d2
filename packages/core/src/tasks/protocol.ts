/**
 * How a task travels: a JSON body (the payload) and a few headers. Names follow Celery's protocol
 * where one exists (`task`, `id`), so tools that read Celery headers recognise them.
 *
 * @module
 */
import type { CompiledTask, DesiredTopology } from '../topology/desired.js';
import type { MessageProperties } from '../transport/spi.js';

/** Header names. */
export const TASK_HEADERS = Object.freeze({
  /** The task name. */
  task: 'task',
  /** The task id (also the message id and the RPC correlation id). */
  id: 'id',
  /** 1 on the first delivery, incremented by each retry. */
  attempt: 'x-attempt',
  /** When the first attempt was sent (ISO 8601). */
  firstSentAt: 'x-first-sent-at',
  /** The error of the previous attempt: `{ name, message }`. */
  lastError: 'x-last-error',
  /** Epoch ms after which the task must not start. */
  expiresAt: 'x-expires-at',
  /** Why a message was dead-lettered by the worker: `{ reason, task, error?, attempts, … }`. */
  deadLetterReason: 'x-dead-letter-reason',
  /** W3C trace context (OpenTelemetry-compatible), carried as is. */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
});

/** Why the worker dead-lettered a message. */
export type DeadLetterReason = 'unknown-task' | 'invalid-payload' | 'undecodable' | 'failed' | 'expired' | 'no-handler';

/** Where a task goes: through its route, or to the queue of a priority class. */
export function resolveDestination(
  topology: DesiredTopology,
  task: CompiledTask,
  priorityClass: string | undefined,
): { exchange: string; routingKey: string } | undefined {
  const route = task.route;
  if (!route) return undefined;
  if (priorityClass === undefined) return route;
  const queue = topology.priorityClasses[priorityClass];
  if (queue === undefined) return undefined;
  if (route.exchange === '') return { exchange: '', routingKey: queue };
  const binding = topology.bindings.find(
    (b) => b.source === route.exchange && b.destinationType === 'queue' && b.destination === queue,
  );
  return binding ? { exchange: route.exchange, routingKey: binding.routingKey } : undefined;
}

/** Reads the attempt number of a delivery (1 when absent or malformed). */
export function attemptOf(properties: MessageProperties): number {
  const value = Number(properties.headers?.[TASK_HEADERS.attempt]);
  return Number.isInteger(value) && value >= 1 ? value : 1;
}

/** The backoff before attempt `next` (2, 3, …) of `task`: exponential, capped, jittered. */
export function retryDelay(task: CompiledTask, next: number, random: () => number = Math.random): number {
  const { initialDelay, factor, maxDelay, jitter } = task.retry;
  const base = Math.min(maxDelay, initialDelay * factor ** Math.max(0, next - 2));
  return Math.round(base * (1 - jitter + jitter * random()));
}
