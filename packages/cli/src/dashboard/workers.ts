/**
 * Worker health for the dashboard: each `--worker <url>` is a worker's health server (`wakame
 * worker --health-port`, `worker.serveHealth()`), asked for `/readyz` every round. Workers are
 * named on the command line rather than discovered: a broker lists consumers, not where their
 * health servers listen.
 *
 * @module
 */
import { InvalidArgumentError } from '@wakame/core';
import { withoutCredentials } from './redact.js';

/** A queue a worker consumes, as its `/readyz` tells. */
export interface WorkerQueue {
  readonly queue: string;
  readonly subscribed?: boolean;
  readonly inFlight?: number;
}

/** What the page shows of one worker. */
export interface WorkerStatus {
  /** The health server's URL without credentials. */
  readonly url: string;
  /** `ready`: `/readyz` said 200; `not-ready`: it said 503; `unreachable`: no answer (or not a health server). */
  readonly state: 'ready' | 'not-ready' | 'unreachable';
  /** The worker's own status (`running`, `stopping`, …) when it answered. */
  readonly status?: string;
  readonly inFlight?: number;
  readonly queues?: readonly WorkerQueue[];
  /** Why it is unreachable. */
  readonly error?: string;
}

/** How long one `/readyz` may take before the worker counts as unreachable this round. */
const PROBE_TIMEOUT_MS = 3_000;

/** Checks `--worker` values: http(s) URLs only, so a typo fails at start rather than as an unreachable worker. */
export function parseWorkerUrls(values: readonly string[]): string[] {
  return values.map((value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new InvalidArgumentError(`--worker takes the URL of a worker's health server, not '${value}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidArgumentError(`--worker takes an http:// or https:// URL, not '${value}'`);
    }
    return value.replace(/\/+$/, '');
  });
}

/** Asks one worker's health server for `/readyz`. */
export async function probeWorker(url: string): Promise<WorkerStatus> {
  const shown = withoutCredentials(url);
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = (await response.json()) as Record<string, unknown>;
    if (response.status !== 200 && response.status !== 503) throw new Error(`HTTP ${response.status}`);
    return {
      url: shown,
      state: response.status === 200 ? 'ready' : 'not-ready',
      ...(typeof body.status === 'string' ? { status: body.status } : {}),
      ...(typeof body.inFlight === 'number' ? { inFlight: body.inFlight } : {}),
      ...(Array.isArray(body.queues) ? { queues: body.queues as WorkerQueue[] } : {}),
    };
  } catch (error) {
    return { url: shown, state: 'unreachable', error: error instanceof Error ? error.message : String(error) };
  }
}
