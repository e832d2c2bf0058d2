/**
 * The consumer loop every worker runs (kombu's `ConsumerMixin`): connect, ask for the consumers, consume until
 * stopped, start again with backoff whenever the connection or a subscription is lost, and stop gracefully. The task
 * {@link Worker} is one use of it: the consumer of its task queues is one {@link ConsumerSpec} among any others.
 *
 * Stopping (`stop()`, or SIGINT/SIGTERM after `handleSignals()`): the worker takes no more work — messages delivered
 * after that are not started and go back to their queues — lets running handlers finish and settle until the
 * deadline (`stopDeadline`, 30 s), then returns whatever is still unsettled to its queue and closes what it opened.
 * The deadline, or a second stop (signal), forces the stop at once: handlers still running see `context.signal`
 * aborted and their messages go back to their queues (so they run again). `run()` resolves only when all of this is
 * done.
 *
 * @module
 */
import { InvalidArgumentError, WakameError } from '../errors.js';
import { Connection, type ConnectionOptions } from '../messaging/connection.js';
import type { Consumer } from '../messaging/consumer.js';
import type { Logger } from '../messaging/events.js';
import { silentLogger } from '../messaging/events.js';
import { errorSummary } from './outcomes.js';
import { type ConsumerSpec, queueName } from './worker-consumers.js';
import { Dispatch, type Running } from './worker-dispatch.js';
import { QueueBook, type WorkerHealth } from './worker-health.js';
import { countSignals, DEFAULT_STOP_DEADLINE_MS, StopControl, WorkInProgress } from './worker-stop.js';

/** Options of {@link ConsumerMixin}. */
export interface ConsumerMixinOptions {
  /** A connection (kept open on stop) or URL(s) (the worker opens and closes its own). */
  readonly connection: Connection | string | readonly string[];
  /** Options of the connection the worker opens when given URL(s) (transports, recovery, logger, …). */
  readonly connectionOptions?: ConnectionOptions;
  /**
   * Milliseconds a stop (`stop()` without a deadline, the first SIGINT/SIGTERM after `handleSignals()`) waits for
   * running handlers before returning their messages to their queues. @defaultValue 30000
   */
  readonly stopDeadline?: number;
  /** Waits between restarts after a loss: doubling from `initialDelayMs` up to `maxDelayMs`. @defaultValue 100 ms → 5 s */
  readonly restartBackoff?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  readonly logger?: Logger;
}

/** A mistake no restart can mend (a throwing `getConsumers`, an invalid consumer option): `run()` rejects. */
class Fatal {
  constructor(readonly error: unknown) {}
}

/**
 * Runs consumers until stopped (kombu's `ConsumerMixin`). Subclass it and return the consumers from
 * `getConsumers(connection)`; override the hooks you need. `new Worker({ connection, consumers })` is the same
 * without a subclass.
 *
 * @example
 * class AuditWorker extends ConsumerMixin {
 *   protected getConsumers() {
 *     return [{ queues: ['audit'], accept: ['json', 'text'], handler: async (m: Message) => { log(m.payload); await m.ack(); } }];
 *   }
 *   protected override onConsumeReady() { console.log('ready'); }
 * }
 * const worker = new AuditWorker({ connection: 'amqp://…' });
 * worker.handleSignals();
 * await worker.run();
 */
