/**
 * The push-to-pull bridge behind `for await (const message of consumer)`: the transport pushes
 * deliveries as they arrive, and the loop pulls them at its own pace. Its `return` hook is how
 * breaking out of the loop stops the consumer and hands back the messages the loop never saw.
 *
 * @module
 */
import { InvalidOperationError } from '../errors.js';

/**
 * A push-fed async iterator: producers `push()`, one `for await` loop pulls. Breaking out of the
 * loop runs `onReturn` (the consumer uses it to stop and hand back what was not processed).
 */
export class QueuedIterator<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  #head = 0;
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #failWaiting: ((error: unknown) => void) | undefined;
  #done = false;
  #error: unknown;
  #iterating = false;

  constructor(private readonly onReturn: (pending: T[]) => Promise<void> | void = () => {}) {}

  /** Items queued and not yet pulled. */
  get pending(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    if (this.#done) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      this.#failWaiting = undefined;
      waiting({ value: item, done: false });
      return;
    }
    this.#items.push(item);
  }

  /** Ends iteration after the queued items (or at once with `error`). */
  stop(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    if (this.#waiting) {
      const [resolve, reject] = [this.#waiting, this.#failWaiting];
      this.#waiting = undefined;
      this.#failWaiting = undefined;
      if (error !== undefined) reject?.(error);
      else resolve({ value: undefined, done: true });
    }
  }

  /** Takes every queued item out (used to hand them back when stopping). */
  drainPending(): T[] {
    const out = this.#items.slice(this.#head);
    this.#items.length = 0;
    this.#head = 0;
    return out;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head] as T;
      this.#items[this.#head++] = undefined as T;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items.splice(0, this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) {
      return this.#error !== undefined
        ? Promise.reject(this.#error)
        : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#failWaiting = reject;
    });
  }

  async return(): Promise<IteratorResult<T>> {
    const pending = this.drainPending();
    this.stop();
    await this.onReturn(pending);
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    if (this.#iterating) throw new InvalidOperationError('this consumer is already being iterated; iterate it once');
    this.#iterating = true;
    return this;
  }
}
