/**
 * Celery's task message protocol, version 2, as plain data: the headers that say what to run and
 * when, and the body `[args, kwargs, embed]` whose `embed` carries the canvas (callbacks, errbacks,
 * chain, chord). {@link encodeCeleryTask} builds a message a Python Celery worker runs;
 * {@link decodeCeleryTask} reads one a Python client sent. Serialization (json, msgpack) is the
 * producer's and consumer's business, as in kombu.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { InvalidArgumentError } from '../errors.js';
import { CeleryProtocolError } from './errors.js';

/** A signature as Celery serializes it (`celery.canvas.Signature` as a dict): a task to send later. */
export interface CelerySignature {
  readonly task: string;
  readonly args?: readonly unknown[];
  readonly kwargs?: Readonly<Record<string, unknown>>;
  /** Sending options: `task_id`, `reply_to`, `queue`, `routing_key`, `exchange`, `priority`, `countdown`, … */
  readonly options?: Readonly<Record<string, unknown>>;
  /** When true the parent's result is not prepended to `args`. */
  readonly immutable?: boolean;
  readonly subtask_type?: string | null;
}

/** The third element of a v2 body: what happens after the task. */
export interface CeleryEmbed {
  readonly callbacks: readonly CelerySignature[] | null;
  readonly errbacks: readonly CelerySignature[] | null;
  /** The rest of a chain, last step first (the next step is the array's last element). */
  readonly chain: readonly CelerySignature[] | null;
  readonly chord: CelerySignature | null;
}

/** A decoded Celery task: what a handler needs, and what routing results and retries need. */
export interface CeleryTask {
  readonly id: string;
  readonly name: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly embed: CeleryEmbed;
  readonly rootId: string;
  readonly parentId: string | null;
  readonly group: string | null;
  readonly retries: number;
  /** Not before this time, or null. */
  readonly eta: Date | null;
  /** Not after this time, or null. */
  readonly expires: Date | null;
  /** `[hard, soft]` time limits in seconds, as sent. */
  readonly timelimit: readonly [number | null, number | null];
  readonly origin: string | null;
  readonly ignoreResult: boolean;
  /** Where an `rpc://` result goes (the sender's reply queue), or '' when nowhere. */
  readonly replyTo: string;
  readonly correlationId: string;
  /** All headers as received, for anything not mapped above. */
  readonly headers: Readonly<Record<string, unknown>>;
}

/** What {@link encodeCeleryTask} needs: at least a name. */
export interface CeleryTaskSpec {
  readonly name: string;
  readonly id?: string;
  readonly args?: readonly unknown[];
  readonly kwargs?: Readonly<Record<string, unknown>>;
  /** Seconds from now before the task may run (Celery turns it into `eta`). */
  readonly countdown?: number;
  readonly eta?: Date;
  /** Seconds from now, or a time, after which the task must not run. */
  readonly expires?: number | Date;
  readonly retries?: number;
  readonly rootId?: string;
  readonly parentId?: string | null;
  readonly group?: string | null;
  /** Position in its group. */
  readonly groupIndex?: number | null;
  readonly timeLimit?: number | null;
  readonly softTimeLimit?: number | null;
  readonly ignoreResult?: boolean;
  readonly replyTo?: string;
  readonly callbacks?: readonly CelerySignature[] | null;
  readonly errbacks?: readonly CelerySignature[] | null;
  /** The steps after this one, in the order they run (encoded last first, as Celery keeps them). */
  readonly chain?: readonly CelerySignature[] | null;
  readonly now?: Date;
}

/** The parts of an encoded task: the body to serialize, its headers and the AMQP properties Celery sets. */
export interface EncodedCeleryTask {
  readonly id: string;
  readonly body: readonly [readonly unknown[], Readonly<Record<string, unknown>>, CeleryEmbed];
  readonly headers: Readonly<Record<string, unknown>>;
  readonly correlationId: string;
  readonly replyTo: string;
}

/**
 * A time as Celery writes it: microseconds and an explicit offset. Celery's own ISO 8601 parser reads
 * the fraction digits as a count of microseconds, so `.710` would mean 710 µs: always six digits.
 */
export function celeryTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

function secondsAfter(now: Date, seconds: number, what: string): Date {
  if (!Number.isFinite(seconds)) throw new InvalidArgumentError(`${what} must be a finite number of seconds`);
  return new Date(now.getTime() + seconds * 1000);
}

/** A short text of a value for `argsrepr`/`kwargsrepr` and events (what Flower and logs show); never throws. */
export function reprOf(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'None';
  } catch {
    text = String(value); // a BigInt or a cycle: still something to show
  }
  return text.length > 1024 ? `${text.slice(0, 1021)}...` : text;
}

