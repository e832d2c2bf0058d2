/**
 * The RabbitMQ broker admin over a fake fetch: which calls each put and delete makes, how HTTP
 * failures become Wakame errors, and that no secret reaches one. The answers imitate RabbitMQ
 * 3.10.8's (collected by hand; broker-admin.int.test.ts runs the same against the broker).
 */
import { inspect } from 'node:util';
import {
  AccessRefusedError,
  ConnectionError,
  InvalidArgumentError,
  parseBrokerUrl,
  Sensitive,
  TransportError,
  UnsupportedFeatureError,
} from '@wakame/core/spi';
import { describe, expect, it } from 'vitest';
import { RabbitBrokerAdmin } from '../../src/amqp/broker-admin.js';
import { managementEndpoint } from '../../src/amqp/management.js';
import { reasonOf } from '../../src/amqp/management-client.js';

interface Call {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}
type Answer = readonly [status: number, body?: unknown];

const ADMIN_PASSWORD = 'admin-pw-4c1d';
const endpoint = () => managementEndpoint(parseBrokerUrl(`amqp://ops:${ADMIN_PASSWORD}@127.0.0.1/orders`), undefined);

/** An admin whose fetch records each call and answers with `answer(call)`. */
function fake(answer: (call: Call) => Answer | Promise<Answer>): { admin: RabbitBrokerAdmin; calls: Call[] } {
  const calls: Call[] = [];
  const fetchImpl = (async (input: string, init: RequestInit) => {
    const path = decodeURI(new URL(input).pathname.replace(/^\/api\//, ''));
    const call = { method: init.method ?? 'GET', path, body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(call);
    const [status, body] = await answer(call);
    return new Response(status === 204 || body === undefined ? null : JSON.stringify(body), { status });
  }) as typeof fetch;
  return { admin: new RabbitBrokerAdmin({ vhost: 'orders', endpoint, fetch: fetchImpl }), calls };
}

/** Every way an error can be shown, as one string. */
function shown(error: unknown): string {
  return [String(error), (error as Error).message, JSON.stringify(error), inspect(error, { depth: 5 })].join('\n');
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('RabbitBrokerAdmin calls', () => {
  it('puts a policy without a vhost in the connection vhost, with apply-to', async () => {
    const { admin, calls } = fake(() => [201]);
    await admin.put({
      kind: 'operator-policy',
      spec: {
        name: 'cap',
        operator: true,
        pattern: '^q',
        applyTo: 'queues',
        priority: 2,
        definition: { 'max-length': 9 },
      },
    });
    expect(calls).toEqual([
      {
        method: 'PUT',
        path: 'operator-policies/orders/cap',
        body: { pattern: '^q', definition: { 'max-length': 9 }, priority: 2, 'apply-to': 'queues' },
      },
    ]);
  });

  it('keeps the password of a user declared without one by sending its hash back', async () => {
    const { admin, calls } = fake((c) =>
      c.method === 'GET'
        ? [200, { name: 'svc', tags: [], password_hash: 'HASH', hashing_algorithm: 'rabbit_password_hashing_sha512' }]
        : [204],
    );
    await admin.put({ kind: 'user', spec: { name: 'svc', tags: ['monitoring', 'management'] } });
    expect(calls[1]).toEqual({
      method: 'PUT',
      path: 'users/svc',
      body: {
        tags: 'monitoring,management',
        password_hash: 'HASH',
        hashing_algorithm: 'rabbit_password_hashing_sha512',
      },
    });
  });

  it('creates a user declared without a password with none', async () => {
    const { admin, calls } = fake((c) => (c.method === 'GET' ? [404, { error: 'Object Not Found' }] : [201]));
    await admin.put({ kind: 'user', spec: { name: 'svc', tags: [] } });
    expect(calls[1]?.body).toEqual({ tags: '', password_hash: '' });
  });

  it("deletes one exchange's topic permission by deleting all and putting the others back", async () => {
    const entries = [
      { user: 'svc', vhost: 'orders', exchange: 'a', write: 'x', read: 'y' },
      { user: 'svc', vhost: 'orders', exchange: 'b', write: '.*', read: '.*' },
    ];
    const { admin, calls } = fake((c) => (c.method === 'GET' ? [200, entries] : [204]));
    await admin.delete({ kind: 'topic-permission', spec: entries[1] as (typeof entries)[1] });
    expect(calls).toEqual([
      { method: 'GET', path: 'topic-permissions/orders/svc', body: undefined },
      { method: 'DELETE', path: 'topic-permissions/orders/svc', body: undefined },
      { method: 'PUT', path: 'topic-permissions/orders/svc', body: { exchange: 'a', write: 'x', read: 'y' } },
    ]);
  });

  it('treats a 404 on delete as already gone', async () => {
    const { admin } = fake(() => [404, { error: 'Object Not Found', reason: 'Not Found' }]);
    await admin.delete({ kind: 'vhost', spec: { name: 'gone', tags: [] } });
    await admin.delete({
      kind: 'topic-permission',
      spec: { user: 'u', vhost: 'v', exchange: 'e', write: '', read: '' },
    });
  });

  it('refuses a default queue type change that the broker did not take (3.10 sets it at creation only)', async () => {
    const { admin } = fake((c) =>
      c.method === 'GET'
        ? [200, { name: 'v', tags: [], default_queue_type: 'undefined', metadata: { tags: [] } }]
        : [204],
    );
    const error = await failure(
      admin.put({ kind: 'vhost', spec: { name: 'v', tags: [], defaultQueueType: 'quorum' } }),
    );
    expect(error).toBeInstanceOf(UnsupportedFeatureError);
    expect(error.message).toMatch(/default queue type of the existing vhost 'v' \(classic → quorum/);
  });
});

describe('RabbitBrokerAdmin errors', () => {
  it('turns a 400 into InvalidArgumentError with the reason, and never shows the password or the login', async () => {
    const password = 'hunter2-Zq9';
    // A broker echoing the password back (RabbitMQ does echo a malformed password_hash).
    const { admin } = fake(() => [400, { error: 'bad_request', reason: ['bad_password', password] }]);
    const error = await failure(
      admin.put({
        kind: 'user',
        spec: { name: 'svc', tags: [], credential: { kind: 'password', password: new Sensitive(password) } },
      }),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe('cannot put user svc: RabbitMQ answered HTTP 400: ["bad_password","(sensitive)"]');
    const authorization = endpoint().authorization;
    for (const secret of [password, ADMIN_PASSWORD, authorization, authorization.slice(6)])
      expect(shown(error)).not.toContain(secret);
  });

  it('never shows a hash RabbitMQ echoes', async () => {
    const hash = 'not-base64!!d00d';
    const { admin } = fake(() => [400, { error: 'bad_request', reason: ['not_base64', hash] }]);
    const error = await failure(
      admin.put({ kind: 'user', spec: { name: 'svc', tags: [], credential: { kind: 'hash', hash, algorithm: 'x' } } }),
    );
    expect(error.message).toContain('not_base64');
    expect(shown(error)).not.toContain(hash);
  });

  it('turns 401 and 403 into AccessRefusedError naming the user and the tag needed', async () => {
    for (const status of [401, 403]) {
      const { admin } = fake(() => [status, { error: 'not_authorised', reason: 'Not administrator user' }]);
      const error = await failure(admin.list());
      expect(error).toBeInstanceOf(AccessRefusedError);
      expect(error.message).toMatch(/refused user 'ops' \(HTTP 40[13]: Not administrator user\); .*'administrator'/);
      expect(shown(error)).not.toContain(ADMIN_PASSWORD);
    }
  });

  it('turns a 5xx into a retriable TransportError, and no answer into ConnectionError', async () => {
    const { admin } = fake(() => [503, { error: 'unavailable' }]);
    const error = await failure(admin.delete({ kind: 'user', spec: { name: 'u', tags: [] } }));
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).retriable).toBe(true);
    const down = fake(() =>
      Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })),
    );
    const refused = await failure(down.admin.list());
    expect(refused).toBeInstanceOf(ConnectionError);
    expect(refused.message).toMatch(
      /cannot reach the RabbitMQ management API at http:\/\/127\.0\.0\.1:15672 \(ECONNREFUSED\)/,
    );
  });

  it('refuses a malformed managementUrl without showing its password', async () => {
    const admin = new RabbitBrokerAdmin({
      vhost: '/',
      endpoint: () => managementEndpoint(parseBrokerUrl('amqp://h'), 'http://u:pw-7781@ bad'),
    });
    const error = await failure(admin.list());
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(shown(error)).not.toContain('pw-7781');
  });

  it('renders RabbitMQ reasons as one line: HTML entities decoded, Erlang strings as strings', () => {
    expect(reasonOf({ reason: 'Validation failed\n\n&lt;&lt;"abc"&gt;&gt; is not a valid message TTL\n' })).toBe(
      'Validation failed <<"abc">> is not a valid message TTL',
    );
    expect(reasonOf({ reason: ['invalid_regexp', [40], [[109, 105, 115, 115, 105, 110, 103, 32, 41], 1]] })).toBe(
      '["invalid_regexp","(",["missing )",1]]',
    );
    expect(reasonOf({ error: 'bad_request' })).toBe('bad_request');
  });
});
