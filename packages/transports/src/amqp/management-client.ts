/**
 * One call to the RabbitMQ management HTTP API, with its failures as Wakame errors: a refused login
 * or a missing tag (401/403) → {@link AccessRefusedError}, a refused body or an unknown vhost or
 * user (400, and 404 where something must exist) → {@link InvalidArgumentError} with RabbitMQ's
 * reason, a broker failure (5xx) → a retriable {@link TransportError}, no answer →
 * {@link ConnectionError} or {@link TimeoutError}.
 *
 * Secrets never reach an error: messages are built from the entity's description, the status and
 * RabbitMQ's reason with every secret the call carried replaced by `(sensitive)` (RabbitMQ echoes
 * some values back: a malformed `password_hash` comes back in the reason), and no error carries
 * the request, its body or its `authorization` header.
 *
 * @module
 */
import {
  AccessRefusedError,
  ConnectionError,
  InvalidArgumentError,
  TimeoutError,
  TransportError,
  type WakameError,
} from '@wakame/core/spi';
import type { ManagementEndpoint } from './management.js';

/** @defaultValue of {@link ManagementClientOptions.timeoutMs} */
export const DEFAULT_MANAGEMENT_TIMEOUT_MS = 10_000;

/** How to reach the management API. */
export interface ManagementClientOptions {
  /** Where the API is and how to log in; called on first use (a malformed `managementUrl` throws then). */
  readonly endpoint: () => ManagementEndpoint;
  /** Deadline of one HTTP call. @defaultValue {@link DEFAULT_MANAGEMENT_TIMEOUT_MS} */
  readonly timeoutMs?: number;
  /** The fetch to use (tests give a fake one). @defaultValue the global `fetch` */
  readonly fetch?: typeof fetch;
}

/** One call: what it is for (in messages), its body, and what must never be shown. */
export interface ManagementCall {
  /** What the call does, for messages: `put user orders-svc`, `list the broker's users`. */
  readonly what: string;
  readonly body?: unknown;
  /** Values the body carries that must not appear in an error (passwords, hashes). */
  readonly secrets?: readonly string[];
  /** A 404 answers `undefined` instead of failing (a GET of something absent, a DELETE of something gone). */
  readonly notFoundIsAbsent?: boolean;
}

const HINT =
  "broker entities need a management user tagged 'administrator' (policies alone: 'policymaker'), " +
  'whose credentials come from the broker URL or from --management-url (transportOptions.managementUrl)';

/** The management API, called with the credentials of its endpoint. */
export class ManagementClient {
  readonly #options: ManagementClientOptions;
  #endpoint: ManagementEndpoint | undefined;

  constructor(options: ManagementClientOptions) {
    this.#options = options;
  }

  /** The API's base URL (no credentials). */
  get base(): string {
    return this.#api().base;
  }

  /**
   * Calls `/api/<path>` (segments already encoded) and returns the parsed body, `undefined` when it
   * has none (or on a 404 with {@link ManagementCall.notFoundIsAbsent}).
   */
  async call<T>(method: string, path: string, call: ManagementCall): Promise<T | undefined> {
    const api = this.#api();
    const timeoutMs = this.#options.timeoutMs ?? DEFAULT_MANAGEMENT_TIMEOUT_MS;
    let response: Response;
    try {
      response = await (this.#options.fetch ?? fetch)(`${api.base}/api/${path}`, {
        method,
        headers: { authorization: api.authorization, 'content-type': 'application/json' },
        ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw unreachable(error, api.base, call.what, timeoutMs);
    }
    if (response.status === 404 && call.notFoundIsAbsent) {
      await response.body?.cancel();
      return undefined;
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      throw refused(response.status, parse(text), { ...api, what: call.what, secrets: secretsOf(api, call) });
    }
    return text === '' ? undefined : (parse(text) as T);
  }

  #api(): ManagementEndpoint {
    if (this.#endpoint === undefined) {
      try {
        this.#endpoint = this.#options.endpoint();
      } catch {
        // No cause: a URL's parse error carries the input, and with it any password inside.
        throw new InvalidArgumentError(
          'the managementUrl option is not a valid URL (give http(s)://[user:password@]host:port)',
        );
      }
    }
    return this.#endpoint;
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The call's secrets, and the password of the API login (RabbitMQ never echoes it; defence in depth). */
function secretsOf(api: ManagementEndpoint, call: ManagementCall): string[] {
  const login = Buffer.from(api.authorization.replace(/^Basic /, ''), 'base64').toString('utf8');
  const password = login.slice(login.indexOf(':') + 1);
  return [...(call.secrets ?? []), password, api.authorization].filter((s) => s !== '');
}

function unreachable(error: unknown, base: string, what: string, timeoutMs: number): WakameError {
  if ((error as Error).name === 'TimeoutError') {
    return new TimeoutError(`cannot ${what}: the RabbitMQ management API at ${base} did not answer in ${timeoutMs} ms`);
  }
  // fetch's TypeError carries the socket error as its cause (never the request or its headers).
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  return new ConnectionError(
    `cannot ${what}: cannot reach the RabbitMQ management API at ${base} (${reason}); ` +
      'enable the rabbitmq_management plugin, or give its address with --management-url (transportOptions.managementUrl)',
    { cause: error },
  );
}

function refused(
  status: number,
  body: unknown,
  context: { readonly base: string; readonly username: string; readonly what: string; readonly secrets: string[] },
): WakameError {
  const reason = redact(reasonOf(body), context.secrets);
  const answered = `HTTP ${status}${reason !== '' ? `: ${reason}` : ''}`;
  if (status === 401 || status === 403) {
    return new AccessRefusedError(
      `cannot ${context.what}: the RabbitMQ management API at ${context.base} refused user '${context.username}' ` +
        `(${answered}); ${HINT}`,
    );
  }
  const message = `cannot ${context.what}: RabbitMQ answered ${answered}`;
  if (status === 400 || status === 404) return new InvalidArgumentError(message);
  return new TransportError(message);
}

/**
 * RabbitMQ's reason as one line: its `reason` (else `error`), a string (HTML-escaped by 3.10 in
 * validation messages) or an Erlang term rendered as JSON, where lists of character codes become
 * the strings they are (`[40]` → `"("`).
 */
export function reasonOf(body: unknown): string {
  const fields = typeof body === 'object' && body !== null ? (body as { reason?: unknown; error?: unknown }) : {};
  const reason = fields.reason ?? fields.error ?? (typeof body === 'string' ? body : '');
  const text = typeof reason === 'string' ? reason : JSON.stringify(charlists(reason));
  return unescapeHtml(text).replace(/\s+/g, ' ').trim();
}

function charlists(term: unknown): unknown {
  if (!Array.isArray(term)) return term;
  if (term.length > 0 && term.every((c) => Number.isInteger(c) && (c === 10 || (c >= 32 && c <= 0x10ffff)))) {
    return String.fromCodePoint(...(term as number[]));
  }
  return term.map(charlists);
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** `text` with every occurrence of every secret (as is, or escaped as in JSON) replaced by `(sensitive)`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    for (const form of [secret, JSON.stringify(secret).slice(1, -1)]) {
      if (form !== '') out = out.split(form).join('(sensitive)');
    }
  }
  return out;
}
