/**
 * Dead letters you can act on: list, show, replay and purge the messages of a dead-letter queue, on any
 * transport. Used by `wakame dead-letters` and meant for dashboards.
 *
 * How a queue is looked at without changing it: messages are fetched one by one (`basic.get`) and **held
 * unacknowledged** until the run ends, then returned to the queue latest first. Requeueing each at once would
 * hand the same message straight back to the next fetch; holding them and returning them in reverse keeps the
 * queue's order on every transport (RabbitMQ puts a returned message back at its old place, the virtual stores
 * at the head). A run fetches until the queue has nothing more to give: a held message cannot be fetched again, so
 * a copy dead-lettered again while the run goes on is seen once more at most (replay skips a second copy of
 * an id as `duplicate-id`). What a look costs: returned messages are marked redelivered (nobody consumes a
 * dead-letter queue as work, so nothing reads the flag), and a quorum queue counts a delivery for each, which
 * matters only with a `delivery-limit` on the dead-letter queue itself. A process that dies mid-run loses
 * nothing: the broker returns what it held (RabbitMQ when the connection drops, the file and Redis stores after
 * the owner's lease).
 *
 * Replay moves, never copies and forgets: each matching message is published with confirms and only after the
 * broker took the copy is the dead letter acked. A crash between the two leaves the copy *and* the dead letter:
 * a duplicate, never a loss. Messages move one at a time, so a crash duplicates at most one of them.
 *
 * @module
 */
import { InvalidArgumentError, WakameError } from '../errors.js';
import type { Connection } from '../messaging/connection.js';
import type { Message } from '../messaging/message.js';
import { publishOptionsOf } from '../messaging/producer.js';
import { Queue } from '../model/queue.js';
import {
  type DeadLetter,
  type DeadLetterFilter,
  describeDeadLetter,
  matchesFilter,
  replayHeaders,
} from './dead-letter-record.js';
import { outcomeProducer } from './outcomes.js';
import { DEFAULT_DEAD_LETTER_QUEUE } from './worker.js';

/** Where and how far to look. */
export interface DeadLetterScope extends DeadLetterFilter {
  /** The dead-letter queue. @defaultValue `'wakame.dead-letter'` (the worker's) */
  readonly queue?: string;
  /** Act on at most this many matching messages. @defaultValue 100 for list, unlimited otherwise */
  readonly limit?: number;
  /** Told after each message looked at (for progress displays). */
  readonly onProgress?: (progress: DeadLetterProgress) => void;
  /** Ends the run early; what was held goes back to the queue. */
  readonly signal?: AbortSignal;
}

/** How far a run is. */
export interface DeadLetterProgress {
  /** Messages looked at so far. */
  readonly scanned: number;
  /** Messages ready in the queue when the run started (or `scanned`, when more came since). */
  readonly total: number;
  /** Matching messages acted on so far (listed, moved or purged). */
  readonly matched: number;
  /** The dead letter `id` is about to be acked: its replayed copy is confirmed by the broker (or it is purged). */
  readonly published?: string;
}

/** Options of {@link replayDeadLetters}. */
export interface DeadLetterReplayOptions extends DeadLetterScope {
  /** Report what would move and move nothing. @defaultValue false */
  readonly dryRun?: boolean;
  /**
   * Where copies go: `queue`, straight to the queue each died in (default exchange), or `origin`, to the exchange
   * and routing key it had been published with (which also reaches every other queue bound to them).
   * @defaultValue 'queue'
   */
  readonly to?: 'queue' | 'origin';
}

/** Options of {@link purgeDeadLetters}. */
export interface DeadLetterPurgeOptions extends DeadLetterScope {
  /** Report what would be removed and remove nothing. @defaultValue false */
  readonly dryRun?: boolean;
}

/** A dead letter with its content, as {@link showDeadLetter} gives it. */
export interface DeadLetterDetail extends DeadLetter {
  readonly headers: Readonly<Record<string, unknown>>;
  readonly properties: Readonly<Record<string, unknown>>;
  /** The decoded body, or `undefined` with {@link DeadLetterDetail.decodeError} set. */
  readonly body?: unknown;
  readonly decodeError?: string;
  /** The body as it travelled, base64. */
  readonly rawBody: string;
}

/** What {@link listDeadLetters} found. */
export interface DeadLetterList {
  readonly queue: string;
  /** Messages looked at. */
  readonly scanned: number;
  /** Ready messages in the queue when the run started. */
  readonly total: number;
  readonly messages: readonly DeadLetter[];
}

/** A dead letter moved (or that would move, in a dry run), and where to. */
export interface DeadLetterMove {
  readonly message: DeadLetter;
  readonly to: { readonly exchange: string; readonly routingKey: string };
}

/** Why a matching message was left where it was. */
export type DeadLetterSkipReason = 'too-large' | 'duplicate-id';

