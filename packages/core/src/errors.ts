/**
 * The one error hierarchy of Wakame. Every error has a stable {@link WakameError.code} (match on it,
 * never on messages) and a {@link WakameError.retriable} flag that retry policies read.
 *
 * Transport errors also say how far recovery must reach ({@link TransportError.recovery}):
 * `'connection'` (reconnect), `'channel'` (reopen the channel only) or `'none'` (retrying is pointless).
 *
 * @module
 */

/** How much must be rebuilt before an operation that failed with this error can be retried. */
export type RecoveryScope = 'connection' | 'channel' | 'none';

/** Base class of every error Wakame throws. */
export abstract class WakameError extends Error {
  /** Stable machine-readable identifier, e.g. `'ERR_TOPOLOGY_CONFLICT'`. */
  abstract readonly code: string;
  /** Whether retrying the same operation may succeed. */
  readonly retriable: boolean = false;
}

/** A caller passed a value that can never work (bad option, malformed name). */
export class InvalidArgumentError extends WakameError {
  override readonly name: string = 'InvalidArgumentError';
  readonly code: string = 'ERR_INVALID_ARGUMENT';
}

/** An operation was called in a state that does not allow it (iterate twice, publish after close). */
export class InvalidOperationError extends WakameError {
  override readonly name: string = 'InvalidOperationError';
  readonly code: string = 'ERR_INVALID_OPERATION';
}

/** A broker URL that cannot be parsed. The message never contains the password. */
export class InvalidUrlError extends InvalidArgumentError {
  override readonly name = 'InvalidUrlError';
  override readonly code = 'ERR_INVALID_URL';
}

/** No transport is registered for a URL scheme. */
export class UnknownTransportError extends InvalidArgumentError {
  override readonly name = 'UnknownTransportError';
  override readonly code = 'ERR_UNKNOWN_TRANSPORT';
  constructor(
    readonly scheme: string,
    readonly known: readonly string[],
  ) {
    super(`no transport for scheme '${scheme}:'; known schemes: ${known.join(', ')}`);
  }
}

/**
 * A transport is registered but its module could not be loaded (package not installed). The message ends with the
 * command that installs what is missing, for the package manager in use (`npm install @wakame/transports ioredis`,
 * `pnpm add …`, `yarn add …`, `bun add …`).
 */
export class TransportNotInstalledError extends WakameError {
  override readonly name = 'TransportNotInstalledError';
  readonly code = 'ERR_TRANSPORT_NOT_INSTALLED';
  /** The packages to install, e.g. `['@wakame/transports', 'ioredis']` for `redis:` without `@wakame/transports`. */
  readonly packages: readonly string[];
  /** The command that installs {@link TransportNotInstalledError.packages}, e.g. `npm install @wakame/transports ioredis`. */
  readonly installCommand: string;
  /** @param hint - What to install and how; the registry works it out (see `transport/install-hint.ts`). */
  constructor(
    readonly scheme: string,
    readonly moduleName: string,
    hint: { readonly packages: readonly string[]; readonly installCommand: string },
    options?: ErrorOptions,
  ) {
    super(
      `the '${scheme}' transport needs the module '${moduleName}', which could not be loaded; install it: ${hint.installCommand}`,
      options,
    );
    this.packages = hint.packages;
    this.installCommand = hint.installCommand;
  }
}

/** A declaration was used for a broker operation before being attached to a connection (kombu's NotBoundError). */
export class NotBoundError extends WakameError {
  override readonly name = 'NotBoundError';
  readonly code = 'ERR_NOT_BOUND';
}

/** Settling a message that is already settled, or that cannot be settled. */
export class MessageStateError extends WakameError {
  override readonly name = 'MessageStateError';
  readonly code = 'ERR_MESSAGE_STATE';
}

// ---------------------------------------------------------------------------------------------
// Topology

/** Base of errors about exchanges, queues and bindings. */
export class TopologyError extends WakameError {
  override readonly name: string = 'TopologyError';
  readonly code: string = 'ERR_TOPOLOGY';
}

