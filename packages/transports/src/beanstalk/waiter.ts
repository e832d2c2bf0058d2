/**
 * Wake-ups without polling. beanstalkd tells a client about a new job only by answering a blocking
 * `reserve`, and a connection waiting in `reserve` can do nothing else, so each consumed queue gets a
 * waiter connection of its own. Armed when a claim found the queue empty, it waits in
 * `reserve-with-timeout`; when a job comes, it releases it at once (same priority, so its place in the
 * queue is unchanged) and tells the store, whose consumers then claim it on their own connection.
 *
 * @module
 */
import type { BeanstalkClient } from './client.js';

/** How long one blocking reserve waits before it is issued again (seconds). */
const WAIT_SECONDS = 5;

/** Waits for the next job of one tube while armed. */
export class Waiter {
  #armed = false;
  #running = false;
  #closed = false;

  constructor(
    private readonly client: BeanstalkClient,
    private readonly wake: () => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** A claim found the queue empty: wait for the next job. */
  arm(): void {
    if (this.#closed) return;
    this.#armed = true;
    if (!this.#running) void this.#run();
  }

  close(): void {
    this.#closed = true;
    this.#armed = false;
    // A reserve waiting on the server ends with the connection; nothing it held stays held.
    this.client.close();
  }

  get closed(): boolean {
    return this.#closed || this.client.closed;
  }

  /**
   * The wait loop. `#running` is cleared in the same step as the loop ends, so an `arm()` that comes
   * after that step starts a new loop, and one that comes before it is seen by the loop's condition:
   * no wake-up falls in between.
   */
  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#armed && !this.#closed) {
        const job = await this.client.reserve(WAIT_SECONDS);
        if (!job) continue;
        const stats = await this.client.statsJob(job.id);
        await this.client.release(job.id, Number(stats?.pri ?? 0));
        this.#armed = false;
        this.wake();
      }
    } catch (error) {
      if (this.#closed) return;
      this.onError(error);
      // The connection is gone (a server restart): the consumers claim again, which opens new
      // connections, or retries later while the server is away; finding the queue empty re-arms a waiter.
      this.#armed = false;
      this.wake();
    } finally {
      this.#running = false;
    }
  }
}