/** What {@link replayDeadLetters} or {@link purgeDeadLetters} did; nothing in `skipped` or `failed` moved. */
export interface DeadLetterRunResult {
  readonly queue: string;
  readonly dryRun: boolean;
  readonly scanned: number;
  readonly total: number;
  /** Replayed (or purged); in a dry run, what would have been. */
  readonly moved: readonly DeadLetterMove[];
  readonly skipped: readonly {
    readonly message: DeadLetter;
    readonly reason: DeadLetterSkipReason;
    readonly detail: string;
  }[];
  /**
   * Failures, with the step: `publish` (no copy was made; the dead letter stays) or `ack` (the copy was made and
   * the dead letter is still in its queue: a replay run again would duplicate it).
   */
  readonly failed: readonly {
    readonly message: DeadLetter;
    readonly step: 'publish' | 'ack';
    readonly error: { readonly name: string; readonly code?: string; readonly message: string };
  }[];
}

/** No message with the id asked for is in the dead-letter queue. */
export class DeadLetterNotFoundError extends WakameError {
  override readonly name = 'DeadLetterNotFoundError';
  readonly code = 'ERR_DEAD_LETTER_NOT_FOUND';
  constructor(
    readonly id: string,
    readonly queue: string,
  ) {
    super(`no dead letter with id '${id}' in queue '${queue}'`);
  }
}

/** The matching dead letters, oldest first; the queue is left as it was. @throws {@link NotFoundError} for a missing queue */
export async function listDeadLetters(connection: Connection, scope: DeadLetterScope = {}): Promise<DeadLetterList> {
  const messages: DeadLetter[] = [];
  const limit = scope.limit ?? 100;
  const run = await scan(connection, scope, async (_message, record) => {
    messages.push(record);
    return { settled: false, matched: true, stop: messages.length >= limit };
  });
  return { queue: run.queue, scanned: run.scanned, total: run.total, messages };
}

/**
 * One dead letter with its headers and body; the queue is left as it was.
 * @throws {@link DeadLetterNotFoundError} when no message has this id; {@link NotFoundError} for a missing queue
 */
export async function showDeadLetter(
  connection: Connection,
  id: string,
  scope: Pick<DeadLetterScope, 'queue' | 'signal'> = {},
): Promise<DeadLetterDetail> {
  let found: DeadLetterDetail | undefined;
  const run = await scan(connection, { ...scope, ids: [id] }, async (message, record) => {
    found = detailOf(message, record);
    return { settled: false, matched: true, stop: true };
  });
  if (found === undefined) throw new DeadLetterNotFoundError(id, run.queue);
  return found;
}

/**
 * Moves the matching dead letters back: each is published with confirms (mandatory, to the queue it died in
 * or with `to: 'origin'` to its original exchange and routing key; headers as {@link replayHeaders} makes
 * them) and acked only after the broker confirmed the copy. Within one run an id moves once.
 * @throws {@link NotFoundError} for a missing queue; per-message failures are in the result, never thrown
 */
export async function replayDeadLetters(
  connection: Connection,
  options: DeadLetterReplayOptions = {},
): Promise<DeadLetterRunResult> {
  const to = options.to ?? 'queue';
  if (to !== 'queue' && to !== 'origin')
    throw new InvalidArgumentError(`replay 'to' must be 'queue' or 'origin', not '${String(to)}'`);
  const producer = outcomeProducer(connection);
  return run(connection, options, async (message, record, from) => {
    const target = to === 'queue' ? { exchange: '', routingKey: record.queue } : record.origin;
    if (options.dryRun) return { target };
    try {
      const headers = replayHeaders(message, record, from, new Date());
      // As it travelled (body still compressed, if it was); mandatory, so a copy nothing would receive fails here.
      await producer.publish(
        message.rawBody,
        publishOptionsOf(message.properties, {
          headers,
          mandatory: true,
          exchange: target.exchange,
          routingKey: target.routingKey,
        }),
      );
    } catch (error) {
      return { target, failed: { step: 'publish', error } };
    }
    return { target, published: true };
  });
}

/** Removes (acks) the matching dead letters and leaves the others. @throws {@link NotFoundError} for a missing queue */
export async function purgeDeadLetters(
  connection: Connection,
  options: DeadLetterPurgeOptions = {},
): Promise<DeadLetterRunResult> {
  return run(connection, options, async (_message, record) => ({
    target: { exchange: '', routingKey: record.queue },
    ...(options.dryRun ? {} : { published: true }),
  }));
}

// ---------------------------------------------------------------------------------------------------------------

interface StepOutcome {
  readonly target: { readonly exchange: string; readonly routingKey: string };
  /** Ready for the ack (replayed and confirmed, or to be purged). */
  readonly published?: boolean;
  readonly failed?: { readonly step: 'publish'; readonly error: unknown };
}

