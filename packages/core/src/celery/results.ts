/**
 * Celery's task states and result records, and the interface of a result backend. A record is what
 * Celery's backends store or send for a task: its state, its return value or exception, the
 * traceback as text. The same record travels over `rpc://` (a message to the sender's reply queue)
 * and sits under `celery-task-meta-<id>` in a Redis backend.
 *
 * @module
 */
import { CeleryTaskError } from './errors.js';
import { celeryTime } from './protocol.js';

/** Celery's task states. PENDING means "unknown" as well: Celery cannot tell a waiting task from a lost one. */
export type CeleryState = 'PENDING' | 'RECEIVED' | 'STARTED' | 'SUCCESS' | 'FAILURE' | 'RETRY' | 'REVOKED';

/** States after which nothing changes. */
export const READY_STATES: ReadonlySet<string> = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);

/** How Celery stores an exception (`prepare_exception` with a non-pickle serializer). */
export interface CeleryExceptionInfo {
  readonly exc_type: string;
  readonly exc_message: unknown;
  readonly exc_module: string | null;
}

/** One result record. */
export interface CeleryResultMeta {
  readonly task_id: string;
  readonly status: CeleryState;
  /** The return value on SUCCESS; a {@link CeleryExceptionInfo} on FAILURE, RETRY and REVOKED. */
  readonly result: unknown;
  readonly traceback: string | null;
  readonly children: readonly unknown[];
  readonly date_done?: string | null;
  readonly parent_id?: string;
}

/** Where a record goes for a task: the `rpc://` backend needs the message's reply queue. */
export interface CeleryResultTarget {
  readonly taskId: string;
  readonly replyTo: string;
  readonly correlationId: string;
}

/**
 * A Celery result backend: workers store records, clients wait for them. Implementations:
 * {@link RpcResultBackend} (`rpc://`, over the broker connection) and `CeleryRedisResultBackend`
 * in `@wakame/transports/redis`.
 */
export interface CeleryResultBackend {
  /** The URL Celery would name it by (`rpc://`, `redis://…`). */
  readonly url: string;
  /** Before a client sends: where results should come back (the `reply_to` of the task message). */
  replyTo(): Promise<string>;
  /** Stores (or sends) a record. */
  store(target: CeleryResultTarget, meta: CeleryResultMeta): Promise<void>;
  /** Resolves with the task's first ready record (SUCCESS, FAILURE, REVOKED); rejects on timeout. */
  waitFor(taskId: string, timeoutMs: number): Promise<CeleryResultMeta>;
  /** The latest known record's state; PENDING when there is none. */
  state(taskId: string): Promise<CeleryState>;
  close(): Promise<void>;
}

/** Python's names for JavaScript's built-in error types, so Python re-raises a familiar class. */
const PYTHON_TYPES: Readonly<Record<string, string>> = {
  Error: 'Exception',
  TypeError: 'TypeError',
  RangeError: 'ValueError',
  SyntaxError: 'SyntaxError',
  ReferenceError: 'NameError',
};

/** Python built-in exception names a handler may use as `error.name` to be re-raised as that class. */
const PYTHON_BUILTINS = new Set([
  'Exception',
  'ValueError',
  'TypeError',
  'KeyError',
  'IndexError',
  'RuntimeError',
  'ZeroDivisionError',
  'LookupError',
  'ArithmeticError',
  'NotImplementedError',
  'PermissionError',
  'TimeoutError',
  'SyntaxError',
  'NameError',
]);

/**
 * How a JavaScript error is stored for Python: JavaScript's built-in types map to Python's
 * (`RangeError` → `ValueError`), an `error.name` that is a Python built-in (`ValueError`, `KeyError`)
 * is kept with module `builtins`, any other name is sent without a module, so Python makes a class of
 * that name.
 */
export function exceptionInfo(error: unknown): CeleryExceptionInfo {
  if (!(error instanceof Error)) return { exc_type: 'Exception', exc_message: [String(error)], exc_module: 'builtins' };
  const type = PYTHON_TYPES[error.name] ?? error.name;
  // An error may name its Python module itself (Celery's own exceptions do).
  const own = (error as { excModule?: unknown }).excModule;
  return {
    exc_type: type,
    exc_message: [error.message],
    exc_module: typeof own === 'string' ? own : PYTHON_BUILTINS.has(type) ? 'builtins' : null,
  };
}

/** The traceback Celery shows for a JavaScript error: its stack. */
export function tracebackOf(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}

/** The text of a stored `exc_message` (Celery stores the exception's arguments as a list). */
export function messageText(message: unknown): string {
  if (Array.isArray(message))
    return message.map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join(', ');
  return typeof message === 'string' ? message : JSON.stringify(message ?? '');
}

/** The error a FAILURE or REVOKED record stands for. */
export function errorOf(meta: CeleryResultMeta): CeleryTaskError {
  const info = (
    typeof meta.result === 'object' && meta.result !== null ? meta.result : {}
  ) as Partial<CeleryExceptionInfo>;
  return new CeleryTaskError({
    taskId: meta.task_id,
    state: meta.status,
    excType: typeof info.exc_type === 'string' ? info.exc_type : 'Exception',
    excModule: typeof info.exc_module === 'string' ? info.exc_module : undefined,
    excMessage: messageText(info.exc_message),
    traceback: meta.traceback ?? undefined,
  });
}

/** A record for `status`, as Celery's backends write it. */
export function resultMeta(
  taskId: string,
  status: CeleryState,
  result: unknown,
  extra: { traceback?: string | null; parentId?: string | null } = {},
): CeleryResultMeta {
  return {
    task_id: taskId,
    status,
    result,
    traceback: extra.traceback ?? null,
    children: [],
    date_done: READY_STATES.has(status) ? celeryTime(new Date()).replace('+00:00', '') : null,
    ...(extra.parentId ? { parent_id: extra.parentId } : {}),
  };
}
