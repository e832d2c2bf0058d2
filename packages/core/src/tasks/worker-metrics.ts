/**
 * A worker's metrics in Prometheus form (prom-client), in a registry of the worker's own: two workers in one process
 * never share (or collide on) a metric. Counts come from the connection's instrumentation events and the worker's
 * task outcomes; gauges are read at scrape time. Labels are bounded: queue, task, outcome (never message ids).
 *
 * Nothing here runs, and no event has a listener, unless a worker serves its health (metrics on).
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Connection } from '../messaging/connection.js';
import { Queue } from '../model/queue.js';
import { collectFrom, LabelCounts } from './label-counts.js';
import { LabelHistogram } from './label-histogram.js';
import type { WorkerHealth } from './worker-health.js';
import type { ObservedScheduleEvent, ObservedTask } from './worker-observer.js';

/** Queue depth sampling at scrape time: a passive declare per queue, cached and bounded by a timeout. */
export interface QueueDepthOptions {
  /** Reuse a sample this long (ms), so frequent scrapes do not hit the broker each time. @defaultValue 5000 */
  readonly cacheMs?: number;
  /** Give up on a queue's sample after this long (ms); its depth is then left out of the scrape. @defaultValue 1000 */
  readonly timeoutMs?: number;
}

/** What the metrics read from the worker at scrape time. */
export interface MetricsSource {
  health(): WorkerHealth;
  readonly connection: Connection | undefined;
  /** Each consumer's queues and prefetch window. */
  readonly consumers: readonly { readonly queues: readonly string[]; readonly prefetch: number }[];
  /** Whether the worker holds the schedules' lease now (absent: it runs no schedules). */
  readonly scheduleLeader?: () => boolean;
}

/** Prometheus-friendly outcomes of a schedule's slot. */
const SCHEDULE_OUTCOMES: Readonly<Record<string, string>> = { fired: 'sent', skipped: 'skipped', error: 'failed' };

/** Prometheus-friendly outcome names (snake case, past tense). */
const TASK_OUTCOMES: Readonly<Record<string, string>> = {
  done: 'done',
  retry: 'retried',
  'dead-letter': 'dead_lettered',
  returned: 'returned',
};

/** Handler durations from 5 ms to 5 min. */
const TASK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Broker confirms: from 0.5 ms to 10 s. */
const CONFIRM_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * The metrics of one worker: counters fed by events and task outcomes, gauges read from the worker at scrape time.
 * Also tracks, per queue, the messages delivered and not settled yet (for `/readyz` and `wakame_messages_in_flight`).
 */
export class WorkerMetrics {
  readonly registry: Registry;
  readonly #source: MetricsSource;
  readonly #depth: Required<QueueDepthOptions> | false;
  readonly #unsettled = new Map<string, number>();
  readonly #depthCache = new Map<string, { at: number; sample: Promise<number | undefined> }>();
  /** Per-message counts, read by their counters at scrape time (see `label-counts.ts`). */
  readonly #received = new LabelCounts(['queue']);
  readonly #settled = new LabelCounts(['queue', 'outcome']);
  readonly #tasks = new LabelCounts(['queue', 'task', 'outcome']);
  readonly #duration: LabelHistogram;
  readonly #reconnects: Counter;
  readonly #confirms: Histogram;
  readonly #scheduleRuns: Counter<'schedule' | 'outcome'>;
  #connection: Connection | undefined;
  #unlisten: (() => void)[] = [];
  #lost = false;

