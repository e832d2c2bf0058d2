// Errors of tasks and of the worker that runs them (its health server, its scheduler).

import { InvalidArgumentError } from './usage.js';
import { WakameError } from './wakame-error.js';

/** A task name the topology does not define. */
export class UnknownTaskError extends InvalidArgumentError {
  override readonly name = 'UnknownTaskError';
  override readonly code = 'ERR_UNKNOWN_TASK';
  constructor(
    readonly task: string,
    known: readonly string[],
  ) {
    super(
      `unknown task '${task}'${known.length ? `; the topology defines ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}` : ''}`,
    );
  }
}

/** A task payload that does not match the task's JSON Schema; `issues` lists every mismatch. */
export class InvalidPayloadError extends InvalidArgumentError {
  override readonly name = 'InvalidPayloadError';
  override readonly code = 'ERR_INVALID_PAYLOAD';
  constructor(
    readonly task: string,
    readonly issues: readonly { readonly path: string; readonly message: string }[],
  ) {
    super(`payload of task '${task}' is invalid: ${issues.map(describeIssue).join('; ')}`);
  }
}

/** `'items[0].id' at /items/0/id must be string`, or `the payload must be object` for the payload itself. */
function describeIssue({ path, message }: { readonly path: string; readonly message: string }): string {
  if (path === '' || path === '/') return `the payload ${message}`;
  const field = path
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`))
    .join('');
  return `'${field}' at ${path} ${message}`;
}

/** A task run by `call()` failed on the worker (after its retries); `remote` carries the worker's error. */
export class TaskFailedError extends WakameError {
  override readonly name = 'TaskFailedError';
  readonly code = 'ERR_TASK_FAILED';
  constructor(
    readonly task: string,
    readonly remote: { readonly name: string; readonly message: string },
  ) {
    super(`task '${task}' failed: ${remote.name}: ${remote.message}`);
  }
}

/** A worker's health server could not start (its port is taken, its host is not this machine's, …). */
export class HealthServerError extends WakameError {
  override readonly name = 'HealthServerError';
  readonly code = 'ERR_HEALTH_SERVER';
}

/**
 * A worker cannot run the topology's schedules: its transport keeps no lease on the broker (on
 * RabbitMQ the schedules' state lives behind the management API, as `apply`'s stack records do), or
 * a schedule cannot be sent (its payload does not fit its task).
 */
export class SchedulerError extends WakameError {
  override readonly name = 'SchedulerError';
  readonly code = 'ERR_SCHEDULER';
}
