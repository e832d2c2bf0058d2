/**
 * kombu's drain loop, `while True: connection.drain_events(timeout=1)`, for code ported line by line.
 *
 * In kombu, nothing is delivered unless somebody calls `drain_events`: it reads the socket and runs
 * the consumers' callbacks. In Node the event loop already does that, so the consumers of a
 * {@link Connection} handle their deliveries whether or not anybody drains, and
 * {@link Connection.drainEvents} only *waits*: it resolves once a consumer of this connection has
 * handled at least one delivery since the previous drain (at once when some were handled in between:
 * in kombu they would have waited in the socket for this call), or rejects with a
 * {@link TimeoutError} (kombu's `socket.timeout`) when none was within `timeout`. A handler
 * consumer or a `for await` loop stays the Node idiom; this is the bridge for kombu-shaped loops.
 *
 * @module
 */
import { ConnectionClosedError, InvalidArgumentError, TimeoutError } from '../errors.js';
import { clampTimerMs } from '../internal/sleep.js';

/** Options of {@link Connection.drainEvents}. */
export interface DrainEventsOptions {
  /**
   * Seconds (kombu's unit, like `heartbeat`) to wait for the first handled delivery; fractions are
   * fine. Left out, the wait ends only with a delivery, the `signal`, or the connection's close.
   * @defaultValue no bound
   */
  readonly timeout?: number;
  /** Ends the wait early, rejecting with the signal's reason. @defaultValue undefined */
  readonly signal?: AbortSignal;
}

interface Waiter {
  count: number;
  resolve(count: number): void;
  reject(error: Error): void;
}

/**
 * Where the consumers of one connection report the deliveries they handled, and where
 * {@link Connection.drainEvents} waits for them. One per connection, so a shared
 * {@link Instrumentation} never lets another connection's deliveries end a drain.
 *
 * @internal
 */
export class DrainEvents {
  readonly #waiters = new Set<Waiter>();
  readonly #describe: () => string;
  /** Deliveries handled while nobody was draining: the next drain reports them at once. */
  #undrained = 0;

  /** @param describe - names the connection in error messages (redacted). */
  constructor(describe: () => string) {
    this.#describe = describe;
  }

  /**
   * A consumer is done with one delivery: its handler returned or threw, its decode-error hook ran,
   * or it handed the message to its `for await` loop.
   */
  handled(): void {
    if (this.#waiters.size === 0) {
      this.#undrained++;
      return;
    }
    for (const waiter of this.#waiters) {
      // The first delivery settles the wait; the ones finishing in the same turn still count.
      if (waiter.count++ === 0) queueMicrotask(() => waiter.resolve(waiter.count));
    }
  }

  /** Rejects every wait: the connection closed. */
  close(): void {
    const error = new ConnectionClosedError(`connection to ${this.#describe()} closed while draining events`);
    for (const waiter of [...this.#waiters]) waiter.reject(error);
  }

  /**
   * Resolves with the number of deliveries handled (at least 1) since the previous drain ended: at
   * once when some were handled in between (in kombu they would have waited in the socket for this
   * call), else when the next one is.
   *
   * @throws {@link TimeoutError} when none was within `timeout` seconds.
   * @throws {@link InvalidArgumentError} for a negative or `NaN` timeout.
   */
  wait(options: DrainEventsOptions = {}): Promise<number> {
    const { timeout, signal } = options;
    if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
      return Promise.reject(new InvalidArgumentError(`drainEvents timeout must be seconds ≥ 0, got ${timeout}`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#undrained > 0) {
      const count = this.#undrained;
      this.#undrained = 0;
      return Promise.resolve(count);
    }
    return new Promise<number>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => finish(() => reject(signal?.reason));
      const waiter: Waiter = {
        count: 0,
        resolve: (count) => finish(() => resolve(count)),
        reject: (error) => finish(() => reject(error)),
      };
      const finish = (settle: () => void): void => {
        if (!this.#waiters.delete(waiter)) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(
          () => {
            // A delivery handled in this very turn wins over the timer.
            if (waiter.count > 0) return;
            waiter.reject(new TimeoutError(`no message was handled on ${this.#describe()} within ${timeout} s`));
          },
          clampTimerMs(timeout * 1000),
        );
      }
    });
  }
}
