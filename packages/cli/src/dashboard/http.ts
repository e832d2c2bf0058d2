/**
 * HTTP plumbing of the dashboard server: JSON answers (redacted), request bodies, the static page,
 * and the checks every request and every action passes.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DashboardRequestError } from './errors.js';
import type { Redactor } from './redact.js';

/**
 * The page's files: `packages/cli/ui/`, two levels up from this module both in `src/dashboard/` (run from source)
 * and in `dist/dashboard/` (the built package, which ships `ui/` in its `files`).
 */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/** The files the page is made of; nothing else is served from disk, so no path can leave the folder. */
export const UI_FILES: readonly string[] = ['index.html', 'app.js', 'graph.js', 'charts.js', 'actions.js', 'style.css'];
const STATIC_FILES = new Set(UI_FILES);

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * Headers on every answer: the page runs only its own scripts and styles, is never framed, and sends no referrer
 * (its URL could name a queue).
 */
export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
} as const;

/** Sends `body` as JSON, with every known secret masked. */
export function sendJson(response: ServerResponse, status: number, body: unknown, redactor: Redactor): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' });
  response.end(redactor.redact(JSON.stringify(body)));
}

/** Sends an error as `{ error: { code, message } }` with its status (500 for anything unexpected). */
export function sendError(response: ServerResponse, error: unknown, redactor: Redactor): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  const code =
    typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'ERR_INTERNAL';
  // A queue the broker does not have (purged or listed after it was deleted) is the page's mistake, not ours.
  const status = error instanceof DashboardRequestError ? error.status : code === 'ERR_NOT_FOUND' ? 404 : 500;
  const message = error instanceof Error ? error.message : String(error);
  sendJson(response, status, { error: { code, message } }, redactor);
}

/** Serves one of the page's files; false when `name` is not one. */
export async function sendStatic(response: ServerResponse, name: string): Promise<boolean> {
  if (!STATIC_FILES.has(name)) return false;
  const body = await readFile(join(UI_DIR, name));
  response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': CONTENT_TYPES[extname(name)] ?? 'text/plain' });
  response.end(body);
  return true;
}

/** Bodies of actions are a queue name and a count: anything larger is not one. */
const MAX_BODY_BYTES = 4096;

/** Reads a small JSON object body. */
export async function readJsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new DashboardRequestError('ERR_BAD_REQUEST', 413, 'the request body is too large');
    chunks.push(chunk as Buffer);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Answered below.
  }
  throw new DashboardRequestError('ERR_BAD_REQUEST', 400, 'the request body must be a JSON object');
}

/**
 * Refuses requests whose Host is not the address the server listens on (or a loopback name for it): a page on
 * another site that re-points its own name at 127.0.0.1 (DNS rebinding) would otherwise count as same-origin.
 */
export function checkHost(request: IncomingMessage, allowed: ReadonlySet<string>): void {
  const host = (request.headers.host ?? '').toLowerCase();
  if (!allowed.has(host)) {
    throw new DashboardRequestError('ERR_BAD_HOST', 403, `requests must be addressed to the dashboard, not '${host}'`);
  }
}

/**
 * An action must come from the page itself: actions enabled, the browser's Origin the dashboard's own, and the
 * token the page got from `/api/state` (which other origins cannot read) in `x-wakame-token`.
 */
export function checkAction(request: IncomingMessage, options: { allowActions: boolean; token: string }): void {
  if (!options.allowActions) {
    throw new DashboardRequestError(
      'ERR_ACTIONS_DISABLED',
      403,
      'the dashboard is read-only: start it with --allow-actions to replay or purge',
    );
  }
  const origin = request.headers.origin;
  if (origin === undefined || origin !== `http://${request.headers.host ?? ''}`) {
    throw new DashboardRequestError('ERR_CROSS_ORIGIN', 403, 'actions are accepted from the dashboard page only');
  }
  if (request.headers['x-wakame-token'] !== options.token) {
    throw new DashboardRequestError('ERR_BAD_TOKEN', 403, 'the action token is missing or stale: reload the page');
  }
}
