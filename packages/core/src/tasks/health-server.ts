/**
 * The worker's health server for Kubernetes and systemd (`worker.serveHealth()`, `wakame worker --health-port`):
 * plain `node:http`, bound to 127.0.0.1 unless told otherwise.
 *
 * - `GET /healthz` (liveness): 200 while the process runs and its event loop is not stalled; 503 for a while after a
 *   loop delay beyond the threshold (see {@link EventLoopWatchOptions}).
 * - `GET /readyz` (readiness): 200 when the worker is connected and subscribed to every queue it consumes; else 503.
 *   The JSON body lists each queue: subscribed, consumers (the broker's count), in flight, last delivery, last error;
 *   and the queues the broker cannot serve now.
 * - `GET /metrics`: the worker's metrics in the Prometheus text format (see `WorkerMetrics`), unless `metrics: false`.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { HealthServerError } from '../errors.js';
import { EventLoopWatch, type EventLoopWatchOptions } from './event-loop-watch.js';
import type { WorkerHealth } from './worker-health.js';
import { type MetricsSource, type QueueDepthOptions, WorkerMetrics, withTimeout } from './worker-metrics.js';
import type { WorkerObserver } from './worker-observer.js';

/** Options of `worker.serveHealth()`. */
export interface HealthServerOptions extends EventLoopWatchOptions {
  /** The TCP port; 0 picks a free one (read it from {@link HealthServer.port}). @defaultValue 0 */
  readonly port?: number;
  /** The address to bind. Give `0.0.0.0` (or `::`) for probes from outside the machine or pod. @defaultValue '127.0.0.1' */
  readonly host?: string;
  /** Serve `/metrics`. @defaultValue true */
  readonly metrics?: boolean;
  /** The registry the metrics go to (to add your own metrics, or scrape them with others). @defaultValue a new registry for this worker */
  readonly registry?: Registry;
  /** Queue depth (`wakame_queue_messages`) sampled at scrape time, or `false` to leave it out. @defaultValue cached 5 s, timeout 1 s */
  readonly queueDepth?: QueueDepthOptions | false;
  /** How long (ms) `/readyz` waits for the broker's consumer counts before answering without them. @defaultValue 1000 */
  readonly readyTimeoutMs?: number;
}

/** A running health server: where it listens, its metrics registry, and how to close it. */
export interface HealthServer {
  /** The bound address (the actual port when 0 was asked for). */
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, for logs and probes. */
  readonly url: string;
  /** The worker's metrics registry; undefined with `metrics: false`. */
  readonly registry: Registry | undefined;
  /** Stops listening and drops open connections; also happens when the worker stops. Idempotent. */
  close(): Promise<void>;
}

/** What the server needs of a worker. */
export interface HealthSource extends MetricsSource {
  checkHealth(): Promise<WorkerHealth>;
  /** Registers callbacks; returns a function that removes them. */
  observe(observer: WorkerObserver): () => void;
}

/** Starts the health server of `source` (a worker); resolves once it listens. @throws {@link HealthServerError} */
export async function startHealthServer(
  source: HealthSource,
  options: HealthServerOptions = {},
): Promise<HealthServer> {
  const host = options.host ?? '127.0.0.1';
  const watch = new EventLoopWatch(options);
  const metrics =
    options.metrics === false
      ? undefined
      : new WorkerMetrics(source, {
          ...(options.registry ? { registry: options.registry } : {}),
          ...(options.queueDepth !== undefined ? { queueDepth: options.queueDepth } : {}),
        });
  const readyTimeoutMs = options.readyTimeoutMs ?? 1000;
  let closing: Promise<void> | undefined;
  // Assigned before the server can close; `stopped` below may run first only after listening.
  let close: () => Promise<void> = () => Promise.resolve();
  const unobserve = source.observe({
    ...(metrics
      ? {
          taskFinished: (task) => metrics.taskFinished(task),
          connected: (connection) => metrics.connected(connection),
          scheduleEvent: (event) => metrics.scheduleEvent(event),
        }
      : {}),
    stopped: () => void close(),
  });
  // Serving a worker that is already connected: start from its connection.
  if (metrics && source.connection?.isConnected) metrics.connected(source.connection);

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      send(response, 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return send(response, 405, { error: 'method not allowed' });
    }
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const eventLoop = watch.status();
      return send(response, eventLoop.stalled ? 503 : 200, {
        status: eventLoop.stalled ? 'stalled' : 'ok',
        worker: source.health().status,
        eventLoop,
      });
    }
    if (path === '/readyz') {
      const health = await withTimeout(source.checkHealth(), readyTimeoutMs, () => source.health());
      const ready = health.status === 'ready' && health.healthy;
      return send(
        response,
        ready ? 200 : 503,
        readiness(health, ready, (queue) => metrics?.inFlight(queue)),
      );
    }
    if (path === '/metrics' && metrics) {
      const text = await metrics.scrape();
      response.writeHead(200, { 'content-type': metrics.registry.contentType });
      response.end(request.method === 'HEAD' ? undefined : text);
      return;
    }
    send(response, 404, { error: 'not found', paths: ['/healthz', '/readyz', ...(metrics ? ['/metrics'] : [])] });
  };

  const address = await listen(server, options.port ?? 0, host).catch((error: unknown) => {
    unobserve();
    metrics?.close();
    watch.stop();
    throw error;
  });
  close = () => {
    closing ??= new Promise<void>((resolve) => {
      unobserve();
      metrics?.close();
      watch.stop();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `http://${shown}:${address.port}`,
    registry: metrics?.registry,
    close: () => close(),
  };
}

/** The `/readyz` body: the worker's health, each queue with its messages in flight. */
function readiness(health: WorkerHealth, ready: boolean, inFlight: (queue: string) => number | undefined): object {
  return {
    ready,
    status: health.status,
    queues: health.queues.map((q) => {
      const unsettled = inFlight(q.queue);
      return { ...q, ...(unsettled !== undefined ? { inFlight: unsettled } : {}) };
    }),
    ...(health.unavailableQueues ? { unavailableQueues: health.unavailableQueues } : {}),
    inFlight: health.inFlight,
  };
}

function send(response: ServerResponse, status: number, body: object): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(`${JSON.stringify(body)}\n`);
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new HealthServerError(`the health server could not listen on ${host}:${port}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
