/**
 * One publish of the {@link Publisher} between the call and its outcome: the record it keeps while the
 * message waits, is in flight or is held, and how that record is settled (once, whichever comes first:
 * the confirm, a failure, its abort signal).
 *
 * @module
 */
import { type OutboundMessage, type PublishTarget, TimeoutError } from '@wakame/core/spi';
import type { ConfirmChannel, Options } from 'amqplib';
import { toPublishOptions } from './mapping.js';

/** A publish not yet confirmed. */
export interface Pending {
  readonly message: OutboundMessage;
  readonly target: PublishTarget;
  readonly options: Options.Publish;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  /** Times written to a channel; bounded so a message that kills channels cannot loop. */
  writes: number;
  /** Negative confirms so far (each retried on a fresh channel, up to the publisher's `NACK_RETRIES`). */
  nacks: number;
  /** The channel it was last written to (a retired channel closes once nothing is in flight on it). */
  channel: ConfirmChannel | undefined;
  done: boolean;
  unlisten: (() => void) | undefined;
}

/**
 * The record of a publish due within `timeoutMs`, settled by `resolve`/`reject`; its target's abort signal
 * fails it. Undefined when that signal is aborted already (the publish is then rejected at once).
 */
export function startPending(
  message: OutboundMessage,
  target: PublishTarget,
  timeoutMs: number,
  resolve: () => void,
  reject: (error: Error) => void,
): Pending | undefined {
  const p: Pending = {
    message,
    target,
    options: toPublishOptions(message.properties, target.mandatory ?? false),
    deadline: Date.now() + timeoutMs,
    resolve,
    reject,
    writes: 0,
    nacks: 0,
    channel: undefined,
    done: false,
    unlisten: undefined,
  };
  const signal = target.signal;
  if (signal) {
    if (signal.aborted) {
      reject(abortReason(signal));
      return undefined;
    }
    const onAbort = (): void => finish(p, abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.unlisten = () => signal.removeEventListener('abort', onAbort);
  }
  return p;
}

/** Settles the publish (confirmed without `error`), unless it is settled already. */
export function finish(p: Pending, error?: Error): void {
  if (p.done) return;
  p.done = true;
  p.unlisten?.();
  if (error) p.reject(error);
  else p.resolve();
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new TimeoutError('publish aborted');
}
