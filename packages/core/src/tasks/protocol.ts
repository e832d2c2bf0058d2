/**
 * How a task travels: a JSON body (the payload) and a few headers. Names follow Celery's protocol
 * where one exists (`task`, `id`), so tools that read Celery headers recognise them.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { PublishOptions } from '../messaging/producer.js';
import { MAX_PRIORITY } from '../model/queue-arguments.js';
import type { CompiledTask, DesiredTopology } from '../topology/desired.js';
import type { MessageProperties } from '../transport/spi.js';
import type { SendOptions } from './types.js';

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

/** Why the worker dead-lettered a message (`too-large`: the body is over the connection's `maxBodyBytes`). */
export type DeadLetterReason =
  | 'unknown-task'
  | 'invalid-payload'
  | 'undecodable'
  | 'too-large'
  | 'failed'
  | 'expired'
  | 'no-handler';

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

/** The top of the scale numeric priorities are mapped onto classes with, when no class queue has a `maxPriority`: Celery's 0–9. */
export const DEFAULT_PRIORITY_SCALE = 9;

/** The numeric priorities that select one priority class. */
export interface PriorityClassRange {
  readonly name: string;
  readonly queue: string;
  readonly min: number;
  readonly max: number;
}

/**
 * Which numeric priority selects which class: the classes (in declaration order, highest first)
 * split `0..top` into equal bands, `top` being the highest `maxPriority` among their queues (9 when
 * none has one); the lowest class takes the lowest band, the highest class everything from its band
 * up to 255. With high/mid/low and top 9: low 0–3, mid 4–6, high 7–255.
 */
export function priorityClassRanges(topology: DesiredTopology): readonly PriorityClassRange[] {
  const names = Object.keys(topology.priorityClasses);
  const queues = new Set(Object.values(topology.priorityClasses));
  let top = 0;
  for (const q of topology.queues) if (queues.has(q.name)) top = Math.max(top, q.maxPriority ?? 0);
  if (top === 0) top = DEFAULT_PRIORITY_SCALE;
  const n = names.length;
  // Band k (0 = lowest) holds the p with floor(p * n / (top + 1)) = k.
  const start = (k: number) => Math.ceil((k * (top + 1)) / n);
  return names.map((name, i) => {
    const k = n - 1 - i;
    return {
      name,
      queue: topology.priorityClasses[name] as string,
      min: start(k),
      max: k === n - 1 ? MAX_PRIORITY : start(k + 1) - 1,
    };
  });
}

/** Where one send goes: its priority class (if any) and its message priority (if any). */
export interface ResolvedPriority {
  readonly priorityClass?: string;
  readonly messagePriority?: number;
}

/**
 * Reads `priority` and `messagePriority` of a send against the task and the topology:
 * - a class name picks the class; `messagePriority` orders within it;
 * - a number is the message priority; for a task that goes by priority class it also picks the
 *   class whose range (see {@link priorityClassRanges}) holds it, so it never bypasses the classes;
 * - nothing: the task's own class or number, and `messagePriority` if given.
 *
 * @throws {@link InvalidArgumentError} for an unknown class, or a number given both ways differently.
 */
export function resolvePriority(
  topology: DesiredTopology,
  task: CompiledTask,
  options: Pick<SendOptions, 'priority' | 'messagePriority'>,
): ResolvedPriority {
  const { priority, messagePriority } = options;
  if (typeof priority === 'string') {
    if (!Object.hasOwn(topology.priorityClasses, priority)) {
      const known = Object.keys(topology.priorityClasses);
      throw new InvalidArgumentError(
        `unknown priority class '${priority}' for task '${task.name}'; the topology defines ${known.join(', ') || 'none'}`,
      );
    }
    return messagePriority === undefined ? { priorityClass: priority } : { priorityClass: priority, messagePriority };
  }
  if (typeof priority === 'number') {
    if (messagePriority !== undefined && messagePriority !== priority) {
      const classes = Object.keys(topology.priorityClasses).join(', ') || 'none defined';
      throw new InvalidArgumentError(
        `priority ${priority} and message priority ${messagePriority} disagree: name the class (${classes}) as the priority, with message priority ${messagePriority}`,
      );
    }
    if (task.priorityClass === undefined) return { messagePriority: priority };
    // Not in any range (not a whole number 0–255): the producer refuses it; keep the task's class meanwhile.
    const range = priorityClassRanges(topology).find((r) => priority >= r.min && priority <= r.max);
    return { priorityClass: range?.name ?? task.priorityClass, messagePriority: priority };
  }
  const ownPriority = messagePriority ?? task.priority;
  const resolved: { priorityClass?: string; messagePriority?: number } = {};
  if (task.priorityClass !== undefined) resolved.priorityClass = task.priorityClass;
  if (ownPriority !== undefined) resolved.messagePriority = ownPriority;
  return resolved;
}

/**
 * The one place a task message's properties are decided: destination, task headers, id, type,
 * priority, expiration (when not delayed: a delayed message's expiration is its delay) and the RPC
 * correlation. The producer turns them into wire properties; a delayed send redirects them to its
 * delay queue.
 */
export function taskPublishOptions(
  name: string,
  id: string,
  options: SendOptions,
  target: { readonly exchange: string; readonly routingKey: string; readonly messagePriority?: number },
  delayMs: number,
  replyTo: string | undefined,
): PublishOptions {
  const headers: Record<string, unknown> = {
    ...options.headers,
    [TASK_HEADERS.task]: name,
    [TASK_HEADERS.id]: id,
    [TASK_HEADERS.attempt]: 1,
    [TASK_HEADERS.firstSentAt]: new Date().toISOString(),
  };
  if (options.expires !== undefined) headers[TASK_HEADERS.expiresAt] = Date.now() + delayMs + options.expires;
  // Built field by field: this runs once per task sent.
  const o: { -readonly [K in keyof PublishOptions]: PublishOptions[K] } = {
    exchange: target.exchange,
    routingKey: target.routingKey,
    serializer: 'json',
    headers,
    messageId: id,
    type: name,
    mandatory: true,
  };
  if (target.messagePriority !== undefined) o.priority = target.messagePriority;
  if (options.expires !== undefined && delayMs === 0) o.expiration = options.expires;
  if (replyTo !== undefined) {
    o.replyTo = replyTo;
    o.correlationId = id;
  }
  if (options.compression !== undefined) o.compression = options.compression;
  if (options.signal !== undefined) o.signal = options.signal;
  if (options.transaction !== undefined) o.transaction = options.transaction;
  return o;
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
