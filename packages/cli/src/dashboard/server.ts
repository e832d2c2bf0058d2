/**
 * The dashboard's HTTP server (node:http): the static page, JSON endpoints, and a Server-Sent
 * Events stream of the monitor's snapshots.
 *
 * | Path                        | What                                                                 |
 * | --------------------------- | -------------------------------------------------------------------- |
 * | `GET /`, `/app.js`, …       | the page (`packages/cli/ui/`)                                          |
 * | `GET /api/state`            | settings, the topology graph, the latest snapshot, the last plan      |
 * | `GET /api/events`           | `snapshot` events, one per round                                      |
 * | `GET /api/plan[?refresh=1]` | the last plan (recomputed on `refresh`; planning changes nothing)     |
 * | `GET /api/dead-letters?queue=` | the dead letters of a dead-letter queue, left where they are      |
 * | `POST /api/actions/purge`   | `{ queue }`: with `--allow-actions` only                              |
 * | `POST /api/actions/replay`  | `{ queue, limit? }`: dead letters back where they failed; same guard |
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphEdge, GraphNode } from '@wakame/core';
import { DashboardRequestError, DashboardStartError } from './errors.js';
import { checkAction, checkHost, readJsonBody, SECURITY_HEADERS, sendError, sendJson, sendStatic } from './http.js';
import type { Monitor, Snapshot } from './monitor.js';
import type { Redactor } from './redact.js';

/** What the buttons do; absent without `--allow-actions`. */
export interface DashboardActions {
  purge(queue: string): Promise<{ readonly purged: number }>;
  /** Moves dead letters back to the queues they died in (core's `replayDeadLetters`). */
  replay(queue: string, limit: number | undefined): Promise<{ readonly replayed: number }>;
}

export interface DashboardOptions {
  readonly host: string;
  readonly port: number;
  readonly monitor: Monitor;
  readonly redactor: Redactor;
  /** The topology file's graph; absent when no file was given. */
  readonly graph?: { readonly nodes: readonly GraphNode[]; readonly edges: readonly GraphEdge[] };
  readonly topologyFile?: string;
  /** Plans the topology against the broker (read-only); absent when no file was given. */
  readonly plan?: () => Promise<unknown>;
  readonly actions?: DashboardActions;
  /** The dead letters of a dead-letter queue, looked at and left in place (core's `listDeadLetters`). */
  readonly deadLetters?: (queue: string) => Promise<unknown>;
}

