/**
 * Publishing on a confirm channel, many confirms in flight at once (a promise per publish must not
 * mean a round trip per publish), with backpressure, `mandatory` returns matched to their publish,
 * and no message lost across a channel or connection loss: unconfirmed messages are sent again on
 * the next channel (at-least-once), until their deadline.
 *
 * Two things RabbitMQ does in a cluster shape this class. A message routed to a queue whose node is
 * down is confirmed and dropped (or returned, when mandatory): so a publish whose route is known to
 * reach an unavailable queue is held, unsent, until the queue is back or its deadline passes (then it
 * fails with {@link QueueUnavailableError}). And a channel opened before a quorum queue elected a new
 * leader may nack every publish to it for as long as the old leader's node stays down, while a new
 * channel is fine: a nack is retried (twice) on a fresh channel before the publish fails.
 *
 * The record of one publish and its settling are in `./pending-publish.ts`, the failing of publishes past
 * their deadline in `./publish-deadlines.ts`, the replaced channels that still owe confirms in
 * `./retiring-channels.ts`.
 */
import type { OutboundMessage, PublishTarget } from '@wakame/core/spi';
import {
  NotFoundError,
  PublishRejectedError,
  type QueueUnavailableError,
  UnroutableError,
  type WakameError,
} from '@wakame/core/spi';
import type { Message as AmqpMessage, ConfirmChannel } from 'amqplib';
import { fromAmqpError, isConnectionError } from './errors.js';
import { finish, type Pending, startPending } from './pending-publish.js';
import { expireOverdue } from './publish-deadlines.js';
import { RetiringChannels } from './retiring-channels.js';

/** A message the broker returned (mandatory, unroutable). */
interface Returned {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
}

const MAX_WRITES = 3;
/** Negative confirms retried before a publish fails: enough to get past a stale quorum leader, short for a full queue. */
const NACK_RETRIES = 2;
/** A fresh channel after a nack at most this often (a full queue with reject-publish nacks everything). */
const REFRESH_INTERVAL_MS = 1_000;
const SWEEP_INTERVAL_MS = 200;

