/**
 * Broker URL parsing, kombu style: `amqp://user:pass@host:5672/vhost`, `redis://:pass@host:6379/2`,
 * `memory://name`, `file:///var/spool/wakame`, and `url1;url2` failover lists.
 *
 * The parser is hand-written rather than built on WHATWG `URL`, because `URL` treats the
 * non-special schemes we care about (`amqp`, `redis`, `memory`, `file`-with-relative-paths)
 * inconsistently: it keeps `//` vhosts, lower-cases some hosts and not others, and turns
 * `file://./dir` into a host named `.`.
 *
 * Passwords are the one thing this module must never leak: {@link BrokerUrl} keeps it in a private
 * field, and every error message shows the input through {@link redactUrl}.
 *
 * @module
 */
import { isIPv6 } from 'node:net';
import type { InspectOptionsStylized } from 'node:util';
import { inspect } from 'node:util';
import { InvalidUrlError } from '../errors.js';

/** Port used when a URL gives none, per scheme. Other schemes have no default port. */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = Object.freeze({
  amqp: 5672,
  amqps: 5671,
  redis: 6379,
  rediss: 6379,
  postgres: 5432,
  postgresql: 5432,
  mysql: 3306,
  mariadb: 3306,
});

/** Host used for `amqp`/`amqps`/`redis`/`rediss` URLs that name none (`amqp://`). */
export const DEFAULT_HOSTNAME = 'localhost';

/** RabbitMQ's default credentials, used for `amqp`/`amqps` URLs that carry no user info at all. */
export const DEFAULT_AMQP_CREDENTIALS: Readonly<{ username: string; password: string }> = Object.freeze({
  username: 'guest',
  password: 'guest',
});

/** The AMQP virtual host used when the URL path is empty or `/` (kombu's default). */
export const DEFAULT_VHOST = '/';

/** What replaces the password in {@link BrokerUrl.redacted} and {@link redactUrl}. */
export const PASSWORD_MASK = '****';

