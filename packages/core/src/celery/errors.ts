/**
 * The errors of Celery interop, each with a stable `code`.
 *
 * @module
 */
import { WakameError } from '../errors.js';

/** A message that is not a Celery protocol v2 task (v1 bodies, missing headers, a body of the wrong shape). */
export class CeleryProtocolError extends WakameError {
  override readonly name = 'CeleryProtocolError';
  readonly code = 'ERR_CELERY_PROTOCOL';
}

/**
 * A Celery task ended in FAILURE (or REVOKED): the remote exception's type and message as Celery stored
 * them, and its traceback as text.
 */
export class CeleryTaskError extends WakameError {
  override readonly name = 'CeleryTaskError';
  readonly code = 'ERR_CELERY_TASK_FAILED';
  /** The task's id. */
  readonly taskId: string;
  /** The final state: `FAILURE` or `REVOKED`. */
  readonly state: string;
  /** The exception's type name, e.g. `ValueError`. */
  readonly excType: string;
  /** The exception's module, e.g. `builtins`, when the other side said. */
  readonly excModule: string | undefined;
  /** The exception's message (its arguments joined). */
  readonly excMessage: string;
  /** The remote traceback, as text. */
  readonly traceback: string | undefined;

  constructor(fields: {
    taskId: string;
    state: string;
    excType: string;
    excModule?: string | undefined;
    excMessage: string;
    traceback?: string | undefined;
  }) {
    super(`Celery task ${fields.taskId} ${fields.state}: ${fields.excType}: ${fields.excMessage}`);
    this.taskId = fields.taskId;
    this.state = fields.state;
    this.excType = fields.excType;
    this.excModule = fields.excModule;
    this.excMessage = fields.excMessage;
    this.traceback = fields.traceback;
  }
}

/** No result arrived in time; the task may still run. */
export class CeleryResultTimeoutError extends WakameError {
  override readonly name = 'CeleryResultTimeoutError';
  readonly code = 'ERR_CELERY_RESULT_TIMEOUT';
  override readonly retriable = true;
}

/**
 * A task ran past its time limit (Celery's `time_limit`, or `soft_time_limit` when the handler gave up
 * on its signal): stored as Celery's own `TimeLimitExceeded` / `SoftTimeLimitExceeded`. The handler's
 * signal is aborted; a handler that ignores it keeps running, but its outcome is no longer recorded.
 */
export class CeleryTimeLimitError extends WakameError {
  override readonly name: string;
  readonly code = 'ERR_CELERY_TIME_LIMIT';
  /** The Python module of the exception Celery raises for it. */
  readonly excModule: string;

  constructor(kind: 'hard' | 'soft', seconds: number) {
    super(`${kind === 'hard' ? 'TimeLimitExceeded' : 'SoftTimeLimitExceeded'}(${seconds})`);
    this.name = kind === 'hard' ? 'TimeLimitExceeded' : 'SoftTimeLimitExceeded';
    this.excModule = kind === 'hard' ? 'billiard.exceptions' : 'celery.exceptions';
  }
}

/** A Celery feature Wakame does not support yet (a chord in a chain a Wakame worker continues). */
export class CeleryUnsupportedError extends WakameError {
  override readonly name = 'CeleryUnsupportedError';
  readonly code = 'ERR_CELERY_UNSUPPORTED';
}
