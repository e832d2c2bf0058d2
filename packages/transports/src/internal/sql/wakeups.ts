/**
 * Who must look at which queue, and when. Listeners are the transports' dispatchers; consumed queues
 * are counted per process. Wake-ups come from this process's own writes at once, and from other
 * processes' either by the database's notifications (PostgreSQL `LISTEN`) or, where it has none
 * (MariaDB/MySQL), by a {@link Poller}.
 *
 * @module
 */
import type { SqlDialect } from './dialect.js';
import { REVISION_ROW } from './migrate.js';
import type { Epoch } from './sql-topology.js';

export class SqlWakeups {
  readonly #listeners = new Set<(queue: string) => void>();
  readonly #consumed = new Map<string, number>();

  listen(listener: (queue: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A consumer of `queue` started in this process; the returned function ends it (idempotent). */
  consume(queue: string): () => void {
    this.#consumed.set(queue, (this.#consumed.get(queue) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#consumed.get(queue) ?? 1) - 1;
      if (left > 0) this.#consumed.set(queue, left);
      else this.#consumed.delete(queue);
    };
  }

  /** Consumers of `queue` in this process. */
  consumers(queue: string): number {
    return this.#consumed.get(queue) ?? 0;
  }

  /** Queues consumed in this process. */
  consumed(): string[] {
    return [...this.#consumed.keys()];
  }

  /** `queue` may have ready messages. */
  notify(queue: string): void {
    for (const listener of this.#listeners) listener(queue);
  }

  /** Every consumed queue may (a reconnect, a topology change, the safety net). */
  all(): void {
    for (const queue of this.#consumed.keys()) this.notify(queue);
  }
}

/** Options of {@link Poller}. */
export interface PollerOptions {
  /** The interval right after activity (ms). @defaultValue 5 */
  readonly minMs?: number;
  /** The interval it doubles up to while idle (ms). @defaultValue 200 */
  readonly maxMs?: number;
}

/**
 * Runs `tick` on an unref'd timer that starts at `minMs`, doubles up to `maxMs` while ticks find
 * nothing, and drops back to `minMs` when one finds something or {@link Poller.poke} reports activity.
 * So an idle store costs one cheap query per `maxMs`, and a message from another process waits at
 * most `maxMs` (about `minMs` while traffic flows).
 */
export class Poller {
  readonly #min: number;
  readonly #max: number;
  #delay: number;
  #timer: NodeJS.Timeout | undefined;
  #due = 0;
  #running = false;
  #stopped = false;

  constructor(
    private readonly tick: () => Promise<boolean>,
    private readonly onError: (error: unknown) => void,
    options: PollerOptions = {},
  ) {
    this.#min = options.minMs ?? 5;
    this.#max = options.maxMs ?? 200;
    this.#delay = this.#min;
  }

  start(): void {
    this.#arm(this.#min);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Something happened: poll again soon. */
  poke(): void {
    this.#delay = this.#min;
    if (!this.#running && this.#due - Date.now() > this.#min) this.#arm(this.#min);
  }

  #arm(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#due = Date.now() + ms;
    this.#timer = setTimeout(() => void this.#run(), ms);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      const found = await this.tick();
      this.#delay = found ? this.#min : Math.min(this.#delay * 2, this.#max);
    } catch (error) {
      this.#delay = this.#max;
      this.onError(error);
    } finally {
      this.#running = false;
    }
    this.#arm(this.#delay);
  }
}

/**
 * What a {@link Poller} ticks, for a store without notifications: in one statement, the topology
 * revision (a change moves the epoch, so routing is recompiled, and wakes every consumer) and, per
 * queue consumed here, whether it has a ready message (an index probe each), which wakes that queue.
 */
export class RevisionProbe {
  #lastRevision: number | undefined;

  constructor(
    private readonly dialect: SqlDialect,
    private readonly wakeups: SqlWakeups,
    private readonly epoch: Epoch,
    /** The probe of one queue: a `SELECT 1 … LIMIT 1` with one `?`, the queue's name. */
    private readonly probe: string,
  ) {}

  /** Whether anything may have arrived. */
  async poll(): Promise<boolean> {
    const queues = this.wakeups.consumed();
    const probes = queues.map((_, i) => `, (${this.probe}) AS q${i}`);
    const sql = `SELECT (SELECT value FROM ${this.dialect.tables.schema} WHERE name = ?) AS rev${probes.join('')}`;
    const { rows } = await this.dialect.query(sql, [REVISION_ROW, ...queues]);
    const row = rows[0] ?? {};
    let found = false;
    const revision = Number(row.rev);
    if (this.#lastRevision !== undefined && revision !== this.#lastRevision) {
      this.epoch.value++;
      this.wakeups.all();
      found = true;
    }
    this.#lastRevision = revision;
    for (const [i, queue] of queues.entries()) {
      if (row[`q${i}`] === null || row[`q${i}`] === undefined) continue;
      this.wakeups.notify(queue);
      found = true;
    }
    return found;
  }
}

/** Runs `task` every `ms` on a timer that does not keep the process alive; failures go to `report`. */
export function unrefInterval(
  ms: number,
  task: () => Promise<unknown>,
  report: (error: unknown) => void,
): NodeJS.Timeout {
  const timer = setInterval(() => void task().catch(report), ms);
  timer.unref();
  return timer;
}
