/**
 * Publishing on a confirm channel, many confirms in flight at once (a promise per publish must not
 * mean a round trip per publish), with backpressure, `mandatory` returns matched to their publish,
 * and no message lost across a channel or connection loss: unconfirmed messages are sent again on
 * the next channel (at-least-once), until their deadline.
 */
import type { OutboundMessage, PublishTarget } from '@wakame/core/spi';
import { NotFoundError, PublishRejectedError, TimeoutError, UnroutableError, type WakameError } from '@wakame/core/spi';
import type { Message as AmqpMessage, ConfirmChannel, Options } from 'amqplib';
import { fromAmqpError, isConnectionError } from './errors.js';
import { toPublishOptions } from './mapping.js';

/** A publish not yet confirmed. */
interface Pending {
  readonly message: OutboundMessage;
  readonly target: PublishTarget;
  readonly options: Options.Publish;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  /** Times written to a channel; bounded so a message that kills channels cannot loop. */
  writes: number;
  done: boolean;
  unlisten: (() => void) | undefined;
}

/** A message the broker returned (mandatory, unroutable). */
interface Returned {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
}

const MAX_WRITES = 3;
const SWEEP_INTERVAL_MS = 200;

/** The publishing half of an AMQP connection. */
export class Publisher {
  #channel: ConfirmChannel | undefined;
  /** Written to no channel yet: waiting for a channel, for `drain`, or to be sent again. */
  readonly #waiting: Pending[] = [];
  /** Written and not yet confirmed, in publish order. */
  readonly #inflight = new Set<Pending>();
  #returns: Returned[] = [];
  #draining = false;
  /**
   * The current channel threw on publish: it is closing, though its 'close' event (and our detach) may
   * come later. amqplib fails the unconfirmed callbacks from its own 'close' listener first, and their
   * retry must not write to the dead channel again: that was a synchronous loop that froze the process.
   */
  #dead = false;
  #sweeper: NodeJS.Timeout | undefined;
  #closedWith: Error | undefined;

  constructor(
    /** Default deadline of a publish (ms): waiting for a channel plus waiting for the confirm. */
    private readonly timeoutMs: number,
    /** Called when the channel closed on its own (not with the connection): the owner opens another. */
    private readonly onChannelLost: (error: WakameError) => void,
  ) {}