/** The common shape of replay and purge: match, skip what cannot move, act, ack, count. */
async function run(
  connection: Connection,
  options: DeadLetterReplayOptions,
  act: (message: Message, record: DeadLetter, from: string) => Promise<StepOutcome>,
): Promise<DeadLetterRunResult> {
  const dryRun = options.dryRun ?? false;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const moved: DeadLetterMove[] = [];
  const skipped: DeadLetterRunResult['skipped'][number][] = [];
  const failed: DeadLetterRunResult['failed'][number][] = [];
  const ids = new Set<string>();
  const result = await scan(connection, options, async (message, record, queue, progress) => {
    if (ids.has(record.id)) {
      skipped.push({
        message: record,
        reason: 'duplicate-id',
        detail: 'another message with this id was handled in this run',
      });
      return { settled: false, matched: false, stop: false };
    }
    ids.add(record.id);
    const tooLarge = message.tooLarge;
    if (tooLarge) {
      // The body was never read: a copy would be empty, so the dead letter stays.
      skipped.push({ message: record, reason: 'too-large', detail: tooLarge.message });
      return { settled: false, matched: false, stop: false };
    }
    const outcome = await act(message, record, queue);
    if (outcome.failed) {
      failed.push({ message: record, step: 'publish', error: summary(outcome.failed.error) });
      return { settled: false, matched: false, stop: false };
    }
    if (outcome.published) {
      progress(record.id);
      try {
        await message.ack();
      } catch (error) {
        failed.push({ message: record, step: 'ack', error: summary(error) });
        // An ack fails when the connection does: the rest is left for another run.
        return { settled: false, matched: false, stop: true };
      }
    }
    moved.push({ message: record, to: outcome.target });
    return { settled: outcome.published === true, matched: true, stop: moved.length >= limit };
  });
  return { queue: result.queue, dryRun, scanned: result.scanned, total: result.total, moved, skipped, failed };
}

interface Visit {
  /** Acked (or lost with the connection): not to be returned. */
  readonly settled: boolean;
  readonly matched: boolean;
  readonly stop: boolean;
}

type Visitor = (message: Message, record: DeadLetter, queue: string, published: (id: string) => void) => Promise<Visit>;

/** Fetches the queue's ready messages one by one, hands the matching ones to `visit`, returns the rest. */
async function scan(
  connection: Connection,
  scope: DeadLetterScope,
  visit: Visitor,
): Promise<{ queue: string; scanned: number; total: number }> {
  const queue = scope.queue ?? DEFAULT_DEAD_LETTER_QUEUE;
  if (scope.limit !== undefined && !(Number.isInteger(scope.limit) && scope.limit >= 1)) {
    throw new InvalidArgumentError(`limit must be a whole number ≥ 1, not ${String(scope.limit)}`);
  }
  // Passive: a dead-letter queue is looked at, never created (a typo must not make an empty one).
  const { messageCount: total } = await connection.admin.declareQueue(new Queue(queue), { passive: true });
  const accept = connection.serializers.names();
  const held: Message[] = [];
  const now = Date.now();
  let scanned = 0;
  let matched = 0;
  const report = (published?: string) =>
    scope.onProgress?.({
      scanned,
      total: Math.max(total, scanned),
      matched,
      ...(published !== undefined ? { published } : {}),
    });
  try {
    // Until a fetch finds the queue empty, not `total` fetches: a count taken on another channel can miss returns
    // still on their way. It ends: what is held cannot be fetched again, so each message is seen once per run.
    while (!scope.signal?.aborted) {
      const message = await connection.getMessage(queue, { accept });
      if (message === undefined) break;
      scanned++;
      const record = describeDeadLetter(message);
      if (!matchesFilter(record, scope, now)) {
        held.push(message);
        report();
        continue;
      }
      let visited: Visit;
      try {
        visited = await visit(message, record, queue, report);
      } catch (error) {
        // Thrown between the publish and the ack (by onProgress, say), as a crash there would: back to the queue.
        held.push(message);
        throw error;
      }
      if (!visited.settled) held.push(message);
      if (visited.matched) matched++;
      report();
      if (visited.stop) break;
    }
  } finally {
    await giveBack(held);
  }
  return { queue, scanned, total };
}

/** Returns held messages latest first, which keeps the queue's order (see the module description). */
async function giveBack(held: readonly Message[]): Promise<void> {
  for (let i = held.length - 1; i >= 0; i--) {
    const message = held[i] as Message;
    if (message.settled) continue;
    // A failing connection: the broker returns unacknowledged messages by itself when it closes.
    await message.requeue().catch(() => undefined);
  }
}

function detailOf(message: Message, record: DeadLetter): DeadLetterDetail {
  let decoded: { body: unknown } | { decodeError: string };
  try {
    decoded = { body: message.decode() };
  } catch (error) {
    decoded = { decodeError: error instanceof Error ? error.message : String(error) };
  }
  return {
    ...record,
    headers: message.headers,
    properties: message.properties as Readonly<Record<string, unknown>>,
    ...decoded,
    rawBody: message.rawBody.toString('base64'),
  };
}

function summary(error: unknown): { name: string; code?: string; message: string } {
  if (error instanceof WakameError) return { name: error.name, code: error.code, message: error.message };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}
