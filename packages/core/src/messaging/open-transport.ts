/**
 * One attempt of a {@link Connection} to reach one broker URL: the transport is made through the
 * registry and connected within the connect timeout. Failing over between URLs is the connection's.
 *
 * @module
 */
import { ConnectionError, TimeoutError, WakameError } from '../errors.js';
import { asError } from '../internal/as-error.js';
import type { TransportRegistry } from '../transport/registry.js';
import type { Transport } from '../transport/spi.js';
import type { BrokerUrl } from '../transport/url.js';
import { type ConnectionOptions, DEFAULT_HEARTBEAT_SECONDS } from './connection-options.js';

/** What an attempt needs besides the URL: where transports come from and the connection's settings. */
export interface TransportDial {
  readonly registry: TransportRegistry;
  readonly options: ConnectionOptions;
  readonly maxBodyBytes: number;
  /** Bound on the attempt (the connection's `connectTimeoutMs` or its default). */
  readonly timeoutMs: number;
}

/**
 * Makes the transport of `url` and connects it. `alternates` are every URL of the connection, `url` first, for
 * transports that fail over by themselves. On failure the transport is closed and the error is a {@link WakameError}
 * (a {@link TimeoutError} past the deadline).
 */
export async function openTransport(
  url: BrokerUrl,
  alternates: readonly BrokerUrl[],
  dial: TransportDial,
  signal?: AbortSignal,
): Promise<Transport> {
  const factory = await dial.registry.resolve(url.scheme);
  const transport = factory(url, {
    heartbeat: dial.options.heartbeat ?? DEFAULT_HEARTBEAT_SECONDS,
    connectTimeoutMs: dial.timeoutMs,
    alternates,
    ...(dial.options.recovery ? { recovery: dial.options.recovery } : {}),
    extra: dial.options.transportOptions ?? {},
    maxBodyBytes: dial.maxBodyBytes,
  });
  await withDeadline(transport, dial.timeoutMs, url, signal);
  return transport;
}

async function withDeadline(
  transport: Transport,
  timeoutMs: number,
  url: BrokerUrl,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`connecting to ${url.redacted} took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([transport.connect(combined), timedOut]);
  } catch (error) {
    await transport.close().catch(() => undefined);
    if (error instanceof WakameError) throw error;
    throw new ConnectionError(`could not connect to ${url.redacted}: ${asError(error).message}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
