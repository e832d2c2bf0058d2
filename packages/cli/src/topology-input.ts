/**
 * What the topology commands share: reading and checking a topology file (issues printed the same
 * way everywhere) and opening the broker named by `--url`, `WAKAME_URL` or the embedded default.
 *
 * @module
 */
import { resolve } from 'node:path';
import {
  type Capabilities,
  type CheckedTopology,
  Connection,
  checkTopology,
  type DesiredTopology,
  formatIssues,
} from '@wakame/core';
import type { CommandContext } from './context.js';
import { ExitError } from './errors.js';
import { cliTransports } from './transports.js';

/** The broker used when neither `--url` nor `WAKAME_URL` is given: the embedded file transport. */
export const DEFAULT_URL = 'file://./.wakame';

/** Options every broker-facing command accepts. */
export interface BrokerOptions {
  readonly url?: string;
  readonly managementUrl?: string;
}

/**
 * Opens the broker connection for a command (one attempt per failover URL, bounded), with the CLI's own transports
 * ({@link cliTransports}).
 */
export async function openBroker(ctx: CommandContext, options: BrokerOptions): Promise<Connection> {
  const url = options.url ?? ctx.env.WAKAME_URL ?? DEFAULT_URL;
  return Connection.open(url, {
    connectTimeoutMs: 10_000,
    transports: cliTransports,
    transportOptions: options.managementUrl ? { managementUrl: options.managementUrl } : {},
  });
}

/**
 * Checks `file`; prints warnings, and on errors prints them (with `--json`: one document, `ok: false`, the
 * `ERR_TOPOLOGY_VALIDATION` error and the issues) and fails with exit code 1.
 */
export async function readTopology(
  ctx: CommandContext,
  file: string,
  connection?: Connection,
): Promise<{ desired: DesiredTopology; checked: CheckedTopology }> {
  const checked = await check(ctx, file, connection?.capabilities, connection?.transport.kind);
  if (!checked.desired) {
    const message = `${file}: ${checked.errors.length} error(s); nothing was done`;
    if (ctx.jsonMode) {
      ctx.json({
        ok: false,
        valid: false,
        error: { code: 'ERR_TOPOLOGY_VALIDATION', message },
        errors: checked.errors,
        warnings: checked.warnings,
      });
    } else ctx.err(formatIssues(checked.errors));
    throw new ExitError(1, ctx.jsonMode ? '' : message, { code: 'ERR_TOPOLOGY_VALIDATION' });
  }
  if (checked.warnings.length > 0 && !ctx.quiet && !ctx.jsonMode) ctx.err(formatIssues(checked.warnings));
  return { desired: checked.desired, checked };
}

let typescriptLoader: Promise<void> | undefined;

/** TypeScript topology files run without a build step: the first one registers tsx's loader. */
export function loadTypeScript(): Promise<void> {
  typescriptLoader ??= import('tsx/esm/api').then((tsx) => {
    tsx.register();
  });
  return typescriptLoader;
}

/** Runs the pipeline on `file` (resolved against the working directory). */
export async function check(
  ctx: CommandContext,
  file: string,
  capabilities?: Capabilities,
  transport?: string,
): Promise<CheckedTopology> {
  if (/\.[cm]?ts$/.test(file)) await loadTypeScript();
  return checkTopology(resolve(ctx.cwd, file), {
    env: ctx.env,
    ...(capabilities ? { capabilities } : {}),
    ...(transport ? { transport } : {}),
  });
}

/** One-line summary of a compiled topology. */
export function summary(desired: DesiredTopology): string {
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
  return [
    n(desired.exchanges.length, 'exchange'),
    n(desired.queues.length, 'queue'),
    n(desired.bindings.length, 'binding'),
    n(desired.tasks.length, 'task'),
    // Only when there are any: the line stays as it was for topologies without schedules.
    ...((desired.schedules ?? []).length > 0 ? [n(desired.schedules?.length ?? 0, 'schedule')] : []),
  ].join(', ');
}
