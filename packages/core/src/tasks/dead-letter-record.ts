/**
 * What one dead letter says about itself, read from its headers whoever dead-lettered it: the worker
 * (`x-dead-letter-reason`, see {@link TASK_HEADERS}) or the broker (RabbitMQ's `x-death` history, which the
 * virtual transport writes the same way). Also the headers a replayed copy travels with.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Message } from '../messaging/message.js';
import { TASK_HEADERS } from './protocol.js';

/** The header a replayed message carries: what happened to it before, since its dead-letter history is removed. */
export const REPLAY_HEADER = 'x-replayed';

/** One message in a dead-letter queue, as {@link listDeadLetters} reports it. */
export interface DeadLetter {
  /**
   * What replay counts by: the message id, else the task's `id` header, else `sha256:` and a digest of the body
   * and headers (the same for the same message in every run, so `show` and `replay` can name it).
   */
  readonly id: string;
  /** The task name (`task` header or `type` property), when it was a task. */
  readonly task?: string;
  /** The worker's reason (`failed`, `unknown-task`, …) or the broker's (`rejected`, `expired`, `maxlen`, …). */
  readonly reason: string;
  /** Who dead-lettered it: the worker (with a reason header) or the broker (`x-death`). */
  readonly by: 'worker' | 'broker';
  /** The queue it died in: where `replay` sends it back to by default. */
  readonly queue: string;
  /** Exchange and routing key it had been published with before it died there (`replay` with `to: 'origin'`). */
  readonly origin: { readonly exchange: string; readonly routingKey: string };
  /** When it was dead-lettered (ISO 8601), when the headers say. */
  readonly deadLetteredAt?: string;
  /** Attempts made, when the worker counted them. */
  readonly attempts?: number;
  /** The last error, when the worker recorded one. */
  readonly error?: { readonly name: string; readonly message: string };
  /** How many times it was replayed before. */
  readonly replays: number;
  readonly bodySize: number;
}

/** Which dead letters an operation applies to; every given field must match. */
export interface DeadLetterFilter {
  /** Only this task. */
  readonly task?: string;
  /** Only this reason (see {@link DeadLetter.reason}). */
  readonly reason?: string;
  /** Only those dead-lettered at or after this time; a number is milliseconds before now. */
  readonly since?: Date | number;
  /** Only these ids. */
  readonly ids?: readonly string[];
}

/** One `x-death` entry as RabbitMQ (and the virtual transport) writes it; `time` arrives as seconds or a Date. */
interface DeathEntry {
  readonly reason?: unknown;
  readonly queue?: unknown;
  readonly exchange?: unknown;
  readonly 'routing-keys'?: unknown;
  readonly time?: unknown;
}

/** Reads a dead letter's headers. */
export function describeDeadLetter(message: Message): DeadLetter {
  const headers = message.headers;
  const task = str(headers[TASK_HEADERS.task]) ?? str(message.properties.type);
  const replays = Number(asRecord(headers[REPLAY_HEADER])?.count ?? 0) || 0;
  const base = {
    id: idOf(message),
    ...(task !== undefined ? { task } : {}),
    replays,
    bodySize: message.bodySize,
  };
  const byWorker = asRecord(headers[TASK_HEADERS.deadLetterReason]);
  // The worker's header wins: a retried task also carries x-death entries from its delay queue, older than this.
  if (byWorker !== undefined) {
    const queue = str(byWorker.queue) ?? message.queue;
    const error = asRecord(byWorker.error);
    const attempts = Number(byWorker.attempts);
    const at = str(byWorker.deadLetteredAt);
    return {
      ...base,
      reason: str(byWorker.reason) ?? 'unknown',
      by: 'worker',
      queue,
      // The worker consumed it from `queue`; how it had reached that queue is not recorded.
      origin: { exchange: '', routingKey: queue },
      ...(at !== undefined ? { deadLetteredAt: at } : {}),
      ...(Number.isInteger(attempts) ? { attempts } : {}),
      ...(error !== undefined
        ? { error: { name: String(error.name ?? 'Error'), message: String(error.message ?? '') } }
        : {}),
    };
  }
  const deaths = Array.isArray(headers['x-death']) ? (headers['x-death'] as DeathEntry[]) : [];
  // x-death is most recent first: the latest death is the queue the message was in just before this one.
  // (The first death can be a delay queue it expired from on its way, which is not where it should go back.)
  const latest = deaths[0];
  const queue = str(latest?.queue) ?? str(headers['x-last-death-queue']) ?? message.queue;
  const routingKeys = Array.isArray(latest?.['routing-keys']) ? (latest['routing-keys'] as unknown[]) : [];
  const at = deathTime(latest?.time);
  return {
    ...base,
    reason: str(latest?.reason) ?? str(headers['x-last-death-reason']) ?? 'unknown',
    by: 'broker',
    queue,
    origin: {
      exchange: str(latest?.exchange) ?? str(headers['x-last-death-exchange']) ?? '',
      routingKey: str(routingKeys[0]) ?? queue,
    },
    ...(at !== undefined ? { deadLetteredAt: at } : {}),
  };
}

