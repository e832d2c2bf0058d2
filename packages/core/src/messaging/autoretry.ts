/**
 * kombu's `Connection.autoretry`: wrap a function once, and every call of the wrapper runs it
 * through {@link Connection.ensure}, retrying recoverable failures and reconnecting first when the
 * connection was lost.
 *
 * @module
 */
import type { Transport } from '../transport/spi.js';
import type { ConnectionContext } from './connection-context.js';
import type { RetryPolicy } from './retry.js';

/** Options of {@link Connection.autoretry}: a {@link RetryPolicy} (over the connection's) and `onRevive`. */
export interface AutoretryOptions<C extends ConnectionContext = ConnectionContext> extends RetryPolicy {
  /**
   * Called (and awaited) after a reconnect, before `fn` is retried on the new transport: re-create
   * what lived on the old one (kombu's `on_revive(channel)`). An error it throws counts as the
   * attempt's error: retried when retriable, else the call fails with it. @defaultValue undefined
   */
  readonly onRevive?: (connection: C, transport: Transport) => void | Promise<void>;
}

/**
 * Returns a function with `fn`'s parameters that runs `fn` through `connection.ensure(…, policy)`,
 * calling `onRevive` whenever an attempt finds another transport than the previous attempt did.
 * Non-retriable errors (per `retryOn`, by default {@link isRetriable}) are thrown at once.
 */
export function autoretry<C extends ConnectionContext, A extends unknown[], R>(
  connection: C,
  fn: (...args: A) => Promise<R>,
  options: AutoretryOptions<C> = {},
): (...args: A) => Promise<R> {
  const { onRevive, ...policy } = options;
  return (...args: A) => {
    // Per call: the transport the previous attempt of this call ran on.
    let previous: Transport | undefined;
    return connection.ensure(async (conn) => {
      const transport = await conn.ready();
      if (previous !== undefined && transport !== previous) await onRevive?.(conn, transport);
      previous = transport;
      return fn(...args);
    }, policy);
  };
}