/** A running dashboard. */
export interface Dashboard {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

interface PlanResult {
  readonly at: number;
  readonly plan?: unknown;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Starts the server; resolves once it listens. */
export async function serveDashboard(options: DashboardOptions): Promise<Dashboard> {
  // Read by the page from /api/state: a page on another origin cannot read that answer, so it cannot act.
  const token = randomBytes(24).toString('base64url');
  const streams = new Set<ServerResponse>();
  /** The Host values accepted; `undefined` (any) when bound to every interface, where the machine has many names. */
  let allowedHosts: ReadonlySet<string> | undefined = new Set();
  let lastPlan: PlanResult | undefined;

  const plan = async (): Promise<PlanResult | undefined> => {
    if (!options.plan) return undefined;
    try {
      lastPlan = { at: Date.now(), plan: await options.plan() };
    } catch (error) {
      const code =
        typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'ERR_PLAN';
      lastPlan = { at: Date.now(), error: { code, message: error instanceof Error ? error.message : String(error) } };
    }
    return lastPlan;
  };

  const state = async (): Promise<object> => ({
    settings: {
      allowActions: options.actions !== undefined,
      replay: options.actions !== undefined,
      ...(options.actions ? { token } : {}),
      topologyFile: options.topologyFile ?? null,
    },
    graph: options.graph ?? null,
    snapshot: options.monitor.latest,
    plan: lastPlan ?? (await plan()) ?? null,
  });

  const action = async (request: IncomingMessage, name: string): Promise<object> => {
    checkAction(request, { allowActions: options.actions !== undefined, token });
    const actions = options.actions as DashboardActions;
    const body = await readJsonBody(request);
    const queue = body.queue;
    if (typeof queue !== 'string' || queue === '') {
      throw new DashboardRequestError('ERR_BAD_REQUEST', 400, "the body must name the queue: { queue: 'name' }");
    }
    let result: object;
    if (name === 'purge') result = await actions.purge(queue);
    else if (name === 'replay') {
      if (!options.monitor.isDeadLetterQueue(queue)) {
        throw new DashboardRequestError('ERR_NOT_DEAD_LETTER_QUEUE', 400, `'${queue}' is not a dead-letter queue`);
      }
      const limit = body.limit;
      if (limit !== undefined && (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1)) {
        throw new DashboardRequestError('ERR_BAD_REQUEST', 400, 'limit must be an integer ≥ 1');
      }
      result = await actions.replay(queue, limit);
    } else throw new DashboardRequestError('ERR_NOT_FOUND', 404, `no action '${name}'`);
    // The page sees the effect in the next snapshot, sent now rather than a round later.
    void options.monitor.refresh();
    return { queue, ...result };
  };

  const deadLetters = async (query: URLSearchParams): Promise<unknown> => {
    const queue = query.get('queue') ?? '';
    if (!options.monitor.isDeadLetterQueue(queue)) {
      throw new DashboardRequestError('ERR_NOT_DEAD_LETTER_QUEUE', 400, `'${queue}' is not a dead-letter queue`);
    }
    if (!options.deadLetters) throw new DashboardRequestError('ERR_NOT_FOUND', 404, 'no dead-letter listing here');
    return options.deadLetters(queue);
  };

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (allowedHosts) checkHost(request, allowedHosts);
    const { pathname, searchParams } = new URL(request.url ?? '/', 'http://dashboard.invalid');
    const method = request.method ?? 'GET';
    const actionMatch = /^\/api\/actions\/([a-z]+)$/.exec(pathname);
    if (actionMatch) {
      if (method !== 'POST') throw new DashboardRequestError('ERR_BAD_REQUEST', 405, 'actions are POST requests');
      sendJson(response, 200, await action(request, actionMatch[1] as string), options.redactor);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      throw new DashboardRequestError('ERR_BAD_REQUEST', 405, `${method} is not served here`);
    }
    if (pathname === '/api/state') return sendJson(response, 200, await state(), options.redactor);
    if (pathname === '/api/plan') {
      const result = searchParams.has('refresh') ? await plan() : (lastPlan ?? (await plan()));
      return sendJson(response, 200, result ?? null, options.redactor);
    }
    if (pathname === '/api/events') return openStream(response);
    if (pathname === '/api/dead-letters')
      return sendJson(response, 200, await deadLetters(searchParams), options.redactor);
    if (await sendStatic(response, pathname === '/' ? 'index.html' : pathname.slice(1))) return;
    throw new DashboardRequestError('ERR_NOT_FOUND', 404, `nothing at ${pathname}`);
  };

  const openStream = (response: ServerResponse): void => {
    response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8' });
    const send = (snapshot: Snapshot): void => {
      response.write(`event: snapshot\ndata: ${options.redactor.redact(JSON.stringify(snapshot))}\n\n`);
    };
    send(options.monitor.latest);
    const unsubscribe = options.monitor.subscribe(send);
    streams.add(response);
    response.on('close', () => {
      unsubscribe();
      streams.delete(response);
    });
  };

  const server: Server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => sendError(response, error, options.redactor));
  });
  const address = await listen(server, options.port, options.host);
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const everywhere = address.address === '0.0.0.0' || address.address === '::';
  allowedHosts = everywhere
    ? undefined
    : new Set(
        [shown, ...(isLoopback(address.address) ? ['localhost', '127.0.0.1', '[::1]'] : [])].map(
          (h) => `${h}:${address.port}`,
        ),
      );
  return {
    url: `http://${shown}:${address.port}`,
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        // Event streams never end on their own: closing them lets the server close.
        for (const stream of streams) stream.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new DashboardStartError(`cannot serve the dashboard on ${host}:${port}: ${error.code ?? error.message}`));
    });
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}