const EXAMPLE = 'expected e.g. amqp://user:pass@host:5672/vhost';
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const TLS_SCHEMES: ReadonlySet<string> = new Set(['amqps', 'rediss']);
const AMQP_SCHEMES: ReadonlySet<string> = new Set(['amqp', 'amqps']);
const REDIS_SCHEMES: ReadonlySet<string> = new Set(['redis', 'rediss']);
// RFC 3986 reg-name characters, minus ';' so that a mis-split failover list is caught here.
const HOST_RE = /^[A-Za-z0-9._~!$&'()*+,=%-]*$/;
// ';' separates failover URLs only before a scheme (or nothing), so a password like `pa;ss` survives.
const FAILOVER_SPLIT_RE = /;(?=\s*(?:[A-Za-z][A-Za-z0-9+.-]*:|;|$))/;

/** Everything a {@link BrokerUrl} is made of; what {@link parseBrokerUrl} computes. */
export interface BrokerUrlInit {
  /** Lower-cased by the constructor. */
  readonly scheme: string;
  /** @defaultValue `''` */
  readonly hostname?: string;
  /** @defaultValue `undefined` */
  readonly port?: number | undefined;
  /** @defaultValue `undefined` */
  readonly username?: string | undefined;
  /** @defaultValue `undefined` */
  readonly password?: string | undefined;
  /** @defaultValue {@link DEFAULT_VHOST} */
  readonly vhost?: string;
  /** @defaultValue `''` */
  readonly path?: string;
  /** @defaultValue `{}` */
  readonly query?: Readonly<Record<string, string>>;
  /** @defaultValue `false` */
  readonly tls?: boolean;
  /** @defaultValue `0` */
  readonly db?: number;
}

/**
 * A parsed broker URL. Immutable. The password is readable through {@link BrokerUrl.password} but
 * never serialised: `String(url)`, `JSON.stringify(url)` and `util.inspect(url)` all give
 * {@link BrokerUrl.redacted}.
 */
export class BrokerUrl {
  /** URL scheme without the colon, lower-cased: `amqp`, `amqps`, `redis`, `rediss`, `memory`, `file`, … */
  readonly scheme: string;
  /** Host name or address; IPv6 addresses without their brackets (`::1`). */
  readonly hostname: string;
  /** The port, with the scheme's {@link DEFAULT_PORTS | default} filled in; `undefined` when none applies. */
  readonly port: number | undefined;
  /** Percent-decoded user name; `undefined` when the URL gives none. */
  readonly username: string | undefined;
  /** AMQP virtual host (`amqp://h//` → `/`; `amqp://h/foo` → `foo`; default `/`). `/` for other schemes. */
  readonly vhost: string;
  /**
   * Percent-decoded path. For `file:` the path as written (`/abs`, `./rel`, `rel`); for `memory:` the
   * broker name; for `redis:` the database number as text; otherwise the path without its leading `/`.
   */
  readonly path: string;
  /** Query parameters, percent-decoded; the last of repeated keys wins. */
  readonly query: Readonly<Record<string, string>>;
  /** True for `amqps` and `rediss`. */
  readonly tls: boolean;
  /** Redis logical database (the path of `redis://` URLs); 0 for other schemes. */
  readonly db: number;
  /** The URL in canonical form with the password replaced by {@link PASSWORD_MASK}: safe for logs and errors. */
  readonly redacted: string;
  // A private field, not a property: invisible to JSON, spread, structuredClone and inspect.
  readonly #password: string | undefined;

  /** Builds a URL from parts; prefer {@link parseBrokerUrl}. */
  constructor(init: BrokerUrlInit) {
    const scheme = init.scheme.toLowerCase();
    if (!SCHEME_RE.test(`${scheme}:`)) {
      throw new InvalidUrlError(`invalid broker URL scheme '${scheme}' (${EXAMPLE})`);
    }
    if (init.port !== undefined && !isValidPort(init.port)) {
      throw new InvalidUrlError(`invalid broker URL port ${String(init.port)}: must be an integer from 1 to 65535`);
    }
    this.scheme = scheme;
    this.hostname = init.hostname ?? '';
    this.port = init.port;
    this.username = init.username;
    this.#password = init.password;
    this.vhost = init.vhost ?? DEFAULT_VHOST;
    this.path = init.path ?? '';
    this.query = Object.freeze({ ...init.query });
    this.tls = init.tls ?? false;
    this.db = init.db ?? 0;
    this.redacted = format(this);
  }

  /** The percent-decoded password; `undefined` when the URL gives none. Never serialised. */
  get password(): string | undefined {
    return this.#password;
  }

  /** @returns {@link BrokerUrl.redacted}. */
  toString(): string {
    return this.redacted;
  }

  /** @returns {@link BrokerUrl.redacted}, so `JSON.stringify` never sees the password. */
  toJSON(): string {
    return this.redacted;
  }

  /** Node's `util.inspect` hook (and so `console.log`): shows only the redacted form. */
  [inspect.custom](_depth: number, options: InspectOptionsStylized): string {
    return `BrokerUrl <${options.stylize(this.redacted, 'string')}>`;
  }
}

/**
 * Parses one broker URL.
 *
 * Defaults: `amqp`/`amqps`/`redis`/`rediss` get host {@link DEFAULT_HOSTNAME} and their
 * {@link DEFAULT_PORTS | default port}; `amqp`/`amqps` URLs with no user info at all get
 * {@link DEFAULT_AMQP_CREDENTIALS} (a URL that names a user but no password keeps `password`
 * undefined rather than silently trying `guest`). Relative `file:` paths are not resolved.
 *
 * @throws {@link InvalidUrlError} for anything malformed; the message shows the input redacted.
 */
export function parseBrokerUrl(input: string): BrokerUrl {
  if (typeof input !== 'string') {
    throw new InvalidUrlError(`broker URL must be a string, got ${input === null ? 'null' : typeof input}`);
  }
  const text = input.trim();
  const fail = (why: string): never => {
    throw new InvalidUrlError(`invalid broker URL '${redactUnparsed(text)}': ${why}`);
  };
  if (text === '') fail(`the URL is empty (${EXAMPLE})`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
  if (/[\u0000-\u001f\u007f]/.test(text)) fail('it contains control characters');
  const match = SCHEME_RE.exec(text);
  if (!match?.[1]) return fail(`it has no scheme (${EXAMPLE})`);
  const scheme = match[1].toLowerCase();
  const rest = text.slice(match[0].length);
  if (rest.includes('#')) fail("fragments are not supported; percent-encode '#' as %23");
  const q = rest.indexOf('?');
  const hier = q >= 0 ? rest.slice(0, q) : rest;
  const query = parseQuery(q >= 0 ? rest.slice(q + 1) : '');
  const tls = TLS_SCHEMES.has(scheme);

  if (scheme === 'file' || scheme === 'memory') {
    // Everything after `file:`/`file://` is the path: `file://./dir` is `./dir`, not host `.`.
    const body = hier.startsWith('//') ? hier.slice(2) : hier;
    if (scheme === 'file') return new BrokerUrl({ scheme, path: decode(body, 'path', fail), query });
    const slash = body.indexOf('/');
    const host = slash >= 0 ? body.slice(0, slash) : body;
    if (host.includes('@')) fail('memory URLs take no credentials');
    const name = body.startsWith('/') ? body.slice(1) : body;
    return new BrokerUrl({ scheme, hostname: decode(host, 'name', fail), path: decode(name, 'name', fail), query });
  }

  if (!hier.startsWith('//')) fail(`the scheme must be followed by '//' (${EXAMPLE})`);
  const afterSlashes = hier.slice(2);
  const slash = afterSlashes.indexOf('/');
  const authority = slash >= 0 ? afterSlashes.slice(0, slash) : afterSlashes;
  // Strip exactly one '/': `amqp://h//` has path '/' and so vhost '/', as in kombu.
  const path = slash >= 0 ? decode(afterSlashes.slice(slash + 1), 'path', fail) : '';
  // The last '@' ends the user info, so an unencoded '@' in a password still parses.
  const at = authority.lastIndexOf('@');
  let username: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    username = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, 'user name', fail) || undefined;
    password = colon >= 0 ? decode(userinfo.slice(colon + 1), 'password', fail) || undefined : undefined;
  }
  const { hostname, port } = parseHostPort(at >= 0 ? authority.slice(at + 1) : authority, fail);
  const effectivePort = port ?? defaultPort(scheme);

  if (AMQP_SCHEMES.has(scheme)) {
    const anonymous = username === undefined && password === undefined;
    return new BrokerUrl({
      scheme,
      hostname: hostname || DEFAULT_HOSTNAME,
      port: effectivePort,
      username: anonymous ? DEFAULT_AMQP_CREDENTIALS.username : username,
      password: anonymous ? DEFAULT_AMQP_CREDENTIALS.password : password,
      vhost: path === '' ? DEFAULT_VHOST : path,
      path,
      query,
      tls,
    });
  }
  if (REDIS_SCHEMES.has(scheme)) {
    if (path !== '' && !/^\d{1,9}$/.test(path)) {
      fail('the Redis database (the URL path) must be a non-negative integer, e.g. redis://host:6379/0');
    }
    return new BrokerUrl({
      scheme,
      hostname: hostname || DEFAULT_HOSTNAME,
      port: effectivePort,
      username,
      password,
      path,
      query,
      tls,
      db: path === '' ? 0 : Number(path),
    });
  }
  // A custom transport's scheme: generic parsing, kombu-style vhost, nothing else assumed.
  return new BrokerUrl({
    scheme,
    hostname,
    port: effectivePort,
    username,
    password,
    vhost: path === '' ? DEFAULT_VHOST : path,
    path,
    query,
    tls,
  });
}