export abstract class ConsumerMixin {
  readonly #given: Connection | string | readonly string[];
  readonly #connectionOptions: ConnectionOptions;
  readonly #logger: Logger;
  readonly #stopDeadline: number;
  readonly #initialDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #stop = new StopControl();
  /** Handlers and decode-error hooks running now, across consumptions. */
  readonly #work = new WorkInProgress();
  readonly #book = new QueueBook();
  readonly #dispatch: Dispatch;
  readonly #signalHooks = new Set<() => void>();
  #connection: Connection | undefined;
  #consumers: readonly Consumer[] = [];
  #status: WorkerHealth['status'] = 'idle';
  #attempt = 0;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: ConsumerMixinOptions) {
    this.#given = options.connection;
    this.#connectionOptions = options.connectionOptions ?? {};
    this.#logger = options.logger ?? silentLogger;
    this.#stopDeadline = options.stopDeadline ?? DEFAULT_STOP_DEADLINE_MS;
    this.#initialDelayMs = options.restartBackoff?.initialDelayMs ?? 100;
    this.#maxDelayMs = options.restartBackoff?.maxDelayMs ?? 5_000;
    for (const [name, value] of [
      ['stopDeadline', this.#stopDeadline],
      ['restartBackoff.initialDelayMs', this.#initialDelayMs],
      ['restartBackoff.maxDelayMs', this.#maxDelayMs],
    ] as const) {
      if (!(value >= 0)) throw new InvalidArgumentError(`${name} must be a number of milliseconds ≥ 0, got ${value}`);
    }
    this.#dispatch = new Dispatch({
      stop: this.#stop,
      work: this.#work,
      book: this.#book,
      logger: this.#logger,
      onIteration: () => this.onIteration(),
    });
  }

  /** The consumers to run, asked at each (re)start (kombu's `get_consumers`); may declare what they need first. */
  protected abstract getConsumers(connection: Connection): readonly ConsumerSpec[] | Promise<readonly ConsumerSpec[]>;

  /** Connected: after the first connection and after every reconnection (as kombu does). */
  protected onConnectionRevived(_connection: Connection): void {}

  /** The connection was lost; the worker reconnects (or the transport recovers by itself). */
  protected onConnectionLost(_error: Error): void {}

  /** A (re)start failed; the worker waits `delayMs` and tries again. */
  protected onConnectionError(_error: unknown, _delayMs: number): void {}

  /** Every consumer is subscribed: after each (re)start and each recovery of the connection. */
  protected onConsumeReady(_consumers: readonly Consumer[], _connection: Connection): void {}

  /** The worker has stopped: handlers finished (or the stop was forced), messages returned, connection closed. */
  protected onConsumeEnd(): void {}

  /** Called after each handled message. */
  protected onIteration(): void {}

  /** Set to stop after the current messages (kombu's `should_stop`). */
  get shouldStop(): boolean {
    return this.#stop.isRequested;
  }

  set shouldStop(value: boolean) {
    if (value) void this.stop();
  }

  /** The queues consumed, in order (known once `getConsumers` answered, or as the subclass announced them). */
  get queues(): readonly string[] {
    return this.#book.queues;
  }

  /** The connection in use (undefined before `run()`). */
  get connection(): Connection | undefined {
    return this.#connection;
  }

  /** The queues `health()` lists before the first start (each start lists what `getConsumers` returned). */
  protected trackQueues(queues: readonly string[]): void {
    this.#book.track([...new Set(queues)]);
  }

