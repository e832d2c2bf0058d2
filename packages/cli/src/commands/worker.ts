/**
 * `wakame worker ./worker.ts`: runs a worker module (TS or JS, no build step) until SIGINT/SIGTERM,
 * printing one line per lifecycle event and per failure, and a summary on exit.
 *
 * @module
 */
import { InvalidArgumentError, Worker, type WorkerHealth } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { DEFAULT_URL } from '../topology-input.js';
import { cliTransports } from '../transports.js';
import { loadWorkerModule } from '../worker-module.js';

/** Options of {@link worker}; numbers arrive parsed and range-checked (see `options.ts`). */
export interface WorkerCommandOptions {
  readonly url?: string;
  /** 1–10000; overrides the module's. */
  readonly concurrency?: number;
  readonly queues?: string;
  /** One line per task, not only failures. */
  readonly verbose?: boolean;
  /** Seconds running handlers get to finish on SIGINT/SIGTERM. @defaultValue 30 */
  readonly shutdownTimeout?: number;
  /** Serve `/healthz`, `/readyz` and `/metrics` on this port (0: a free one); no server without it. */
  readonly healthPort?: number;
  /** The address the health server binds. @defaultValue '127.0.0.1' */
  readonly healthHost?: string;
}

export async function worker(ctx: CommandContext, file: string, options: WorkerCommandOptions): Promise<WorkerHealth> {
  const { module, topology } = await loadWorkerModule(ctx, file);
  const concurrency = options.concurrency ?? module.concurrency ?? 10;
  // The flag is checked when parsed; the module's own value is checked here.
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
    throw new InvalidArgumentError(
      `the worker module's concurrency must be an integer from 1 to 10000, got ${concurrency}`,
    );
  }
  if (options.healthHost !== undefined && options.healthPort === undefined) {
    throw new InvalidArgumentError('--health-host needs --health-port (the port of the health server)');
  }
  /** One event, even with --quiet: a JSON document with --json, else a timestamped line on stderr. */
  const emit = (event: string, fields: Record<string, unknown> = {}): void => {
    if (ctx.jsonMode) ctx.json({ event, at: new Date().toISOString(), ...fields });
    else
      ctx.err(`${new Date().toISOString()} ${event}${Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}`);
  };
  /** An event --quiet silences. */
  const line = (event: string, fields: Record<string, unknown> = {}): void => {
    if (!ctx.quiet) emit(event, fields);
  };
  const url = options.url ?? ctx.env.WAKAME_URL ?? DEFAULT_URL;
  const queues = options.queues
    ?.split(',')
    .map((q) => q.trim())
    .filter((q) => q !== '');
  const shutdownMs = (options.shutdownTimeout ?? 30) * 1000;
  const running = new Worker({
    connection: url,
    // The worker opens (and reopens) its connection from the URL, with the CLI's own transports.
    connectionOptions: { transports: cliTransports },
    topology: { compiled: topology },
    handlers: module.handlers,
    concurrency,
    stopDeadline: shutdownMs,
    ...((queues ?? module.queues) ? { queues: queues ?? module.queues } : {}),
    ...(module.scheduler !== undefined ? { scheduler: module.scheduler } : {}),
    // Every scheduler event but a follower's quiet retries: who leads, each run sent, slots skipped, failures.
    onScheduleEvent: (e) =>
      line(`schedule-${e.type}`, e.type === 'error' ? { ...e, error: String(e.error) } : { ...e }),
    onConnectionError: (error, delayMs) => line('connection-error', { error: String(error), retryInMs: delayMs }),
    onConsumeReady: () => line('ready', { queues: running.queues, concurrency }),
    onConnectionRevived: () => line('connected'),
    onTaskEvent: (e) => {
      if (e.type !== 'done' || options.verbose) line(`task-${e.type}`, { ...e, durationMs: Math.round(e.durationMs) });
    },
  });
  // The first signal: take no more work, let running handlers finish (up to --shutdown-timeout) and ack, return the
  // rest; the second: return what is still running at once. `run()` resolves once that is done.
  const unhook = ctx.signal
    ? (() => {
        let count = 0;
        const onAbort = (): void => {
          count++;
          const { inFlight } = running.health();
          if (count === 1) line('stopping', { inFlight, waitMs: shutdownMs });
          else line('stopping-now', { inFlight });
          void running.stop({ deadline: count === 1 ? shutdownMs : 0 });
        };
        ctx.signal.addEventListener('abort', onAbort);
        return () => ctx.signal?.removeEventListener('abort', onAbort);
      })()
    : running.handleSignals(shutdownMs);
  try {
    if (options.healthPort !== undefined) {
      // Closes itself when the worker stops. Printed even with --quiet: with --health-port 0 it is the only way to
      // learn the port.
      const server = await running.serveHealth({
        port: options.healthPort,
        ...(options.healthHost !== undefined ? { host: options.healthHost } : {}),
      });
      emit('health', { url: server.url, host: server.host, port: server.port });
    }
    await running.run();
  } finally {
    unhook();
  }
  const health = running.health();
  line('stopped', {
    processed: health.processed,
    retried: health.retried,
    deadLettered: health.deadLettered,
    ...(health.returned > 0 ? { returned: health.returned } : {}),
  });
  return health;
}
