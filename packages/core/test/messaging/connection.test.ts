import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConnectionError, TransportError } from '../../src/errors.js';
import { Connection, withConnection } from '../../src/messaging/connection.js';
import { Exchange } from '../../src/model/exchange.js';
import { Queue } from '../../src/model/queue.js';
import { TransportRegistry } from '../../src/transport/registry.js';
import type { Transport, TransportFactory } from '../../src/transport/spi.js';
import { memoryBroker } from '../../src/virtual/memory-store.js';
import { VirtualTransport } from '../../src/virtual/virtual-transport.js';

const memoryUrl = () => `memory://${randomUUID()}`;

/** A registry whose `fake://` transport refuses hosts named "down" and otherwise is a real memory broker. */
function fakeRegistry(attempts: string[]): TransportRegistry {
  const factory: TransportFactory = (url) => {
    attempts.push(url.hostname);
    if (url.hostname.startsWith('down')) {
      return {
        kind: 'fake',
        connect: async () => {
          throw new ConnectionError(`connection refused by ${url.hostname}`);
        },
        close: async () => {},
      } as unknown as Transport;
    }
    return new VirtualTransport(memoryBroker(`fake-${url.hostname}`));
  };
  return new TransportRegistry([['fake', async () => factory]]);
}

describe('Connection URLs', () => {
  it('rejects a malformed URL with a typed error and no password', () => {
    expect(() => new Connection('amqp://user:s3cret@host:99999/')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_URL', message: expect.not.stringContaining('s3cret') }),
    );
  });

  it('rejects an unknown scheme naming the known ones', async () => {
    await expect(Connection.open('carrier-pigeon://coop')).rejects.toMatchObject({
      code: 'ERR_UNKNOWN_TRANSPORT',
      message: expect.stringContaining('memory'),
    });
  });

  it('says which package to install for a transport that is not available', async () => {
    const registry = new TransportRegistry([
      ['amqp', async () => import('@wakame/not-installed' as string).then((m: { f: TransportFactory }) => m.f)],
    ]);
    const error = await Connection.open('amqp://guest:pw@localhost//', { transports: registry }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).not.toContain('pw@');
  });

  it('never shows the password in toString, inspect, JSON or url', () => {
    const c = new Connection('amqp://guest:hunter2@rabbit:5672//;amqp://guest:hunter2@rabbit2//');
    for (const text of [String(c), c.url, inspect(c, { depth: 5 }), JSON.stringify(c.urls)]) {
      expect(text).not.toContain('hunter2');
    }
    expect(c.url).toBe('amqp://guest:****@rabbit:5672//');
  });
});

describe('Connection failover', () => {
  it('moves from a dead first URL to a live second one', async () => {
    const attempts: string[] = [];
    const c = await Connection.open('fake://down1;fake://up1', { transports: fakeRegistry(attempts) });
    expect(attempts).toEqual(['down1', 'up1']);
    expect(c.url).toBe('fake://up1');
    await c.close();
  });

  it('fails with the last error after one cycle over every URL', async () => {
    const attempts: string[] = [];
    await expect(
      Connection.open(['fake://down1', 'fake://down2'], { transports: fakeRegistry(attempts) }),
    ).rejects.toBeInstanceOf(ConnectionError);
    expect(attempts).toEqual(['down1', 'down2']);
  });

  it('ensureConnection retries with a bounded policy and reports RetriesExhaustedError', async () => {
    const attempts: string[] = [];
    const c = new Connection('fake://down', { transports: fakeRegistry(attempts) });
    const retries: number[] = [];
    c.events.on('connection.retry', (e) => retries.push(e.payload.attempt));
    await expect(c.ensureConnection({ maxRetries: 3, initialDelayMs: 1, maxDelayMs: 2 })).rejects.toMatchObject({
      code: 'ERR_RETRIES_EXHAUSTED',
      attempts: 4,
    });
    expect(attempts).toHaveLength(4);
    expect(retries).toEqual([1, 2, 3]);
  });

  it('times out a connect that never answers', async () => {
    const hanging: TransportFactory = () =>
      ({ kind: 'hang', connect: () => new Promise(() => {}), close: async () => {} }) as unknown as Transport;
    const started = Date.now();
    await expect(
      Connection.open('hang://x', {
        transports: new TransportRegistry([['hang', async () => hanging]]),
        connectTimeoutMs: 50,
      }),
    ).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('Connection.ensure', () => {
  it('retries a retriable failure after reconnecting', async () => {
    const c = await Connection.open(memoryUrl());
    let calls = 0;
    const result = await c.ensure(
      async () => {
        calls++;
        if (calls < 3) throw new (class extends TransportError {})('flaky');
        return 'done';
      },
      { maxRetries: 5, initialDelayMs: 1 },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
    expect(c.isConnected).toBe(true);
    await c.close();
  });

  it('does not retry a non-retriable error', async () => {
    const c = await Connection.open(memoryUrl());
    let calls = 0;
    await expect(
      c.ensure(async (conn) => {
        calls++;
        return conn.admin.declareExchange(new Exchange('x'), { passive: true });
      }),
    ).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    expect(calls).toBe(1);
    await c.close();
  });
});

describe('declaration cache', () => {
  it('is keyed on the whole declaration, not the name', async () => {
    await withConnection(memoryUrl(), async (c) => {
      const a = new Exchange('a', { type: 'direct' });
      const b = new Exchange('b', { type: 'direct' });
      await c.declare(new Queue('q', { exchange: a, routingKey: 'k' }));
      // Same queue name, another binding: kombu's name-keyed cache would skip this one.
      await c.declare(new Queue('q', { exchange: b, routingKey: 'k' }));
      const bindings = (await c.admin.inspect()).bindings.filter((x) => x.destination === 'q');
      expect(bindings.map((x) => x.source).sort()).toEqual(['a', 'b']);
    });
  });

  it('is forgotten when a queue is deleted, so the next declare recreates it', async () => {
    await withConnection(memoryUrl(), async (c) => {
      const q = new Queue('q');
      await c.declare(q);
      await c.admin.deleteQueue('q');
      await c.declare(q);
      await expect(q.attach(c).declare({ passive: true })).resolves.toMatchObject({ name: 'q' });
    });
  });
});

describe('lifecycle', () => {
  it('closes idempotently and refuses work afterwards', async () => {
    const c = await Connection.open(memoryUrl());
    await c.close();
    await c.close();
    await expect(c.producer().publish({})).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
  });

  it('withConnection closes even when the callback throws', async () => {
    let seen: Connection | undefined;
    await expect(
      withConnection(memoryUrl(), async (c) => {
        seen = c;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(seen?.isClosed).toBe(true);
  });
});