/** What the publisher needs from its transport. */
export interface PublisherOwner {
  /** The channel closed on its own (not with the connection): open another and attach it. */
  channelLost(error: WakameError): void;
  /** Open a fresh channel and attach it (or call {@link Publisher.refreshFailed}). */
  refresh(): void;
  /** Why a publish to `target` must wait: a queue its known route reaches is unavailable now. */
  unavailableOn(target: PublishTarget, message: OutboundMessage): QueueUnavailableError | undefined;
  /**
   * A publish was returned or nacked: whether that is because a queue on its route became
   * unavailable (then it waits for the queue instead of failing).
   */
  suspect(target: PublishTarget, message: OutboundMessage): Promise<boolean>;
}

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
  /** Publishes whose route reaches a queue that is unavailable now: not sent until it is back. */
  readonly #held: Pending[] = [];
  /** Replaced channels still waiting for confirms: closed when the last one arrives. */
  readonly #retiring = new RetiringChannels();
  /** A fresh channel was asked for (after a nack): write nothing until it is attached. */
  #refreshing = false;
  #refreshedAt = Number.NEGATIVE_INFINITY;

  constructor(
    /** Default deadline of a publish (ms): waiting for a channel plus waiting for the confirm. */
    private readonly timeoutMs: number,
    private readonly owner: PublisherOwner,
  ) {}

  /** Publishes are written now; messages waiting (or unconfirmed on a lost channel) are sent again. */
  attach(channel: ConfirmChannel): void {
    const previous = this.#channel;
    if (previous && previous !== channel) this.#retire(previous);
    this.#refreshing = false;
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
      if (error && !isConnectionError(closeError)) this.owner.channelLost(error);
    });
    // After a reconnect: what waited for this channel but routes to a queue that did not come back waits for the queue.
    for (let i = this.#waiting.length - 1; i >= 0; i--) {
      const p = this.#waiting[i] as Pending;
      if (!p.done && this.owner.unavailableOn(p.target, p.message) !== undefined)
        this.#held.unshift(...this.#waiting.splice(i, 1));
    }
    this.#flush();
  }

  /** The current confirm channel (direct reply-to consumes on it). */
  get channel(): ConfirmChannel | undefined {
    return this.#channel;
  }

  /** The channel went with its connection: keep everything for the next one. */
  detach(): void {
    this.#channel = undefined;
    this.#refreshing = false;
    this.#retiring.clear();
  }

  /** The owner could not open the fresh channel asked for: go on with the current one. */
  refreshFailed(): void {
    this.#refreshing = false;
    this.#flush();
  }

  /** Queues may have come back: send the held publishes whose routes are all available again. */
  release(): void {
    for (let i = this.#held.length - 1; i >= 0; i--) {
      const p = this.#held[i] as Pending;
      if (p.done) this.#held.splice(i, 1);
      else if (this.owner.unavailableOn(p.target, p.message) === undefined) {
        this.#held.splice(i, 1);
        this.#waiting.unshift(p);
      }
    }
    this.#flush();
  }

  /** Resolves once the broker confirmed the message; rejects with a typed error otherwise. */
  publish(message: OutboundMessage, target: PublishTarget): Promise<void> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    return new Promise<void>((resolve, reject) => {
      const p = startPending(message, target, this.timeoutMs, resolve, reject);
      if (p === undefined) return;
      const channel = this.#writable();
      if (this.owner.unavailableOn(target, message) !== undefined) this.#held.push(p);
      else if (channel && this.#waiting.length === 0) this.#write(p, channel);
      else this.#waiting.push(p);
      this.#armSweeper();
    });
  }

  /** Fails everything (the connection is closed for good). */
  close(error: Error): void {
    this.#closedWith = error;
    this.#channel = undefined;
    for (const p of [...this.#waiting, ...this.#inflight, ...this.#held]) finish(p, error);
    this.#waiting.length = 0;
    this.#held.length = 0;
    this.#inflight.clear();
    clearInterval(this.#sweeper);
  }

  /** Publishes not yet confirmed (waiting or in flight). */
  get pending(): number {
    return this.#waiting.length + this.#inflight.size + this.#held.length;
  }

  #flush(): void {
    for (let channel = this.#writable(); channel && this.#waiting.length > 0; channel = this.#writable()) {
      const p = this.#waiting.shift() as Pending;
      if (!p.done) this.#write(p, channel);
    }
  }

  /** The channel to write to now: none while there is none, its buffer is full, or it is dead. */
  #writable(): ConfirmChannel | undefined {
    return this.#draining || this.#dead || this.#refreshing ? undefined : this.#channel;
  }

  #write(p: Pending, channel: ConfirmChannel): void {
    p.writes++;
    p.channel = channel;
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
    this.#retiring.settled(p.channel);
    if (p.done) return;
    if (err === null || err === undefined) {
      if (p.target.mandatory && this.#takeReturn(p)) {
        this.#holdIfUnavailable(p, () => finish(p, new UnroutableError(p.target.exchange, p.target.routingKey)));
      } else {
        finish(p);
      }
      return;
    }
    if (err instanceof Error && err.message === 'message nacked') {
      this.#nacked(p);
      return;
    }
    // The channel closed with the message unconfirmed. Why is known from the channel's own error,
    // which the owner reports; here: a publish to a missing exchange is this message's fault, any
    // other loss is not, and the message is sent again on the next channel.
    this.#retryOrFail(p);
  }

  #retryOrFail(p: Pending): void {
    if (p.writes >= MAX_WRITES) {
      finish(
        p,
        new PublishRejectedError(`publish to exchange '${p.target.exchange}' failed on ${p.writes} channels in a row`),
      );
      return;
    }
    this.#waiting.unshift(p);
    this.#flush();
  }

  /**
   * A negative confirm: a queue the message routes to could not take it. A full queue with overflow
   * `reject-publish` says so every time; a quorum queue whose leader died says so on every channel
   * that still points at the old leader, so the retry goes to a fresh channel.
   */
  #nacked(p: Pending): void {
    if (p.nacks >= NACK_RETRIES || p.deadline <= Date.now()) {
      this.#holdIfUnavailable(p, () => this.#refused(p));
      return;
    }
    p.nacks++;
    p.writes--; // a nack is the broker's answer, not a channel that died of the message
    this.#waiting.unshift(p);
    const now = Date.now();
    if (!this.#refreshing && this.#channel && now - this.#refreshedAt >= REFRESH_INTERVAL_MS) {
      this.#refreshedAt = now;
      this.#refreshing = true;
      this.owner.refresh();
    }
    this.#flush();
  }

  #refused(p: Pending): void {
    const times = p.nacks + 1;
    finish(
      p,
      new PublishRejectedError(
        `the broker refused the message ${times === 1 ? 'once' : `${times} times`} (negative publisher confirm${times === 1 ? '' : 's'}): ` +
          'a queue it routes to could not take it (a full queue with overflow reject-publish, a quorum queue without a leader, or a queue whose node is shutting down)',
      ),
    );
  }

  /**
   * A publish was returned (unroutable) or refused for good: if a queue on its route turns out to be
   * unavailable (its node is down), it waits for the queue, held, until its deadline; else `otherwise`.
   */
  #holdIfUnavailable(p: Pending, otherwise: () => void): void {
    this.owner.suspect(p.target, p.message).then(
      (unavailable) => {
        if (p.done) return;
        if (!unavailable) return otherwise();
        p.nacks = 0;
        this.#held.push(p);
        this.#armSweeper();
        // The queue may have come back while the broker was asked.
        if (this.owner.unavailableOn(p.target, p.message) === undefined) this.release();
      },
      () => otherwise(),
    );
  }

  /** Stops writing to `channel`; it closes once the confirms of what was written to it have arrived. */
  #retire(channel: ConfirmChannel): void {
    let count = 0;
    for (const p of this.#inflight) if (p.channel === channel) count++;
    this.#retiring.retire(channel, count);
  }

  /** Fails in-flight publishes to `exchange` with NotFoundError (the channel died of them). */
  failMissingExchange(exchange: string, cause: Error): void {
    for (const p of [...this.#inflight, ...this.#waiting, ...this.#held]) {
      if (p.target.exchange === exchange) finish(p, new NotFoundError({ kind: 'exchange', name: exchange }, { cause }));
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

  #armSweeper(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  /** Fails publishes past their deadline: waiting ones were never sent, in-flight ones may have been. */
  #sweep(): void {
    const queues = { waiting: this.#waiting, held: this.#held, inflight: this.#inflight };
    expireOverdue(queues, Date.now(), this.timeoutMs, (p) => this.owner.unavailableOn(p.target, p.message));
    if (this.#waiting.length === 0 && this.#inflight.size === 0 && this.#held.length === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}
