import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidUrlError } from '../../src/errors.js';
import { BrokerUrl, DEFAULT_PORTS, parseBrokerUrl, parseBrokerUrls, redactUrl } from '../../src/transport/url.js';

/** The parts a case checks; absent keys are not checked. */
interface Expected {
  scheme?: string;
  hostname?: string;
  port?: number | undefined;
  username?: string | undefined;
  password?: string | undefined;
  vhost?: string;
  path?: string;
  query?: Record<string, string>;
  tls?: boolean;
  db?: number;
  redacted?: string;
}

const valid: [input: string, expected: Expected][] = [
  // AMQP, kombu's vhost rules
  [
    'amqp://guest:secret@h:5672//',
    { scheme: 'amqp', hostname: 'h', port: 5672, username: 'guest', password: 'secret', vhost: '/', tls: false },
  ],
  ['amqp://h', { hostname: 'h', port: 5672, username: 'guest', password: 'guest', vhost: '/', path: '' }],
  ['amqp://h/', { vhost: '/', path: '' }],
  ['amqp://h//', { vhost: '/', path: '/' }],
  ['amqp://h/%2f', { vhost: '/' }],
  ['amqp://h/%2F', { vhost: '/' }],
  ['amqp://h/foo', { vhost: 'foo', path: 'foo' }],
  ['amqp://h/a%20b', { vhost: 'a b' }],
  ['amqp://h/foo/bar', { vhost: 'foo/bar' }],
  ['amqp://', { hostname: 'localhost', port: 5672, username: 'guest', password: 'guest', vhost: '/' }],
  ['AMQP://H:1234', { scheme: 'amqp', hostname: 'H', port: 1234 }],
  ['amqp://h:', { port: 5672 }],
  ['amqps://', { scheme: 'amqps', hostname: 'localhost', port: 5671, tls: true }],
  ['amqps://u:p@broker.example.com/prod', { port: 5671, tls: true, vhost: 'prod', username: 'u', password: 'p' }],
  // credentials: defaults only when none are given; percent-decoding; raw '@' in a password
  ['amqp://alice@h', { username: 'alice', password: undefined }],
  ['amqp://@h', { username: 'guest', password: 'guest' }],
  ['amqp://u%40x:p%3Aa%40b@h', { username: 'u@x', password: 'p:a@b' }],
  ['amqp://u:p@ss@h', { username: 'u', password: 'p@ss', hostname: 'h' }],
  ['amqp://u:pa:ss@h', { username: 'u', password: 'pa:ss' }],
  // IPv6
  ['amqp://[::1]', { hostname: '::1', port: 5672, redacted: 'amqp://guest:****@[::1]:5672//' }],
  ['amqp://u:p@[2001:db8::7]:5673/v', { hostname: '2001:db8::7', port: 5673, vhost: 'v' }],
  ['redis://[::1]:6380/1', { hostname: '::1', port: 6380, db: 1 }],
  // query: decoded, last wins
  ['amqp://h/v?heartbeat=10&a=1&a=2&x=a%20b', { vhost: 'v', query: { heartbeat: '10', a: '2', x: 'a b' } }],
  ['amqp://h?frame_max=4096', { vhost: '/', query: { frame_max: '4096' } }],
  ['amqp://h', { query: {} }],
  // Redis
  ['redis://h:6379/2', { scheme: 'redis', hostname: 'h', port: 6379, path: '2', db: 2, tls: false }],
  ['redis://h', { port: 6379, path: '', db: 0, username: undefined, password: undefined, vhost: '/' }],
  ['redis://h/', { db: 0 }],
  ['redis://', { hostname: 'localhost', port: 6379 }],
  ['redis://:secret@h', { username: undefined, password: 'secret', hostname: 'h' }],
  ['redis://default:secret@h/15', { username: 'default', password: 'secret', db: 15 }],
  ['rediss://h', { scheme: 'rediss', port: 6379, tls: true }],
  // memory: the host part names the broker
  ['memory://', { scheme: 'memory', path: '', hostname: '', port: undefined }],
  ['memory://name', { path: 'name', hostname: 'name' }],
  ['memory:///x', { path: 'x' }],
  ['memory:', { path: '' }],
  ['memory://my%20broker', { path: 'my broker' }],
  ['memory://name?x=1', { path: 'name', query: { x: '1' } }],
  // file: not resolved against the cwd
  ['file:///abs/path', { scheme: 'file', path: '/abs/path', hostname: '', port: undefined }],
  ['file://./rel/dir', { path: './rel/dir' }],
  ['file://rel', { path: 'rel' }],
  ['file://../up', { path: '../up' }],
  ['file:', { path: '' }],
  ['file://', { path: '' }],
  ['file:///my%20dir/q?fsync=1', { path: '/my dir/q', query: { fsync: '1' } }],
  // custom transports: generic parsing
  ['my-broker+tcp://u:p@host:1234/a/b?k=v', { scheme: 'my-broker+tcp', hostname: 'host', port: 1234, path: 'a/b' }],
  ['nats://host', { scheme: 'nats', hostname: 'host', port: undefined, vhost: '/', path: '' }],
  ['constructor://h', { port: undefined }],
  // surrounding whitespace (env vars) is ignored
  ['  amqp://h/v \n', { hostname: 'h', vhost: 'v' }],
];

