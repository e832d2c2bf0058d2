/**
 * Who must look at which queue, and when. Listeners are the transports' dispatchers; consumed queues
 * are counted per process. Wake-ups come from this process's own writes at once, and from other
 * processes' either by the database's notifications (PostgreSQL `LISTEN`) or, where it has none
 * (MariaDB/MySQL), by a {@link Poller}.
 *
 * @module
 */

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