/** Builds a protocol v2 task message. */
export function encodeCeleryTask(spec: CeleryTaskSpec): EncodedCeleryTask {
  if (typeof spec.name !== 'string' || spec.name === '') throw new InvalidArgumentError('a Celery task needs a name');
  const args = spec.args ?? [];
  const kwargs = spec.kwargs ?? {};
  if (!Array.isArray(args)) throw new InvalidArgumentError(`args of ${spec.name} must be an array`);
  if (!isRecord(kwargs)) throw new InvalidArgumentError(`kwargs of ${spec.name} must be an object`);
  const now = spec.now ?? new Date();
  const id = spec.id ?? randomUUID();
  const eta = spec.countdown !== undefined ? secondsAfter(now, spec.countdown, 'countdown') : spec.eta;
  const expires = typeof spec.expires === 'number' ? secondsAfter(now, spec.expires, 'expires') : spec.expires;
  const chain = spec.chain && spec.chain.length > 0 ? [...spec.chain].reverse() : null;
  const replyTo = spec.replyTo ?? '';
  return {
    id,
    correlationId: id,
    replyTo,
    headers: {
      lang: 'js',
      task: spec.name,
      id,
      shadow: null,
      eta: eta ? celeryTime(eta) : null,
      expires: expires ? celeryTime(expires) : null,
      group: spec.group ?? null,
      group_index: spec.groupIndex ?? null,
      retries: spec.retries ?? 0,
      timelimit: [spec.timeLimit ?? null, spec.softTimeLimit ?? null],
      root_id: spec.rootId ?? id,
      parent_id: spec.parentId ?? null,
      argsrepr: reprOf(args),
      kwargsrepr: reprOf(kwargs),
      origin: `${process.pid}@${hostname()}`,
      ignore_result: spec.ignoreResult ?? false,
    },
    body: [args, kwargs, { callbacks: spec.callbacks ?? null, errbacks: spec.errbacks ?? null, chain, chord: null }],
  };
}

function parseTime(value: unknown, header: string): Date | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value !== 'string') throw new CeleryProtocolError(`header ${header} is not an ISO 8601 string`);
  // Python writes microseconds; keep milliseconds so every engine parses it.
  const time = new Date(value.replace(/(\.\d{3})\d+/, '$1'));
  if (Number.isNaN(time.getTime())) throw new CeleryProtocolError(`header ${header} is not a time: ${value}`);
  return time;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function embedOf(value: unknown): CeleryEmbed {
  const embed = isRecord(value) ? value : {};
  const list = (v: unknown) => (Array.isArray(v) ? (v as CelerySignature[]) : null);
  return {
    callbacks: list(embed.callbacks),
    errbacks: list(embed.errbacks),
    chain: list(embed.chain),
    chord: isRecord(embed.chord) ? (embed.chord as unknown as CelerySignature) : null,
  };
}

/** Reads a v2 task from a decoded body and the message's headers and properties. */
export function decodeCeleryTask(
  payload: unknown,
  headers: Readonly<Record<string, unknown>>,
  properties: { readonly correlationId?: string | undefined; readonly replyTo?: string | undefined } = {},
): CeleryTask {
  const name = headers.task;
  const id = headers.id;
  if (typeof name !== 'string' || typeof id !== 'string') {
    const v1 = isRecord(payload) && typeof payload.task === 'string';
    throw new CeleryProtocolError(
      v1
        ? 'a Celery protocol v1 message (task in the body); only protocol v2 (Celery ≥ 4 default) is supported'
        : 'not a Celery task message: headers task and id are missing',
    );
  }
  if (!Array.isArray(payload) || payload.length !== 3) {
    throw new CeleryProtocolError(`task ${name} ${id}: the body is not [args, kwargs, embed]`);
  }
  const [args, kwargs, embed] = payload as [unknown, unknown, unknown];
  if (!Array.isArray(args) || !isRecord(kwargs)) {
    throw new CeleryProtocolError(`task ${name} ${id}: args must be a list and kwargs a mapping`);
  }
  const limits = Array.isArray(headers.timelimit) ? headers.timelimit : [];
  const limit = (v: unknown) => (typeof v === 'number' ? v : null);
  return {
    id,
    name,
    args,
    kwargs,
    embed: embedOf(embed),
    rootId: stringOrNull(headers.root_id) ?? id,
    parentId: stringOrNull(headers.parent_id),
    group: stringOrNull(headers.group),
    retries: typeof headers.retries === 'number' ? headers.retries : 0,
    eta: parseTime(headers.eta, 'eta'),
    expires: parseTime(headers.expires, 'expires'),
    timelimit: [limit(limits[0]), limit(limits[1])],
    origin: stringOrNull(headers.origin),
    ignoreResult: headers.ignore_result === true,
    replyTo: properties.replyTo ?? '',
    correlationId: properties.correlationId || id,
    headers,
  };
}
