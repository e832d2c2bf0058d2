/**
 * `wakame ui [topology]`: a local web dashboard of a broker — the topology graph (as `wakame graph`
 * draws it), live queue depths with their history and net rates, consumers, dead-letter queues,
 * the health of workers named with `--worker`, and the plan of the topology against the broker.
 *
 * Read-only unless `--allow-actions`: then the page offers purge and, for dead-letter queues,
 * replay, each after a confirmation. Binds 127.0.0.1 unless `--host` says otherwise. The page is
 * plain HTML, CSS and JavaScript shipped in the package (`ui/`): no build step. The browser never
 * sees a credential: the server talks to the broker and to workers, the page talks to the server.
 *
 * @module
 */
import {
  type Connection,
  formatPlan,
  InvalidArgumentError,
  listDeadLetters,
  planStack,
  replayDeadLetters,
  topologyGraph,
} from '@wakame/core';
import type { CommandContext } from '../context.js';
import { Monitor } from '../dashboard/monitor.js';
import { Redactor } from '../dashboard/redact.js';
import type { DashboardActions } from '../dashboard/server.js';
import { type Dashboard, serveDashboard } from '../dashboard/server.js';
import { parseWorkerUrls } from '../dashboard/workers.js';
import { planJson, type StackOptions, stackName } from '../stack-input.js';
import { type BrokerOptions, DEFAULT_URL, openBroker, readTopology } from '../topology-input.js';

/** Options of {@link ui}; numbers arrive parsed and range-checked (see `options.ts`). */
export interface UiOptions extends BrokerOptions, StackOptions {
  /** Address to bind. @defaultValue '127.0.0.1' */
  readonly host?: string;
  /** Port; 0 picks a free one. @defaultValue 8025 */
  readonly port?: number;
  /** Worker health servers to watch (repeatable). */
  readonly worker?: readonly string[];
  /** Seconds between rounds. @defaultValue 2 */
  readonly interval?: number;
  /** Enable purge and replay (each still confirmed on the page). */
  readonly allowActions?: boolean;
}

export const DEFAULT_UI_PORT = 8025;
/** Dead letters the page lists per queue: enough to see what failed; the CLI's `dead-letters` lists more. */
const DEAD_LETTERS_SHOWN = 50;

/** Serves the dashboard until the context's abort signal fires (SIGINT/SIGTERM). */
export async function ui(ctx: CommandContext, file: string | undefined, options: UiOptions): Promise<void> {
  const workers = parseWorkerUrls(options.worker ?? []);
  const host = options.host ?? '127.0.0.1';
  if (host.trim() === '') throw new InvalidArgumentError('--host takes an address to bind, not an empty string');
  const url = options.url ?? ctx.env.WAKAME_URL ?? DEFAULT_URL;
  const redactor = new Redactor([url, options.managementUrl, ...workers]);
  const connection = await openBroker(ctx, { ...options, url });
  let dashboard: Dashboard | undefined;
  let monitor: Monitor | undefined;
  try {
    const topology = file === undefined ? undefined : await readTopology(ctx, file, connection);
    monitor = new Monitor({
      connection,
      ...(topology ? { desired: topology.desired } : {}),
      workers,
      intervalMs: (options.interval ?? 2) * 1000,
    });
    await monitor.start();
    const actions = options.allowActions ? dashboardActions(connection) : undefined;
    dashboard = await serveDashboard({
      host,
      port: options.port ?? DEFAULT_UI_PORT,
      monitor,
      redactor,
      ...(actions ? { actions } : {}),
      deadLetters: async (queue) => listDeadLetters(connection, { queue, limit: DEAD_LETTERS_SHOWN }),
      ...(topology && file !== undefined
        ? {
            topologyFile: file,
            graph: topologyGraph(topology.desired),
            plan: async () => {
              const stack = stackName(options, topology.checked.document);
              const planned = await planStack(connection.admin, topology.desired, stack);
              // The lines `wakame plan` prints, for the page to show as they are.
              const lines = formatPlan(planned.plan, {
                target: connection.url,
                stack,
                recorded: planned.recorded,
              });
              return { ...planJson(planned, connection.url, false), lines };
            },
          }
        : {}),
    });
    const fields = { url: dashboard.url, host: dashboard.host, port: dashboard.port, broker: connection.url };
    // Printed even with --quiet: with --port 0 it is the only way to learn the port.
    if (ctx.jsonMode) ctx.json({ event: 'listening', ...fields, allowActions: actions !== undefined });
    else {
      ctx.out(`Dashboard on ${dashboard.url} (${connection.url})`);
      if (!ctx.quiet) {
        ctx.out(actions ? 'Actions enabled: purge and replay, each confirmed on the page.' : 'Read-only.');
        ctx.out('Ctrl-C to stop.');
      }
    }
    await stopped(ctx.signal);
  } finally {
    monitor?.stop();
    await dashboard?.close();
    await connection.close();
  }
}

/** Purge (the whole queue) and replay (dead letters back to the queues they died in, each acked once confirmed). */
function dashboardActions(connection: Connection): DashboardActions {
  return {
    purge: async (queue) => ({ purged: await connection.admin.purgeQueue(queue) }),
    replay: async (queue, limit) => {
      const result = await replayDeadLetters(connection, { queue, ...(limit === undefined ? {} : { limit }) });
      return {
        replayed: result.moved.length,
        skipped: result.skipped.map((s) => ({ id: s.message.id, reason: s.reason, detail: s.detail })),
        failed: result.failed.map((f) => ({ id: f.message.id, step: f.step, error: f.error.message })),
      };
    },
  };
}

/** Resolves when `signal` aborts; never without one (the process is then ended from outside). */
function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
}