/** One problem found while validating a topology document. */
export interface TopologyIssue {
  /** JSON pointer into the document, e.g. `/queues/0/maxPriority`. */
  readonly path: string;
  readonly message: string;
  /** The schema keyword (`required`, `type`, …) or the semantic rule id (`dangling-reference`, …). */
  readonly keyword?: string;
  /** Errors fail validation; warnings are reported and do not. @defaultValue 'error' */
  readonly severity?: 'error' | 'warning';
  /** Where it is in the source, when the document came from a file. */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** The offending source line, for display with a caret under `column`. */
  readonly sourceLine?: string;
}

/** A topology document failed validation; every issue found is listed, not only the first. */
export class TopologyValidationError extends TopologyError {
  override readonly name = 'TopologyValidationError';
  override readonly code = 'ERR_TOPOLOGY_VALIDATION';
  constructor(
    readonly issues: readonly TopologyIssue[],
    options?: ErrorOptions,
  ) {
    super(
      issues
        .map((i) => `${i.file ? `${i.file}:${i.line ?? 0}:${i.column ?? 0}: ` : ''}${i.path || '/'}: ${i.message}`)
        .join('\n'),
      options,
    );
  }
}

/** What kind of entity an error is about. */
export type EntityKind = 'exchange' | 'queue' | 'binding';

/** A re-declaration differs from what exists (AMQP 406 PRECONDITION_FAILED; kombu NotEquivalentError). */
export class TopologyConflictError extends TopologyError {
  override readonly name = 'TopologyConflictError';
  override readonly code = 'ERR_TOPOLOGY_CONFLICT';
  constructor(
    readonly entity: { readonly kind: EntityKind; readonly name: string },
    /** Property names whose values differ, when known. */
    readonly differences: readonly { property: string; expected: unknown; actual: unknown }[],
    options?: ErrorOptions & { message?: string },
  ) {
    const what = differences
      .map((d) => `${d.property}: declared ${fmt(d.expected)}, exists as ${fmt(d.actual)}`)
      .join('; ');
    super(
      options?.message ??
        `${entity.kind} '${entity.name}' already exists with different properties${what ? ` (${what})` : ''}`,
      options,
    );
  }
}