/**
 * Parses a failover list: `'url1;url2'` (kombu's separator) or an array of URLs, in order of
 * preference. Empty segments of a string (a trailing `;`) are ignored; array elements are taken
 * as they are, one URL each.
 *
 * @throws {@link InvalidUrlError} when no URL is given or any URL is malformed.
 */
export function parseBrokerUrls(input: string | readonly string[]): BrokerUrl[] {
  let pieces: readonly string[];
  if (typeof input === 'string') {
    pieces = input
      .split(FAILOVER_SPLIT_RE)
      .map((s) => s.trim())
      .filter((s) => s !== '');
  } else if (Array.isArray(input)) {
    pieces = input;
  } else {
    throw new InvalidUrlError(`broker URLs must be a string or an array of strings, got ${typeof input}`);
  }
  if (pieces.length === 0) throw new InvalidUrlError(`no broker URL given (${EXAMPLE})`);
  return pieces.map((piece) => parseBrokerUrl(piece));
}

/**
 * Masks the password in a URL or a `;`-separated failover list, for logs and error messages.
 * Parsable URLs come back in the canonical {@link BrokerUrl.redacted} form; anything else gets a
 * best-effort mask of whatever sits between the first `:` of the user info and the last `@`, erring
 * on the side of hiding too much.
 */
