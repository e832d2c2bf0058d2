/**
 * The worker's message path: the {@link Consumer}s of one consumption, built from {@link ConsumerSpec}s, and what
 * happens to each delivery — held back once a stop began, else run by its spec's runner and counted (in all and per
 * queue) by what became of it.
 *
 * @module
 */
import type { Connection } from '../messaging/connection.js';
import type { Consumer } from '../messaging/consumer.js';
import type { Logger } from '../messaging/events.js';
import type { Message } from '../messaging/message.js';
import type { MessageSpan } from '../messaging/tracing.js';
import {
  type ConsumerContext,
  type ConsumerSpec,
  type MessageRunner,
  type RunOutcome,
  runnerOf,
} from './worker-consumers.js';
import type { QueueBook } from './worker-health.js';
import type { StopControl, WorkInProgress } from './worker-stop.js';

/** Handlers running at once for a consumer that does not say (its prefetch window). */
export const DEFAULT_CONCURRENCY = 10;

const COUNTER = {
  done: 'processed',
  retry: 'retried',
  'dead-letter': 'deadLettered',
  returned: 'returned',
  failed: 'failed',
} as const;

/** A consumer of one consumption. */
export interface Running {
  readonly consumer: Consumer;
  /** Delivered after the stop began: not started, returned once deliveries stop. */
  readonly held: Set<Message>;
}

/** What the dispatch shares with its worker. */
export interface DispatchOptions {
  readonly stop: StopControl;
  /** Handlers and decode-error hooks running now, across consumptions. */
  readonly work: WorkInProgress;
  readonly book: QueueBook;
  readonly logger: Logger;
  /** After each handled message. */
  readonly onIteration: () => void;
}

/** Runs deliveries and counts their outcomes. */
export class Dispatch {
  readonly counts = { processed: 0, retried: 0, deadLettered: 0, returned: 0, failed: 0 };
  /** Handlers running now. */
  inFlight = 0;
  readonly #options: DispatchOptions;

  constructor(options: DispatchOptions) {
    this.#options = options;
  }

  /** The consumers of `specs` on `connection`, not yet consuming. @throws what `Consumer` throws on a bad option */
  consumers(connection: Connection, specs: readonly ConsumerSpec[]): Running[] {
    const context: ConsumerContext = { connection, signal: this.#options.stop.forcedSignal };
    return specs.map((spec) => {
      const runner = runnerOf(spec);
      const held = new Set<Message>();
      const consumer = connection.consumer({
        queues: spec.queues,
        prefetch: spec.prefetch ?? DEFAULT_CONCURRENCY,
        accept: spec.accept ?? ['json'],
        order: spec.order ?? 'round-robin',
        decode: spec.decode ?? true,
        autoDeclare: spec.autoDeclare ?? true,
        noAck: spec.noAck ?? false,
        tagPrefix: spec.tagPrefix ?? 'wakame-worker',
        // Traced here, where the outcome is known, not by the consumer.
        tracing: false,
        handler: (message) => this.#deliver(runner, message, held, context),
        onDecodeError: (message, error) => this.#undecodable(runner, message, error, context),
      });
      return { consumer, held };
    });
  }

  /**
   * Not async: a message whose runner finished synchronously costs no promise here, and one that waits a
   * single `then`. Whatever the runner throws or rejects with goes on to the consumer's handler-error path.
   */
  #deliver(
    runner: MessageRunner,
    message: Message,
    held: Set<Message>,
    context: ConsumerContext,
  ): Promise<void> | undefined {
    const { stop, book, work } = this.#options;
    if (stop.isRequested) {
      // Delivered while the subscriptions were being cancelled: not started; back to its queue once deliveries stop.
      held.add(message);
      return undefined;
    }
    const queue = message.queue;
    book.delivered(queue);
    this.inFlight++;
    work.enterOne();
    // The CONSUMER span, active while the handler runs: what it publishes (retries, replies, follow-ups) joins the trace.
    const span = context.connection.tracing.process(message);
    let ran: RunOutcome | Promise<RunOutcome>;
    try {
      ran = span === undefined ? runner.run(message, context) : span.run(() => runner.run(message, context));
    } catch (error) {
      span?.end(error);
      this.#left();
      throw error;
    }
    if (!(ran instanceof Promise)) {
      this.#finish(queue, ran, runner.source, span);
      return undefined;
    }
    return ran.then(
      (outcome) => this.#finish(queue, outcome, runner.source, span),
      (error: unknown) => {
        span?.end(error);
        this.#left();
        throw error;
      },
    );
  }

  #finish(queue: string, outcome: RunOutcome, source: MessageRunner['source'], span?: MessageSpan): void {
    span?.end(outcome.error, { 'wakame.outcome': outcome.type });
    try {
      this.#record(queue, outcome, source);
    } finally {
      this.#left();
    }
  }

  /** A message's handling is over, however it ended. */
  #left(): void {
    this.inFlight--;
    this.#options.work.leave();
    this.#options.onIteration();
  }

  async #undecodable(runner: MessageRunner, message: Message, error: Error, context: ConsumerContext) {
    if (this.#options.stop.isRequested) return; // not settled: back to its queue with the others
    const leave = this.#options.work.enter();
    const span = context.connection.tracing.process(message);
    let outcome: RunOutcome | undefined;
    try {
      outcome = await (span === undefined
        ? runner.undecodable(message, error, context)
        : span.run(() => runner.undecodable(message, error, context)));
      this.#record(message.queue, outcome, runner.source);
    } finally {
      // Undecodable is an error of the message whatever became of it.
      span?.end(error, { 'wakame.outcome': outcome?.type ?? 'failed' });
      leave();
    }
  }

  #record(queue: string, outcome: RunOutcome, source: MessageRunner['source']): void {
    const { type, error } = outcome;
    this.counts[COUNTER[type]]++;
    if (type === 'done' || type === 'returned') return;
    if (error) this.#options.book.messageFailed(queue, source, error);
    if (type === 'dead-letter') this.#options.logger.warn('message dead-lettered', { queue, ...outcome });
    else if (type === 'failed') this.#options.logger.warn('message handler failed', { queue, ...outcome });
  }
}