  /** Publishes are written now; messages waiting (or unconfirmed on a lost channel) are sent again. */
  attach(channel: ConfirmChannel): void {
    this.#channel = channel;
    this.#draining = false;
    this.#dead = false;
    this.#returns = [];
    let closeError: Error | undefined;
    channel.on('error', (error: Error) => {
      closeError = error;
    });
    channel.on('return', (m: AmqpMessage) => {
      this.#returns.push({ exchange: m.fields.exchange, routingKey: m.fields.routingKey, content: m.content });
    });
    channel.on('drain', () => {
      if (this.#channel !== channel) return;
      this.#draining = false;
      this.#flush();
    });
    channel.on('close', () => {
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      const error = closeError === undefined ? undefined : fromAmqpError(closeError);
      if (error && !isConnectionError(closeError)) this.onChannelLost(error);
    });
    this.#flush();
  }

  /** The current confirm channel (direct reply-to consumes on it). */
  get channel(): ConfirmChannel | undefined {
    return this.#channel;
  }

  /** The channel went with its connection: keep everything for the next one. */
  detach(): void {
    this.#channel = undefined;
  }

  /** Resolves once the broker confirmed the message; rejects with a typed error otherwise. */
  publish(message: OutboundMessage, target: PublishTarget): Promise<void> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    return new Promise<void>((resolve, reject) => {
      const p: Pending = {
        message,
        target,
        options: toPublishOptions(message.properties, target.mandatory ?? false),
        deadline: Date.now() + this.timeoutMs,
        resolve,
        reject,
        writes: 0,
        done: false,
        unlisten: undefined,
      };
      const signal = target.signal;
      if (signal) {
        if (signal.aborted) {
          reject(abortReason(signal));
          return;
        }
        const onAbort = (): void => this.#finish(p, abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        p.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      const channel = this.#writable();
      if (channel && this.#waiting.length === 0) this.#write(p, channel);
      else this.#waiting.push(p);
      this.#armSweeper();
    });
  }

  /** Fails everything (the connection is closed for good). */
  close(error: Error): void {
    this.#closedWith = error;
    this.#channel = undefined;
    for (const p of [...this.#waiting, ...this.#inflight]) this.#finish(p, error);
    this.#waiting.length = 0;
    this.#inflight.clear();
    clearInterval(this.#sweeper);
  }

  /** Publishes not yet confirmed (waiting or in flight). */
  get pending(): number {
    return this.#waiting.length + this.#inflight.size;
  }

  #flush(): void {
    for (let channel = this.#writable(); channel && this.#waiting.length > 0; channel = this.#writable()) {
      const p = this.#waiting.shift() as Pending;
      if (!p.done) this.#write(p, channel);
    }
  }

  /** The channel to write to now: none while there is none, its buffer is full, or it is dead. */
  #writable(): ConfirmChannel | undefined {
    return this.#draining || this.#dead ? undefined : this.#channel;
  }

  #write(p: Pending, channel: ConfirmChannel): void {
    p.writes++;
    this.#inflight.add(p);
    const { exchange, routingKey } = p.target;
    let ok: boolean;
    try {
      ok = channel.publish(exchange, routingKey, p.message.body, p.options, (err: unknown) => this.#confirmed(p, err));
    } catch {
      // The channel closed under us (amqplib throws synchronously): keep the message for the next one.
      this.#inflight.delete(p);
      p.writes--;
      this.#waiting.unshift(p);
      if (channel === this.#channel) this.#dead = true;
      return;
    }
    // amqplib buffered it but its buffer is above the high-water mark: stop writing until 'drain'.
    if (!ok) this.#draining = true;
  }

  #confirmed(p: Pending, err: unknown): void {
    this.#inflight.delete(p);
    if (p.done) return;
    if (err === null || err === undefined) {
      if (p.target.mandatory && this.#takeReturn(p)) {
        this.#finish(p, new UnroutableError(p.target.exchange, p.target.routingKey));
      } else {
        this.#finish(p);
      }
      return;
    }
    if (err instanceof Error && err.message === 'message nacked') {
      this.#finish(p, new PublishRejectedError('the broker refused the message (negative publisher confirm)'));
      return;
    }
    // The channel closed with the message unconfirmed. Why is known from the channel's own error,
    // which the owner reports; here: a publish to a missing exchange is this message's fault, any
    // other loss is not, and the message is sent again on the next channel.
    this.#retryOrFail(p);
  }

  #retryOrFail(p: Pending): void {
    if (p.writes >= MAX_WRITES) {
      this.#finish(
        p,
        new PublishRejectedError(`publish to exchange '${p.target.exchange}' failed on ${p.writes} channels in a row`),
      );
      return;
    }
    this.#waiting.unshift(p);
    this.#flush();
  }

  /** Fails in-flight publishes to `exchange` with NotFoundError (the channel died of them). */
  failMissingExchange(exchange: string, cause: Error): void {
    for (const p of [...this.#inflight, ...this.#waiting]) {
      if (p.target.exchange === exchange)
        this.#finish(p, new NotFoundError({ kind: 'exchange', name: exchange }, { cause }));
    }
  }

  /** Whether the broker returned this publish: returns arrive in publish order, before the confirm. */
  #takeReturn(p: Pending): boolean {
    const head = this.#returns[0];
    if (
      head &&
      head.exchange === p.target.exchange &&
      head.routingKey === p.target.routingKey &&
      head.content.equals(p.message.body)
    ) {
      this.#returns.shift();
      return true;
    }
    return false;
  }

  #finish(p: Pending, error?: Error): void {
    if (p.done) return;
    p.done = true;
    p.unlisten?.();
    if (error) p.reject(error);
    else p.resolve();
  }

  #armSweeper(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  /** Fails publishes past their deadline: waiting ones were never sent, in-flight ones may have been. */
  #sweep(): void {
    const now = Date.now();
    for (let i = this.#waiting.length - 1; i >= 0; i--) {
      const p = this.#waiting[i] as Pending;
      if (p.done) this.#waiting.splice(i, 1);
      else if (p.deadline <= now) {
        this.#waiting.splice(i, 1);
        this.#finish(
          p,
          new TimeoutError(`message not sent within ${this.timeoutMs} ms: the broker was unreachable or blocked`),
        );
      }
    }
    for (const p of this.#inflight) {
      if (p.deadline > now) break; // in publish order: the rest are younger
      this.#inflight.delete(p);
      this.#finish(
        p,
        new TimeoutError(`no publisher confirm within ${this.timeoutMs} ms; the message may or may not have arrived`),
      );
    }
    if (this.#waiting.length === 0 && this.#inflight.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new TimeoutError('publish aborted');
}