describe('parseBrokerUrl', () => {
  it.each(valid)('parses %j', (input, expected) => {
    const url = parseBrokerUrl(input);
    const actual: Record<string, unknown> = {};
    for (const key of Object.keys(expected)) actual[key] = url[key as keyof BrokerUrl];
    expect(actual).toEqual(expected);
  });

  const invalid: [input: string, messagePart: RegExp][] = [
    ['', /empty/],
    ['nonsense', /no scheme.*amqp:\/\/user:pass@host:5672\/vhost/],
    ['localhost:5672', /followed by '\/\/'/],
    ['//h/v', /no scheme/],
    ['1amqp://h', /no scheme/],
    ['amqp:h', /followed by '\/\/'/],
    ['amqp://h:0', /port must be an integer from 1 to 65535/],
    ['amqp://h:65536', /port/],
    ['amqp://h:99999', /port/],
    ['amqp://h:-1', /port/],
    ['amqp://h:12ab', /port/],
    ['amqp://h:1.5', /port/],
    ['amqp://::1/', /IPv6 addresses must be in brackets/],
    ['amqp://[::1', /closing/],
    ['amqp://[nope]', /not a valid IPv6/],
    ['amqp://[::1]x', /only ':port'/],
    ['amqp://h o/', /not allowed in a host/],
    ['amqp://h1;h2', /separate failover URLs/],
    ['amqp://h/v#frag', /fragments/],
    ['amqp://h/%zz', /path has invalid percent-encoding/],
    ['amqp://h\u0000/', /control characters/],
    ['redis://h/x', /Redis database/],
    ['redis://h/-1', /Redis database/],
    ['redis://h/1.5', /Redis database/],
    ['memory://u:p@name', /no credentials/],
  ];
  it.each(invalid)('rejects %j', (input, messagePart) => {
    let caught: unknown;
    try {
      parseBrokerUrl(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidUrlError);
    expect((caught as InvalidUrlError).code).toBe('ERR_INVALID_URL');
    expect((caught as Error).message).toMatch(messagePart);
  });

  it('rejects non-strings', () => {
    expect(() => parseBrokerUrl(undefined as unknown as string)).toThrow(InvalidUrlError);
  });

  it('exposes the default ports', () => {
    expect(DEFAULT_PORTS).toEqual({
      amqp: 5672,
      amqps: 5671,
      redis: 6379,
      rediss: 6379,
      postgres: 5432,
      postgresql: 5432,
      mysql: 3306,
      mariadb: 3306,
    });
    expect(Object.isFrozen(DEFAULT_PORTS)).toBe(true);
  });

  it('prints the canonical redacted form, which parses back to the same URL', () => {
    const url = parseBrokerUrl('amqp://u%40x:pw@h/my%20vhost?a=1');
    expect(url.redacted).toBe('amqp://u%40x:****@h:5672/my%20vhost?a=1');
    const again = parseBrokerUrl(url.redacted);
    expect(again.vhost).toBe('my vhost');
    expect(again.username).toBe('u@x');
    expect(parseBrokerUrl('file://./rel/dir').redacted).toBe('file://./rel/dir');
    expect(parseBrokerUrl('file:///abs').redacted).toBe('file:///abs');
    expect(parseBrokerUrl('memory://name').redacted).toBe('memory://name');
    expect(parseBrokerUrl('redis://:pw@h/3').redacted).toBe('redis://:****@h:6379/3');
  });

  it('keeps the query immune to __proto__ keys', () => {
    const url = parseBrokerUrl('amqp://h?__proto__=x&a=1');
    expect(Object.getPrototypeOf(url.query)).toBe(Object.prototype);
    expect(url.query.a).toBe('1');
  });
});

describe('password secrecy', () => {
  const secret = 's3cr3t';
  const urls = [
    `amqp://u:${secret}@h:5672//`,
    `amqps://u:${secret}@h/v`,
    `redis://:${secret}@h/2`,
    `rediss://default:${secret}@h`,
    `custom://u:${secret}@h/x`,
  ];
  it.each(urls)('never prints the password of %j', (input) => {
    const url = parseBrokerUrl(input);
    expect(url.password).toBe(secret);
    for (const text of [
      String(url),
      `${url}`,
      url.toString(),
      url.redacted,
      JSON.stringify(url),
      JSON.stringify({ url }),
      inspect(url),
      inspect(url, { showHidden: true, depth: 5 }),
      inspect({ nested: [url] }),
      inspect(url, { customInspect: false, showHidden: true }),
      JSON.stringify({ ...url }),
      Object.keys(url).join(','),
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(url.redacted).toContain('****');
    expect(Object.keys(url)).not.toContain('password');
  });

  const malformed = [
    `amqp://u:${secret}@h:99999`,
    `amqp://u:${secret}@h:0/v`,
    `amqp://u:${secret}@::1/`,
    `amqp://u:${secret}@h/%zz`,
    `amqp://u:${secret}#x@h`,
    `amqp://u:${secret}/x@h`,
    `amqp://u:${secret}?x@h`,
    `amqp://u:${secret}%zz@h`,
    `u:${secret}@h:5672`,
    `amqp:u:${secret}@h`,
    `redis://:${secret}@h/db`,
    `amqp://u:${secret}@h o`,
  ];
  it.each(malformed)('keeps the password out of the error for %j', (input) => {
    let caught: unknown;
    try {
      parseBrokerUrl(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidUrlError);
    expect((caught as Error).message).not.toContain(secret);
    expect(inspect(caught)).not.toContain(secret);
    expect(redactUrl(input)).not.toContain(secret);
  });

  it('redactUrl masks every URL of a failover list, parsable or not', () => {
    const out = redactUrl(`amqp://u:${secret}@a;amqp://u:${secret}2@b:99999;u:${secret}@x;garbage u:${secret}@y`);
    expect(out).not.toContain(secret);
    expect(out.split(';')).toHaveLength(3);
    expect(redactUrl('amqp://h/v')).toBe('amqp://guest:****@h:5672/v');
    expect(redactUrl('not a url')).toBe('not a url');
  });

  it('hides the password of hand-built URLs too', () => {
    const url = new BrokerUrl({ scheme: 'amqp', hostname: 'h', username: 'u', password: secret, port: 5672 });
    expect(JSON.stringify(url)).not.toContain(secret);
    expect(inspect(url)).not.toContain(secret);
    expect(url.password).toBe(secret);
    expect(() => new BrokerUrl({ scheme: 'amqp', port: 70000, password: secret })).toThrow(InvalidUrlError);
  });
});

describe('parseBrokerUrls', () => {
  it('splits a failover string on ;', () => {
    const urls = parseBrokerUrls('amqp://a;amqp://u:p@b:5673/v');
    expect(urls.map((u) => [u.hostname, u.port, u.vhost])).toEqual([
      ['a', 5672, '/'],
      ['b', 5673, 'v'],
    ]);
  });

  it('accepts an array, in order', () => {
    const urls = parseBrokerUrls(['redis://a/1', 'rediss://b']);
    expect(urls.map((u) => [u.scheme, u.hostname, u.db])).toEqual([
      ['redis', 'a', 1],
      ['rediss', 'b', 0],
    ]);
  });

  it('parses a single URL as a list of one', () => {
    expect(parseBrokerUrls('memory://x')).toHaveLength(1);
  });

  it('ignores empty segments and spaces', () => {
    expect(parseBrokerUrls(' amqp://a ; amqp://b ;').map((u) => u.hostname)).toEqual(['a', 'b']);
  });

  it('keeps a ; inside a password that is not followed by a scheme', () => {
    const [url] = parseBrokerUrls('amqp://u:pa;ss@h');
    expect(url?.password).toBe('pa;ss');
  });

  it.each([[''], [' ; '], [[] as string[]]])('rejects an empty list (%j)', (input) => {
    expect(() => parseBrokerUrls(input)).toThrow(InvalidUrlError);
  });

  it('rejects the whole list when one URL is malformed', () => {
    expect(() => parseBrokerUrls(['amqp://a', 'amqp://b:0'])).toThrow(/port/);
    expect(() => parseBrokerUrls(['amqp://a', ''])).toThrow(InvalidUrlError);
  });
});