/** The operation needs a feature the transport does not have (e.g. headers exchanges). */
export class UnsupportedFeatureError extends TopologyError {
  override readonly name = 'UnsupportedFeatureError';
  override readonly code = 'ERR_UNSUPPORTED_FEATURE';
  constructor(
    readonly feature: string,
    readonly transport: string,
  ) {
    super(`the ${transport} transport does not support ${feature}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Serialization

/** Base of encoding/decoding failures. */
export class SerializationError extends WakameError {
  override readonly name: string = 'SerializationError';
  readonly code: string = 'ERR_SERIALIZATION';
}

/** A body could not be serialized or compressed. */
export class EncodeError extends SerializationError {
  override readonly name = 'EncodeError';
  override readonly code = 'ERR_ENCODE';
}

/** A body could not be decompressed or deserialized. */
export class DecodeError extends SerializationError {
  override readonly name: string = 'DecodeError';
  override readonly code: string = 'ERR_DECODE';
}

/** kombu's content type for Python pickle, which no Wakame serializer decodes. */
const PICKLE_CONTENT_TYPE = 'application/x-python-serialize';

/** A message's content type is not in the consumer's `accept` whitelist. */
export class ContentNotAcceptedError extends DecodeError {
  override readonly name = 'ContentNotAcceptedError';
  override readonly code = 'ERR_CONTENT_NOT_ACCEPTED';
  constructor(
    readonly contentType: string,
    readonly accepted: readonly string[],
  ) {
    super(
      `refusing to decode content type '${contentType || '(none)'}': accepted are ${accepted.join(', ') || '(nothing)'}${
        contentType === PICKLE_CONTENT_TYPE
          ? " (pickle runs code from the message and is never decoded: have the sender use serializer='json')"
          : ''
      }`,
    );
  }
}

/** A serializer or compression name (or content type) that is not registered. */
export class UnknownSerializerError extends SerializationError {
  override readonly name = 'UnknownSerializerError';
  override readonly code = 'ERR_UNKNOWN_SERIALIZER';
}

/**
 * A compression method whose codec is an optional dependency that is not installed (bzip2, lzma/xz
 * and zstd ship as optional dependencies of `@wakame/core`). The message ends with the command that
 * installs it.
 */
export class CompressionNotInstalledError extends SerializationError {
  override readonly name = 'CompressionNotInstalledError';
  override readonly code = 'ERR_COMPRESSION_NOT_INSTALLED';
  /** The command that installs {@link CompressionNotInstalledError.packages}, e.g. `npm install seek-bzip`. */
  readonly installCommand: string;
  constructor(
    readonly compression: string,
    readonly packages: readonly string[],
    options?: ErrorOptions,
  ) {
    const installCommand = `npm install ${packages.join(' ')}`;
    super(
      `${compression} compression needs ${packages.join(' and ')}, which could not be loaded; install it: ${installCommand}`,
      options,
    );
    this.installCommand = installCommand;
  }
}

/** A body larger than the configured bound (before or after decompression). */
export class PayloadTooLargeError extends SerializationError {
  override readonly name = 'PayloadTooLargeError';
  override readonly code = 'ERR_PAYLOAD_TOO_LARGE';
  constructor(
    readonly size: number,
    readonly limit: number,
    what = 'message body',
  ) {
    super(`${what} of ${size} bytes exceeds the limit of ${limit} bytes`);
  }
}

// ---------------------------------------------------------------------------------------------
// Transport

/** Base of failures talking to a broker. Retriable unless a subclass says otherwise. */
export class TransportError extends WakameError {
  override readonly name: string = 'TransportError';
  readonly code: string = 'ERR_TRANSPORT';
  override readonly retriable: boolean = true;
  /** What must be rebuilt before retrying. */
  readonly recovery: RecoveryScope = 'connection';
}

/** The connection failed or was lost; reconnect before retrying. */
export class ConnectionError extends TransportError {
  override readonly name: string = 'ConnectionError';
  override readonly code: string = 'ERR_CONNECTION';
}

/** The connection is closed (by us or by the broker). */
export class ConnectionClosedError extends ConnectionError {
  override readonly name = 'ConnectionClosedError';
  override readonly code = 'ERR_CONNECTION_CLOSED';
}

/** Authentication or authorisation failed (AMQP 403). Retrying will not help. */
export class AccessRefusedError extends ConnectionError {
  override readonly name = 'AccessRefusedError';
  override readonly code = 'ERR_ACCESS_REFUSED';
  override readonly retriable = false;
  override readonly recovery: RecoveryScope = 'none';
}

/** A channel-level failure: reopen the channel, the connection is fine. */
export class ChannelError extends TransportError {
  override readonly name: string = 'ChannelError';
  override readonly code: string = 'ERR_CHANNEL';
  override readonly recovery: RecoveryScope = 'channel';
}

/** The exchange or queue does not exist (AMQP 404). */
export class NotFoundError extends ChannelError {
  override readonly name = 'NotFoundError';
  override readonly code = 'ERR_NOT_FOUND';
  override readonly retriable = false;
  override readonly recovery: RecoveryScope = 'none';
  constructor(
    readonly entity: { readonly kind: EntityKind; readonly name: string },
    options?: ErrorOptions,
  ) {
    super(`${entity.kind} '${entity.name}' not found`, options);
  }
}

/**
 * The queue exists but cannot be used right now: a classic queue whose node is down, a quorum queue without a
 * leader (AMQP 404 "home node … is down or inaccessible"). Unlike {@link NotFoundError} it is retriable: the
 * queue comes back with its node, and nothing about it must be re-created (a plan must never offer to).
 */
export class QueueUnavailableError extends ChannelError {
  override readonly name = 'QueueUnavailableError';
  override readonly code = 'ERR_QUEUE_UNAVAILABLE';
  override readonly retriable = true;
  override readonly recovery: RecoveryScope = 'channel';
  constructor(
    readonly queue: string,
    /** The broker's own words (names the node, when it says). */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`queue '${queue}' exists but is unavailable: ${reason}`, options);
  }
}

/** The broker refused an operation whose precondition does not hold (delete `ifEmpty` of a non-empty queue). */
export class PreconditionFailedError extends ChannelError {
  override readonly name = 'PreconditionFailedError';
  override readonly code = 'ERR_PRECONDITION_FAILED';
  override readonly retriable = false;
  override readonly recovery: RecoveryScope = 'none';
}

/** A `mandatory` publish that no queue could receive (AMQP basic.return). */
export class UnroutableError extends ChannelError {
  override readonly name = 'UnroutableError';
  override readonly code = 'ERR_UNROUTABLE';
  override readonly retriable = false;
  override readonly recovery: RecoveryScope = 'none';
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    reason = 'no queue is bound for it',
  ) {
    super(`message to exchange '${exchange || '(default)'}' with routing key '${routingKey}' is unroutable: ${reason}`);
  }
}

/** The broker refused a published message (negative confirm, or a full queue with reject-publish). */
export class PublishRejectedError extends ChannelError {
  override readonly name = 'PublishRejectedError';
  override readonly code = 'ERR_PUBLISH_REJECTED';
  override readonly retriable = false;
  override readonly recovery: RecoveryScope = 'none';
}

/** An operation did not complete before its deadline. */
export class TimeoutError extends TransportError {
  override readonly name = 'TimeoutError';
  override readonly code = 'ERR_TIMEOUT';
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

/** A retry policy gave up; `cause` is the last error. */
export class RetriesExhaustedError extends WakameError {
  override readonly name = 'RetriesExhaustedError';
  readonly code = 'ERR_RETRIES_EXHAUSTED';
  constructor(
    readonly attempts: number,
    options: ErrorOptions & { reason?: string },
  ) {
    const last = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      `gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}${options.reason ? ` (${options.reason})` : ''}${last}`,
      options,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Tasks

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

/** A pool has no free resource within the wait allowed. */
export class ResourceLimitError extends WakameError {
  override readonly name = 'ResourceLimitError';
  readonly code = 'ERR_RESOURCE_LIMIT';
  override readonly retriable = true;
}

/**
 * No message was available: a `getNowait()` on an empty queue, or a `get()` that waited its whole
 * timeout (kombu's `Empty`). Not a {@link TimeoutError}: nothing is wrong with the connection, so
 * `Connection.ensure` must not reconnect over it. Retriable, as a later attempt may find a message.
 */
export class QueueEmptyError extends WakameError {
  override readonly name = 'QueueEmptyError';
  readonly code = 'ERR_QUEUE_EMPTY';
  override readonly retriable = true;
  constructor(
    readonly queue: string,
    message: string,
  ) {
    super(message);
  }
}

/** Who holds a stack's apply lock, as recorded by the holder (shown to whoever waits for it). */
export interface LockHolder {
  /** Unique per acquisition. */
  readonly id: string;
  /** Human description, e.g. `wakame apply by ci@build-7 (pid 4242)`. */
  readonly description: string;
  /** ISO 8601 time the lock was taken. */
  readonly since: string;
}

/**
 * Another `apply` holds the stack's lock (it waited `waitedMs` for it). A crashed holder's lock
 * expires by itself (its lease lapses, or its broker connection closes).
 */
export class StackLockedError extends WakameError {
  override readonly name = 'StackLockedError';
  readonly code = 'ERR_LOCKED';
  override readonly retriable = true;
  constructor(
    readonly stackName: string,
    readonly holder: LockHolder | undefined,
    readonly waitedMs: number,
  ) {
    super(
      `stack '${stackName}' is locked by ${holder ? `${holder.description}, since ${holder.since}` : 'another apply'}` +
        (waitedMs > 0 ? ` (waited ${Math.round(waitedMs / 1000)} s)` : ''),
    );
  }
}

/** True when `err` is a Wakame error with the given code. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof WakameError && err.code === code;
}

/** True when retrying after `err` could succeed. Unknown errors are not retried. */
export function isRetriable(err: unknown): boolean {
  return err instanceof WakameError && err.retriable;
}

function fmt(v: unknown): string {
  return v === undefined ? '(unset)' : JSON.stringify(v);
}
