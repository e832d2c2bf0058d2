/**
 * The dashboard's view of the broker, refreshed every round: each queue's ready count and
 * consumers (as `wakame inspect` reads them), its depth history and net rate, which queues hold
 * dead letters, and the health of the workers named with `--worker`. Rounds run one at a time on
 * a timer; the page hears each snapshot over Server-Sent Events.
 *
 * @module
 */
import {
  ChannelError,
  type Connection,
  DEFAULT_DEAD_LETTER_QUEUE,
  type DesiredTopology,
  NotFoundError,
  WakameError,
} from '@wakame/core';
import { observeQueues } from '../commands/inspect.js';
import { passiveSpec } from '../commands/publish.js';
import { DepthHistory } from './history.js';
import { probeWorker, type WorkerStatus } from './workers.js';

/** One queue as the page shows it. */
export interface QueueView {
  readonly name: string;
  readonly ready: number;
  /** `null` when unknown (a queue exclusive to another connection). */
  readonly consumers: number | null;
  /** Dead letters land here (a dead-letter target in the topology, or the worker's default queue). */
  readonly deadLetter: boolean;
  /** Net change of the ready count, messages per second; `null` until two rounds are in. */
  readonly rate: number | null;
  /** Recent ready counts, oldest first, for the sparkline. */
  readonly history: readonly number[];
}

/** What every round produces. */
export interface Snapshot {
  /** Epoch milliseconds of the round. */
  readonly at: number;
  /** The broker URL, password masked. */
  readonly url: string;
  readonly queues: readonly QueueView[];
  readonly workers: readonly WorkerStatus[];
  /**
   * `broker`: every queue the broker lists; `topology`: the broker offers no listing (RabbitMQ without its
   * management API), so only the topology file's queues are shown.
   */
  readonly listing: 'broker' | 'topology';
  /** Why this round could not read the broker; the queues are then the last ones read. */
  readonly error?: { readonly code: string; readonly message: string };
}

export interface MonitorOptions {
  readonly connection: Connection;
  readonly desired?: DesiredTopology;
  readonly workers: readonly string[];
  readonly intervalMs: number;
}

/** Polls the broker and the workers; {@link Monitor.subscribe} to hear each snapshot. */
export class Monitor {
  readonly #options: MonitorOptions;
  readonly #history = new DepthHistory();
  readonly #deadLetterQueues: ReadonlySet<string>;
  readonly #listeners = new Set<(snapshot: Snapshot) => void>();
  #latest: Snapshot;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<Snapshot> | undefined;

  constructor(options: MonitorOptions) {
    this.#options = options;
    this.#deadLetterQueues = deadLetterQueues(options.desired);
    this.#latest = { at: Date.now(), url: options.connection.url, queues: [], workers: [], listing: 'broker' };
  }

  get latest(): Snapshot {
    return this.#latest;
  }

  /** Runs a round now and then every interval until {@link Monitor.stop}. */
  async start(): Promise<Snapshot> {
    const first = await this.refresh();
    const tick = (): void => {
      this.#timer = setTimeout(() => {
        void this.refresh().finally(() => {
          if (this.#timer !== undefined) tick();
        });
      }, this.#options.intervalMs);
    };
    tick();
    return first;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Runs a round (or joins the one running), e.g. right after an action, so the page sees its effect at once. */
  refresh(): Promise<Snapshot> {
    this.#round ??= this.#read().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  subscribe(listener: (snapshot: Snapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether `queue` holds dead letters (the replay action is offered for those only). */
  isDeadLetterQueue(queue: string): boolean {
    return this.#deadLetterQueues.has(queue);
  }

  async #read(): Promise<Snapshot> {
    const { connection } = this.#options;
    const workers = Promise.all(this.#options.workers.map(probeWorker));
    let snapshot: Snapshot;
    try {
      const { depths, listing } = await this.#depths();
      const at = Date.now();
      this.#history.record(at, new Map([...depths].map(([name, d]) => [name, d.ready])));
      const queues = [...depths].map(([name, d]) => ({
        name,
        ready: d.ready,
        consumers: d.consumers,
        deadLetter: this.#deadLetterQueues.has(name),
        rate: this.#history.netRate(name),
        history: this.#history.of(name).map((s) => s.ready),
      }));
      snapshot = { at, url: connection.url, queues, workers: await workers, listing };
    } catch (error) {
      const code = error instanceof WakameError ? error.code : 'ERR_BROKER_READ';
      const message = error instanceof Error ? error.message : String(error);
      snapshot = { ...this.#latest, at: Date.now(), workers: await workers, error: { code, message } };
    }
    this.#latest = snapshot;
    for (const listener of this.#listeners) listener(snapshot);
    return snapshot;
  }

  /**
   * Ready count and consumers per queue, by name. The broker's listing when it has one; else (RabbitMQ without
   * the management API) the topology's queues, each declared passively.
   */
  async #depths(): Promise<{
    depths: Map<string, { ready: number; consumers: number | null }>;
    listing: Snapshot['listing'];
  }> {
    const { connection, desired } = this.#options;
    const report = await observeQueues(connection);
    const depths = new Map<string, { ready: number; consumers: number | null }>();
    if (report.complete || desired === undefined) {
      for (const q of report.queues) depths.set(q.name, { ready: q.ready, consumers: q.consumers });
      return { depths, listing: 'broker' };
    }
    for (const q of desired.queues) {
      try {
        const { messageCount, consumerCount } = await connection.admin.declareQueue(passiveSpec(q.name), {
          passive: true,
        });
        depths.set(q.name, { ready: messageCount, consumers: consumerCount });
      } catch (error) {
        // Not declared yet (before `apply`), or exclusive elsewhere: shown once it can be read.
        if (!(error instanceof NotFoundError || error instanceof ChannelError)) throw error;
      }
    }
    return { depths, listing: 'topology' };
  }
}

/**
 * The queues dead letters land in: the worker's default dead-letter queue, the queues tasks name as their
 * dead-letter queue, and every queue bound to an exchange that queues or tasks dead-letter to (or, through the
 * default exchange, the queue their dead-letter routing key names).
 */
export function deadLetterQueues(desired: DesiredTopology | undefined): Set<string> {
  const queues = new Set<string>([DEFAULT_DEAD_LETTER_QUEUE]);
  if (desired === undefined) return queues;
  const exchanges = new Set<string>();
  const targets = [
    ...desired.queues.map((q) => q.deadLetter),
    ...desired.tasks.map(
      (t) => t.deadLetter && { exchange: t.deadLetter.exchange, routingKey: t.deadLetter.routingKey },
    ),
  ];
  for (const target of targets) {
    if (target?.exchange === undefined) continue;
    if (target.exchange === '') {
      if (target.routingKey !== undefined) queues.add(target.routingKey);
    } else exchanges.add(target.exchange);
  }
  for (const t of desired.tasks) if (t.deadLetter?.queue !== undefined) queues.add(t.deadLetter.queue);
  for (const b of desired.bindings) {
    if (b.destinationType === 'queue' && exchanges.has(b.source)) queues.add(b.destination);
  }
  return queues;
}