  constructor(source: MetricsSource, options: { registry?: Registry; queueDepth?: QueueDepthOptions | false } = {}) {
    this.#source = source;
    this.registry = options.registry ?? new Registry();
    this.#depth = options.queueDepth === false ? false : { cacheMs: 5000, timeoutMs: 1000, ...options.queueDepth };
    const registers = [this.registry];
    new Counter({
      name: 'wakame_messages_received_total',
      help: 'Messages delivered to this worker, per queue.',
      labelNames: ['queue'],
      registers,
      collect: collectFrom(this.#received),
    });
    new Counter({
      name: 'wakame_messages_settled_total',
      help: 'Messages settled by this worker, per queue and outcome (ack, requeue, reject).',
      labelNames: ['queue', 'outcome'],
      registers,
      collect: collectFrom(this.#settled),
    });
    new Counter({
      name: 'wakame_tasks_total',
      help: 'Task messages handled, per queue, task and outcome (done, retried, dead_lettered, returned).',
      labelNames: ['queue', 'task', 'outcome'],
      registers,
      collect: collectFrom(this.#tasks),
    });
    this.#duration = new LabelHistogram({
      name: 'wakame_task_duration_seconds',
      help: 'Time from a task message reaching its handler until it was settled, per task.',
      labelName: 'task',
      buckets: TASK_BUCKETS,
    });
    this.#duration.registerIn(this.registry);
    this.#reconnects = new Counter({
      name: 'wakame_connection_reconnects_total',
      help: 'Times the worker was connected again after losing its connection.',
      registers,
    });
    this.#confirms = new Histogram({
      name: 'wakame_publish_confirm_duration_seconds',
      help: 'Time from handing a message to the transport until the broker confirmed it (retries, dead letters, replies).',
      buckets: CONFIRM_BUCKETS,
      registers,
    });
    this.#scheduleRuns = new Counter({
      name: 'wakame_schedule_runs_total',
      help: 'Slots of each schedule this worker handled as the leader, per outcome (sent, skipped, failed).',
      labelNames: ['schedule', 'outcome'],
      registers,
    });
    this.#gauges(registers);
  }

  /** What the worker's scheduler did (the worker's observer callback): slots sent, skipped or failed are counted. */
  scheduleEvent(event: ObservedScheduleEvent): void {
    const outcome = SCHEDULE_OUTCOMES[event.type];
    if (outcome !== undefined && event.schedule !== undefined)
      this.#scheduleRuns.inc({ schedule: event.schedule, outcome });
  }

  /** A task finished (the worker's observer callback). */
  taskFinished(task: ObservedTask): void {
    this.#tasks.add(task.queue, task.task, TASK_OUTCOMES[task.type] ?? task.type);
    this.#duration.observe(task.task, task.durationMs / 1000);
  }

  /** The worker is connected (again): listen to this connection's events, and count a reconnection after a loss. */
  connected(connection: Connection): void {
    if (this.#lost) this.#reconnects.inc();
    this.#lost = false;
    if (connection === this.#connection) return;
    this.#detach();
    this.#connection = connection;
    // The deliveries of another connection will never be settled through this one.
    this.#unsettled.clear();
    const events = connection.events;
    this.#unlisten = [
      events.on('consumer.deliver', ({ payload }) => {
        this.#received.add(payload.queue);
        this.#unsettled.set(payload.queue, (this.#unsettled.get(payload.queue) ?? 0) + 1);
      }),
      events.on('message.settle', ({ payload }) => {
        this.#settled.add(payload.queue, payload.outcome);
        const left = (this.#unsettled.get(payload.queue) ?? 0) - 1;
        this.#unsettled.set(payload.queue, Math.max(0, left));
      }),
      events.on('connection.lost', () => {
        this.#lost = true;
        // The broker takes back what was delivered on the lost connection.
        this.#unsettled.clear();
      }),
      events.on('producer.publish', ({ payload }) => {
        if (payload.confirmMs !== undefined) this.#confirms.observe(payload.confirmMs / 1000);
      }),
    ];
  }

  /** Messages delivered from `queue` and not settled yet (counted since the metrics started). */
  inFlight(queue: string): number {
    return this.#unsettled.get(queue) ?? 0;
  }

  /** The scrape, in the Prometheus text format. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** Stops listening; the registry keeps its values. */
  close(): void {
    this.#detach();
    this.#connection = undefined;
  }

  #detach(): void {
    for (const off of this.#unlisten) off();
    this.#unlisten = [];
  }

  /** Gauges read at scrape time. */
  #gauges(registers: Registry[]): void {
    const source = this.#source;
    const inFlight = (queue: string): number => this.inFlight(queue);
    const depthOf = (queue: string): Promise<number | undefined> => this.#depthOf(queue);
    new Gauge({
      name: 'wakame_messages_in_flight',
      help: 'Messages delivered to this worker and not settled yet, per queue.',
      labelNames: ['queue'],
      registers,
      collect() {
        this.reset();
        for (const queue of source.health().queues.map((q) => q.queue)) this.set({ queue }, inFlight(queue));
      },
    });
    new Gauge({
      name: 'wakame_handlers_running',
      help: 'Handlers running now.',
      registers,
      collect() {
        this.set(source.health().inFlight);
      },
    });
    new Gauge({
      name: 'wakame_consumer_prefetch',
      help: 'Prefetch window of the consumer of each queue (shared by the queues of one consumer).',
      labelNames: ['queue'],
      registers,
      collect() {
        this.reset();
        for (const { queues, prefetch } of source.consumers) for (const queue of queues) this.set({ queue }, prefetch);
      },
    });
    new Gauge({
      name: 'wakame_queue_subscribed',
      help: '1 when the worker holds a live subscription to the queue, else 0.',
      labelNames: ['queue'],
      registers,
      collect() {
        this.reset();
        for (const q of source.health().queues) this.set({ queue: q.queue }, q.subscribed ? 1 : 0);
      },
    });
    new Gauge({
      name: 'wakame_schedule_leader',
      help: "1 while this worker holds the schedules' lease and sends their runs, else 0.",
      registers,
      collect() {
        this.set(source.scheduleLeader?.() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'wakame_worker_ready',
      help: '1 when the worker is connected and subscribed to every queue (what /readyz reports), else 0.',
      registers,
      collect() {
        const health = source.health();
        this.set(health.status === 'ready' && health.healthy ? 1 : 0);
      },
    });
    if (this.#depth === false) return;
    new Gauge({
      name: 'wakame_queue_messages',
      help: 'Messages ready in each queue, as the broker reports them (sampled at scrape time, cached briefly).',
      labelNames: ['queue'],
      registers,
      async collect() {
        this.reset();
        const queues = source.health().queues.map((q) => q.queue);
        const depths = await Promise.all(queues.map(depthOf));
        queues.forEach((queue, i) => {
          const depth = depths[i];
          if (depth !== undefined) this.set({ queue }, depth);
        });
      },
    });
  }

  /** A cached passive declare of `queue`; undefined when not connected, failed or too slow. */
  #depthOf(queue: string): Promise<number | undefined> {
    const depth = this.#depth;
    const connection = this.#source.connection;
    if (depth === false || connection?.isConnected !== true) return Promise.resolve(undefined);
    const cached = this.#depthCache.get(queue);
    if (cached && Date.now() - cached.at < depth.cacheMs) return cached.sample;
    const sample = withTimeout(
      connection.admin.declareQueue(new Queue(queue), { passive: true }).then((result) => result.messageCount),
      depth.timeoutMs,
      () => undefined,
    );
    this.#depthCache.set(queue, { at: Date.now(), sample });
    return sample;
  }
}

/**
 * `promise`, or `fallback()` when it takes longer than `ms` (or fails). Here for the depth samples and for the
 * health server's `/readyz`, which imports it (the health server imports this module, not the other way round).
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback()), ms);
  });
  try {
    return await Promise.race([promise.catch(fallback), late]);
  } finally {
    clearTimeout(timer);
  }
}