  /** Where the worker is, and per queue what it knows; `checkHealth()` adds the broker's consumer counts. */
  health(): WorkerHealth {
    const live = new Set<string>();
    if (this.#status === 'ready' && this.#connection?.isConnected === true) {
      for (const c of this.#consumers) if (c.isConsuming) for (const q of c.queues) live.add(queueName(q));
    }
    const queues = this.#book.snapshot(live);
    const down = this.#connection?.unavailableQueues;
    const healthy = queues.length > 0 && queues.every((q) => q.subscribed);
    return {
      // A queue of the worker's that cannot be consumed now makes it degraded, whatever the connection says.
      status: this.#status === 'ready' && !healthy ? 'degraded' : this.#status,
      healthy,
      queues,
      ...(down && down.size > 0
        ? { unavailableQueues: [...down].map(([queue, error]) => ({ queue, reason: error.message })) }
        : {}),
      inFlight: this.#dispatch.inFlight,
      ...this.#dispatch.counts,
    };
  }

  /** {@link ConsumerMixin.health}, after asking the broker about each queue: does it exist, how many consumers has it. */
  async checkHealth(): Promise<WorkerHealth> {
    const connection = this.#connection;
    if (connection?.isConnected) await this.#book.check(connection, this.health().queues);
    return this.health();
  }

  /**
   * Consumes until stopped, starting again (with backoff) whenever the connection or a subscription is lost. Resolves
   * once the worker has stopped: running handlers finished (or the stop was forced), unsettled messages returned to
   * their queues, its own connection closed. Rejects only on a mistake no restart mends (`getConsumers` threw
   * something other than a broker error, or returned an invalid consumer).
   */
  run(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  /**
   * Stops taking messages, lets running handlers finish until `deadline` (ms; default `stopDeadline`, 30 s), then
   * returns every unsettled message to its queue and closes; resolves when `run()` does. A second call forces the
   * stop at once, as does `deadline: 0`. Safe while the broker is unreachable.
   */
  async stop(options: { deadline?: number } = {}): Promise<void> {
    if (!this.#stop.isRequested && this.#status !== 'stopped') this.#status = this.#running ? 'stopping' : 'stopped';
    // Not running: nothing to wait for (and no deadline timer to keep the process alive).
    this.#stop.request(this.#running ? (options.deadline ?? this.#stopDeadline) : 0);
    this.#wake?.();
    await this.#running?.catch(() => undefined);
  }

  /**
   * SIGINT/SIGTERM stop gracefully (`deadline` ms for running handlers, default `stopDeadline`); a second signal
   * forces the stop. The same signal twice within 300 ms counts once (a terminal's Ctrl-C, forwarded again by a
   * launcher). The listeners go once the worker has stopped; the returned function removes them earlier.
   */
  handleSignals(deadline = this.#stopDeadline): () => void {
    const onSignal = countSignals((first) => void this.stop({ deadline: first ? deadline : 0 }));
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const unhook = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      this.#signalHooks.delete(unhook);
    };
    this.#signalHooks.add(unhook);
    return unhook;
  }

  async #run(): Promise<void> {
    const owned = !(this.#given instanceof Connection);
    try {
      while (!this.shouldStop) {
        this.#status = 'starting';
        try {
          const connection = await this.#connect();
          if (this.shouldStop) break;
          this.#hook(() => this.onConnectionRevived(connection));
          await this.#consume(connection);
        } catch (error) {
          if (error instanceof Fatal) {
            this.#stop.force();
            throw error.error;
          }
          if (this.shouldStop) break;
          const delayMs = Math.min(this.#maxDelayMs, this.#initialDelayMs * 2 ** Math.min(this.#attempt++, 30));
          this.#status = 'degraded';
          this.#book.brokerFailed(error, { lost: true });
          this.#logger.warn('worker lost its broker; retrying', { error: errorSummary(error).message, delayMs });
          this.#hook(() => this.onConnectionError(error, delayMs));
          await this.#sleep(delayMs);
        }
      }
      // Handlers of a consumption that ended earlier (its connection lost) may still be running.
      this.#status = 'stopping';
      await this.#stop.untilForced(this.#work.idle());
    } finally {
      this.#stop.dispose();
      if (owned) await this.#connection?.close().catch(() => undefined);
      this.#status = 'stopped';
      for (const unhook of [...this.#signalHooks]) unhook();
      this.#hook(() => this.onConsumeEnd());
    }
  }

  async #connect(): Promise<Connection> {
    const given = this.#given;
    if (given instanceof Connection) {
      this.#connection = given;
      // Someone else's connection: stop waiting for it, but do not abort its attempt.
      await Promise.race([given.ready(), this.#stop.requested]);
      return given;
    }
    if (!this.#connection || this.#connection.isClosed)
      this.#connection = new Connection(given, this.#connectionOptions);
    await this.#connection.ready(this.#stop.requestedSignal);
    return this.#connection;
  }

  /** The consumers for one consumption, not yet consuming. @throws {@link Fatal} on a mistake no restart mends. */
  async #prepare(connection: Connection): Promise<Running[]> {
    let specs: readonly ConsumerSpec[];
    try {
      specs = await this.getConsumers(connection);
    } catch (error) {
      // A broker's answer may change (restart with backoff); anything else is a bug in getConsumers.
      if (error instanceof WakameError && !(error instanceof InvalidArgumentError)) throw error;
      throw new Fatal(error);
    }
    try {
      if (!Array.isArray(specs) || specs.length === 0) {
        throw new InvalidArgumentError('getConsumers() returned no consumer: give at least one { queues, handler }');
      }
      this.trackQueues(specs.flatMap((spec) => spec.queues.map(queueName)));
      return this.#dispatch.consumers(connection, specs);
    } catch (error) {
      throw new Fatal(error);
    }
  }

  /**
   * One consumption: returns once the worker has stopped consuming (see {@link ConsumerMixin.#drain}); throws when a
   * subscription or the connection ends first.
   */
  async #consume(connection: Connection): Promise<void> {
    const running = await this.#prepare(connection);
    if (this.shouldStop) return;
    const consumers = running.map((r) => r.consumer);
    let ended: (reason: Error) => void = () => {};
    const over = new Promise<void>((_, reject) => {
      ended = reject;
    });
    over.catch(() => undefined); // it may end before anyone awaits it
    const ours = (tags: readonly string[]) => running.find((r) => r.consumer.consumerTags[0] === tags[0]);
    const unlisten = [
      connection.events.on('consumer.cancelled_by_broker', (e) => {
        if (!ours(e.payload.consumerTags)) return;
        this.#book.brokerFailed(e.payload.reason, { lost: true });
        ended(new Error(e.payload.reason));
      }),
      connection.events.on('consumer.cancel', (e) => {
        // Deliveries have stopped: what arrived after the stop began goes back now, not after the handlers.
        const r = ours(e.payload.consumerTags);
        if (!r) return;
        for (const message of r.held) void message.requeue().catch(() => undefined);
        r.held.clear();
      }),
      connection.events.on('connection.lost', (e) => {
        this.#status = 'degraded';
        this.#book.brokerFailed(e.payload.error, { lost: false });
        this.#hook(() => this.onConnectionLost(e.payload.error));
        // Dropped rather than recovering by itself: start again, with backoff.
        if (connection.currentTransport === undefined) ended(e.payload.error);
      }),
      connection.events.on('queue.unavailable', (e) => {
        // Only the worker's own queues: an unavailable dead-letter queue is listed in health(), not blamed on them.
        if (this.#book.queues.includes(e.payload.queue)) this.#book.brokerFailed(e.payload.error, { lost: false });
      }),
      connection.events.on('connection.revived', () => {
        this.#status = this.shouldStop ? 'stopping' : 'ready';
        this.#hook(() => this.onConnectionRevived(connection));
        if (!this.shouldStop) this.#hook(() => this.onConsumeReady(consumers, connection));
      }),
      connection.onClose(() => ended(new Error('connection closed'))),
    ];
    this.#consumers = consumers;
    try {
      await Promise.all(consumers.map((c) => c.consume()));
      this.#book.subscribed();
      this.#attempt = 0;
      if (!this.shouldStop) {
        this.#status = 'ready';
        this.#hook(() => this.onConsumeReady(consumers, connection));
        await Promise.race([over, this.#stop.requested]);
      }
    } catch (error) {
      if (!this.shouldStop) {
        for (const off of unlisten) off();
        await Promise.allSettled(consumers.map((c) => c.close()));
        throw error;
      }
    }
    try {
      await this.#drain(consumers);
    } finally {
      for (const off of unlisten) off();
    }
  }

  /**
   * The stop, for one consumption: no more deliveries; running handlers finish and settle (until the stop is
   * forced); then whatever is unsettled goes back to its queue.
   */
  async #drain(consumers: readonly Consumer[]): Promise<void> {
    this.#status = 'stopping';
    await this.#stop.untilForced(Promise.allSettled(consumers.map((c) => c.cancel())));
    await this.#stop.untilForced(this.#work.idle());
    await this.#stop.untilForced(Promise.allSettled(consumers.map((c) => c.close())));
  }

  /** Runs a hook; one that throws is logged, and breaks nothing. */
  #hook(hook: () => void): void {
    try {
      hook();
    } catch (error) {
      this.#logger.error('a worker hook threw', { error: errorSummary(error).message });
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
