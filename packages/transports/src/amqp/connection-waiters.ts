/**
 * Callers of {@link AmqpTransport.connection} that wait for the live connection while the transport
 * recovers: each gets the connection once it is ready again, or fails when the transport closes or
 * its own wait runs out.
 *
 * @module
 */
import { TimeoutError } from '@wakame/core/spi';
import type { ChannelModel } from 'amqplib';

interface Waiter {
  readonly resolve: (c: ChannelModel) => void;
  readonly reject: (e: Error) => void;
}

export class ConnectionWaiters {
  #waiters: Waiter[] = [];

  /** Waits for the connection, at most `timeoutMs` (then fails with a {@link TimeoutError}). */
  wait(timeoutMs: number): Promise<ChannelModel> {
    return new Promise<ChannelModel>((resolve, reject) => {
      const waiter = {
        resolve: (c: ChannelModel) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new TimeoutError(`the broker was unreachable for ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** The connection is ready: every waiter gets it. */
  resolveAll(conn: ChannelModel): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve(conn);
  }

  /** The transport closed: every waiter fails with `error`. */
  rejectAll(error: Error): void {
    for (const w of this.#waiters) w.reject(error);
    this.#waiters = [];
  }
}