/** Whether `record` passes `filter`; `now` in epoch ms. */
export function matchesFilter(record: DeadLetter, filter: DeadLetterFilter, now: number): boolean {
  if (filter.task !== undefined && record.task !== filter.task) return false;
  if (filter.reason !== undefined && record.reason !== filter.reason) return false;
  if (filter.ids !== undefined && !filter.ids.includes(record.id)) return false;
  if (filter.since !== undefined) {
    const since = typeof filter.since === 'number' ? now - filter.since : filter.since.getTime();
    // A dead letter that does not say when it died is not known to be recent: left out.
    if (record.deadLetteredAt === undefined || Date.parse(record.deadLetteredAt) < since) return false;
  }
  return true;
}

/** The headers dead-letter and expiry bookkeeping lives in; none of them travels with a replayed copy. */
const DEATH_HEADERS = [
  'x-death',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-first-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-last-death-exchange',
  TASK_HEADERS.deadLetterReason,
  TASK_HEADERS.lastError,
  // A replay is an operator's decision to run it now: a task that expired would otherwise expire again at once.
  TASK_HEADERS.expiresAt,
] as const;

/**
 * The headers of a replayed copy: the death bookkeeping removed (RabbitMQ reads `x-death` to break dead-letter
 * cycles, and the worker would count the old attempts), the attempt counter back at 1 for a task, and what it
 * went through summed up in {@link REPLAY_HEADER}: `{ count, at, from, queue, reason, deadLetteredAt?,
 * attempts?, error? }` of the latest dead-lettering.
 */
export function replayHeaders(message: Message, record: DeadLetter, from: string, now: Date): Record<string, unknown> {
  const headers: Record<string, unknown> = { ...message.headers };
  for (const name of DEATH_HEADERS) delete headers[name];
  if (TASK_HEADERS.attempt in headers) headers[TASK_HEADERS.attempt] = 1;
  headers[REPLAY_HEADER] = {
    count: record.replays + 1,
    at: now.toISOString(),
    from,
    queue: record.queue,
    reason: record.reason,
    ...(record.deadLetteredAt !== undefined ? { deadLetteredAt: record.deadLetteredAt } : {}),
    ...(record.attempts !== undefined ? { attempts: record.attempts } : {}),
    ...(record.error !== undefined ? { error: record.error } : {}),
  };
  return headers;
}

function idOf(message: Message): string {
  const id = str(message.properties.messageId) ?? str(message.headers[TASK_HEADERS.id]);
  if (id !== undefined) return id;
  const hash = createHash('sha256');
  hash.update(message.rawBody);
  hash.update(
    JSON.stringify(message.headers, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)),
  );
  return `sha256:${hash.digest('hex').slice(0, 24)}`;
}

function deathTime(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  const seconds = Number(typeof value === 'object' && value !== null && 'value' in value ? value.value : value);
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000).toISOString() : undefined;
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