export function redactUrl(input: string): string {
  if (typeof input !== 'string') return '';
  return input
    .split(FAILOVER_SPLIT_RE)
    .map((piece) => {
      try {
        return parseBrokerUrl(piece).redacted;
      } catch {
        return redactUnparsed(piece);
      }
    })
    .join(';');
}

/** Best-effort masking that needs no successful parse (used inside the parser's own errors). */
function redactUnparsed(text: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text);
  // Without '//' the text may be `user:pass@host` with the scheme missing: consider it all user info.
  const start = scheme ? scheme[0].length : 0;
  const endMatch = /[/?#]/.exec(text.slice(start));
  const authorityEnd = endMatch ? start + endMatch.index : text.length;
  let at = text.lastIndexOf('@', authorityEnd - 1);
  // No '@' in the authority: a password with an unencoded '/', '?' or '#' cut it short.
  if (at < start) at = text.lastIndexOf('@');
  if (at < start) return text;
  const colon = text.indexOf(':', start);
  if (colon < 0 || colon > at) return text;
  return `${text.slice(0, colon + 1)}${PASSWORD_MASK}${text.slice(at)}`;
}

function parseHostPort(hostport: string, fail: (why: string) => never): { hostname: string; port: number | undefined } {
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) fail("the IPv6 address has no closing ']'");
    const address = decode(hostport.slice(1, close), 'host', fail);
    if (!isIPv6(address)) fail('the bracketed host is not a valid IPv6 address');
    const after = hostport.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) fail("only ':port' may follow an IPv6 address");
    return { hostname: address, port: parsePort(after.slice(1), fail) };
  }
  const colon = hostport.indexOf(':');
  if (colon >= 0 && hostport.indexOf(':', colon + 1) >= 0) {
    fail('IPv6 addresses must be in brackets, e.g. amqp://[::1]:5672');
  }
  const host = colon >= 0 ? hostport.slice(0, colon) : hostport;
  const portText = colon >= 0 ? hostport.slice(colon + 1) : undefined;
  if (!HOST_RE.test(host)) {
    fail(
      host.includes(';')
        ? "the host contains ';' — separate failover URLs with ';' and give each its scheme"
        : 'the host contains characters that are not allowed in a host name',
    );
  }
  return { hostname: decode(host, 'host', fail), port: parsePort(portText, fail) };
}

function parsePort(text: string | undefined, fail: (why: string) => never): number | undefined {
  // `host:` with nothing after the colon means the default port, as in WHATWG URL.
  if (text === undefined || text === '') return undefined;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!isValidPort(port)) fail('the port must be an integer from 1 to 65535');
  return port;
}

function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

function defaultPort(scheme: string): number | undefined {
  // hasOwn: a scheme named 'constructor' must not find Object.prototype.constructor.
  return Object.hasOwn(DEFAULT_PORTS, scheme) ? DEFAULT_PORTS[scheme] : undefined;
}

function decode(text: string, what: string, fail: (why: string) => never): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Never echo the text: for the password that would be the secret itself.
    return fail(`the ${what} has invalid percent-encoding`);
  }
}

function parseQuery(text: string): Readonly<Record<string, string>> {
  const last = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(text)) last.set(key, value);
  // fromEntries defines own properties, so a `__proto__` key cannot touch the prototype.
  return Object.fromEntries(last);
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function format(url: BrokerUrl): string {
  const query = Object.keys(url.query).length > 0 ? `?${new URLSearchParams(url.query).toString()}` : '';
  if (url.scheme === 'file' || url.scheme === 'memory') return `${url.scheme}://${encodePath(url.path)}${query}`;
  const hasPassword = url.password !== undefined;
  const userinfo =
    url.username !== undefined || hasPassword
      ? `${encodeURIComponent(url.username ?? '')}${hasPassword ? `:${PASSWORD_MASK}` : ''}@`
      : '';
  const host = url.hostname.includes(':')
    ? `[${url.hostname.replaceAll('%', '%25')}]`
    : encodeURIComponent(url.hostname);
  const port = url.port === undefined ? '' : `:${url.port}`;
  let path: string;
  if (AMQP_SCHEMES.has(url.scheme)) path = `/${encodePath(url.vhost)}`;
  else path = url.path === '' ? '' : `/${encodePath(url.path)}`;
  return `${url.scheme}://${userinfo}${host}${port}${path}${query}`;
}
