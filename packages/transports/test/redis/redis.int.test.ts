/**
 * What the Redis transport does beyond the conformance suite, against the real Redis: kombu's key
 * layout as other clients see it, persisted exchange types, durable fanout, the global key prefix,
 * wake-ups without polling, and typed errors for bad URLs and credentials.
 */
import { randomBytes } from 'node:crypto';
import {
  AccessRefusedError,
  Connection,
  ConnectionError,
  Exchange,
  InvalidArgumentError,
  type Message,
  Queue,
} from '@wakame/core';
import { brokerGate, REDIS_URL, redisUrl, waitFor } from '@wakame/testkit';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { bindingMember, SEP } from '../../src/redis/keys.js';
import { useRedisScratch } from './scratch.js';

const gate = await brokerGate('redis transport', { name: 'redis', url: REDIS_URL });
const DB = 4;

describe.skipIf(gate === 'skip')('redis transport', () => {
  const scratch = useRedisScratch(DB);
  const { fresh, connect } = scratch;
  let raw: Redis;
  beforeAll(() => {
    raw = scratch.raw;
  });
  async function keysOf(prefix: string): Promise<string[]> {
    return (await raw.keys(`${prefix}*`)).sort();
  }

  it("mirrors queue bindings into kombu's binding sets, with kombu's regex for topic bindings", async () => {
    const p = fresh();
    const conn = await connect(p);
    const topic = new Exchange('events', { type: 'topic' });
    await conn.declare(new Queue('audit', { exchange: topic, routingKey: 'a.#' }));
    await conn.declare(new Queue('direct-q', { exchange: new Exchange('jobs'), routingKey: 'run' }));
    expect(await raw.smembers(`${p}_kombu.binding.events`)).toEqual([bindingMember('a.#', '^a\\..*?$', 'audit')]);
    expect(await raw.smembers(`${p}_kombu.binding.jobs`)).toEqual([`run${SEP}${SEP}direct-q`]);
  });

  it('leaves no key of a queue behind: not after its last consumer, not after deleting it', async () => {
    const p = fresh();
    const conn = await connect(p);
    const queue = new Queue('gone', { expires: 60_000 });
    await conn.declare(queue);
    await conn.producer().publish('x', { exchange: '', routingKey: 'gone' });
    const consumer = conn.consumer({ queues: [queue], handler: async (m) => m.ack() });
    await consumer.consume();
    await waitFor(async () => (await raw.exists(`${p}_wakame.consumers.gone`)) === 1, {
      what: 'the consumer counter',
    });
    await consumer.close();
    expect(await raw.exists(`${p}_wakame.consumers.gone`)).toBe(0);
    const again = conn.consumer({ queues: [queue], handler: async (m) => m.ack() });
    await again.consume();
    await conn.admin.deleteQueue('gone');
    await again.close();
    const left = (await keysOf(p)).filter((k) => k.includes('gone'));
    expect(left).toEqual([]);
  });

  it('routes through exchanges a connection never declared, by their persisted type', async () => {
    const p = fresh();
    const declarer = await connect(p);
    await declarer.declare(
      new Queue('t-audit', { exchange: new Exchange('t-events', { type: 'topic' }), routingKey: 'a.#' }),
    );
    await declarer.declare(new Queue('f-1', { exchange: new Exchange('f-bcast', { type: 'fanout' }), routingKey: '' }));
    await declarer.declare(new Queue('f-2', { exchange: 'f-bcast', routingKey: 'ignored' }));
    const stranger = await connect(p);
    // RabbitMQ's rules, not kombu's regex: `a.#` matches `a` (kombu's `^a\..*?$` would not).
    await stranger.producer({ exchange: 't-events' }).publish({ n: 1 }, { routingKey: 'a' });
    await stranger.producer({ exchange: 'f-bcast' }).publish({ n: 2 }, { routingKey: 'whatever' });
    expect(await raw.llen(`${p}t-audit`)).toBe(1);
    // Fanout is a durable copy per bound queue, made before anyone consumes (kombu's PUB/SUB would drop it).
    expect([await raw.llen(`${p}f-1`), await raw.llen(`${p}f-2`)]).toEqual([1, 1]);
  });

  it("offers kombu's PUB/SUB fanout only as the explicit ephemeral mode, on kombu's channel", async () => {
    const p = fresh();
    const publisher = await connect(p);
    const listener = await connect(p);
    const exchange = new Exchange('bcast', { type: 'fanout', arguments: { 'x-redis-fanout': 'pubsub' } });
    const queue = new Queue('live', { exchange, routingKey: '' });
    await publisher.declare(exchange, queue);
    // Nobody listening: the message is gone, nothing is stored (that is what ephemeral means).
    await publisher.producer({ exchange: 'bcast' }).publish({ n: 0 });
    expect(await raw.llen(`${p}live`)).toBe(0);
    const spy = new Redis(redisUrl(DB));
    const channels: string[] = [];
    spy.on('pmessage', (_pattern: string, channel: string) => void channels.push(channel));
    await spy.psubscribe(`${p}/${DB}.bcast*`);
    const got: unknown[] = [];
    await listener
      .consumer({
        queues: [queue],
        handler: async (m) => {
          got.push(m.payload);
          await m.ack();
        },
      })
      .consume();
    await publisher.producer({ exchange: 'bcast' }).publish({ n: 1 });
    await publisher.producer({ exchange: 'bcast' }).publish({ n: 2 }, { routingKey: 'rk' });
    await waitFor(() => got.length === 2, { timeoutMs: 3_000, what: 'both broadcasts' });
    expect(got).toEqual([{ n: 1 }, { n: 2 }]);
    // One PUBLISH per publish, on kombu's channels (with and without a routing key).
    expect(channels).toEqual([`${p}/${DB}.bcast`, `${p}/${DB}.bcast/rk`]);
    spy.disconnect();
    const wrong = new Exchange('not-fanout', { type: 'direct', arguments: { 'x-redis-fanout': 'pubsub' } });
    await expect(publisher.declare(wrong)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('deletes a queue with expires once unused that long, and keeps one a consumer holds', async () => {
    const p = fresh();
    const conn = await connect(p);
    const exchange = new Exchange('exp-x');
    const idle = new Queue('exp-idle', { exchange, routingKey: 'idle', expires: 1_200 });
    const held = new Queue('exp-held', { exchange, routingKey: 'held', expires: 1_200 });
    await conn.declare(idle, held);
    await conn.producer({ exchange: 'exp-x' }).publish({ n: 1 }, { routingKey: 'idle' });
    await conn.consumer({ queues: [held], handler: async () => {} }).consume();
    await waitFor(async () => (await raw.hexists(`${p}_wakame.queues`, 'exp-idle')) === 0, {
      timeoutMs: 10_000,
      what: 'the idle queue to expire',
    });
    // Gone with its messages (in the same step) and its bindings, and other processes see it gone.
    expect(await raw.llen(`${p}exp-idle`)).toBe(0);
    await waitFor(async () => (await raw.smembers(`${p}_kombu.binding.exp-x`)).length === 1, {
      what: 'its binding to go',
    });
    expect(await raw.smembers(`${p}_kombu.binding.exp-x`)).toEqual([`held${SEP}${SEP}exp-held`]);
    const other = await connect(p);
    await expect(new Queue('exp-idle').attach(other).declare({ passive: true })).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
    // The held one outlives its expiry again: a canary declared now with the same expiry and no consumer goes at a
    // later sweep (the same one that checks the held queue), while the held queue stays.
    await conn.declare(new Queue('exp-canary', { expires: 1_200 }));
    await waitFor(async () => (await raw.hexists(`${p}_wakame.queues`, 'exp-canary')) === 0, {
      timeoutMs: 10_000,
      what: 'the canary to expire',
    });
    expect((await new Queue('exp-held').attach(other).declare({ passive: true })).name).toBe('exp-held');
  });

  it('restarts the expiry clock of a queue on each redeclaration, as RabbitMQ does', async () => {
    const p = fresh();
    const conn = await connect(p);
    const expires = 1_500;
    const declare = () => new Queue('exp-renewed', { expires }).attach(conn).declare();
    const marker = `${p}_wakame.used.exp-renewed`;
    const started = Date.now();
    await declare();
    await conn.producer({ routingKey: 'exp-renewed' }).publish({ kept: true });
    // Redeclared each time 400 ms of the expiry have run down, read from the marker's own clock (Redis's PTTL)
    // rather than a sleep: a busy machine only delays a redeclaration, it never lets 1.5 s pass between two unseen.
    let redeclarations = 0;
    while (Date.now() - started < 2 * expires) {
      await waitFor(async () => (await raw.pttl(marker)) <= expires - 400, {
        timeoutMs: expires,
        intervalMs: 20,
        what: 'the expiry clock to run 400 ms',
      });
      await declare();
      redeclarations++;
      // The clock restarted (it would otherwise keep running down, to 1.1 s and below).
      expect(await raw.pttl(marker)).toBeGreaterThan(expires - 400);
    }
    expect(redeclarations).toBeGreaterThanOrEqual(3);
    // Twice its expiry after the first declaration: never deleted (a deleted and redeclared queue would exist
    // again, but without its message).
    expect(await raw.llen(`${p}exp-renewed`)).toBe(1);
    await waitFor(async () => (await raw.hexists(`${p}_wakame.queues`, 'exp-renewed')) === 0, {
      timeoutMs: 10_000,
      what: 'the queue to expire once no longer redeclared',
    });
  });

  it('counts consumers across connections, and auto-deletes a queue only when the last one anywhere leaves', async () => {
    const p = fresh();
    const [a, b, observer] = [await connect(p), await connect(p), await connect(p)];
    const queue = new Queue('shared-q', { autoDelete: true });
    await a.declare(queue);
    const first = await a.consumer({ queues: [queue], handler: async () => {} }).consume();
    const second = await b.consumer({ queues: [queue], handler: async () => {} }).consume();
    const count = async () => (await new Queue('shared-q').attach(observer).declare({ passive: true })).consumerCount;
    // A crashed process's counter (its lease key long gone) neither counts nor stays.
    await raw.hset(`${p}_wakame.consumers.shared-q`, 'crashed-host-1-dead', 3);
    await waitFor(async () => (await count()) === 2, { what: 'two consumers' });
    expect(await raw.hexists(`${p}_wakame.consumers.shared-q`, 'crashed-host-1-dead')).toBe(0);
    await first.cancel();
    await waitFor(async () => (await count()) === 1, { what: 'one consumer left' });
    // Still used by the other connection's consumer: not deleted.
    expect(await raw.hexists(`${p}_wakame.queues`, 'shared-q')).toBe(1);
    await second.cancel();
    await waitFor(async () => (await raw.hexists(`${p}_wakame.queues`, 'shared-q')) === 0, {
      what: 'the auto-delete queue to go with its last consumer',
    });
  });

  it('keeps every key under the global key prefix, and finds a queue passively under it', async () => {
    const p = fresh();
    const conn = await connect(p);
    const queue = new Queue('pfx-q', { maxPriority: 9 });
    await conn.declare(queue);
    await conn.producer({ routingKey: 'pfx-q' }).publish({ n: 1 }, { priority: 9 });
    await conn.producer({ routingKey: 'pfx-q' }).publish({ n: 2 }, { priority: 1 });
    const message = await queue.attach(conn).get();
    expect(message?.payload).toEqual({ n: 1 });
    const all = await raw.keys('*');
    const mine = all.filter((k) => k.includes('pfx-q') || k.includes('unacked'));
    expect(mine.filter((k) => !k.startsWith('t'))).toEqual([]);
    expect(await keysOf(p)).toContain(`${p}unacked`);
    expect(await keysOf(p)).toContain(`${p}pfx-q${SEP}6`);
    // kombu forgets the prefix on EXISTS, so its passive declare misses prefixed queues; Wakame does not.
    const other = await connect(p);
    const declared = await new Queue('pfx-q').attach(other).declare({ passive: true });
    expect(declared.messageCount).toBe(1);
    await message?.ack();
  });

  it('wakes a waiting consumer when another client LPUSHes, and does not poll while idle', async () => {
    const p = fresh();
    // A long lease: its renewal (the only periodic command) cannot fall inside the idle window.
    const others = new Set((await commandConnections()).map((c) => c.id));
    const conn = await connect(p, '&lease=600000');
    const queue = new Queue('wake-q');
    await conn.declare(queue);
    const got: Message[] = [];
    await conn.consumer({ queues: [queue], handler: async (m) => void got.push(m) }).consume();
    // The consumer's command connection stays silent for a second: nobody polls. A FLUSHDB anywhere on the server
    // (the bench, another test file) rightly wakes every consumer once, so the look is taken at a moment 1.6 s after
    // the last one (a tracking spy hears of each: Redis tells every tracking client of a flush). A polling consumer
    // is never a second idle; this one, being woken by nothing else, is.
    const flushes = await flushSpy();
    try {
      const idle = await waitFor(
        async () => {
          const last = flushes.lastAt;
          if (Date.now() - last < 1_600) return undefined;
          const mine = (await commandConnections()).filter((c) => !others.has(c.id));
          expect(mine).toHaveLength(1);
          return flushes.lastAt === last ? { seconds: mine[0]?.idleSeconds ?? 0 } : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: 'a moment 1.6 s after the last FLUSHDB on the server' },
      );
      expect(idle.seconds).toBeGreaterThanOrEqual(1);
    } finally {
      flushes.close();
    }
    const started = Date.now();
    const envelope = `{"body": "eyJrIjogMX0=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {}, "properties": {"delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "wake-q"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "${randomBytes(8).toString('hex')}"}}`;
    await raw.lpush(`${p}wake-q`, envelope);
    await waitFor(() => got.length === 1, { timeoutMs: 2_000, what: 'the LPUSHed message' });
    expect(Date.now() - started).toBeLessThan(500);
    expect(got[0]?.payload).toEqual({ k: 1 });
    await got[0]?.ack();
  }, 45_000);

  // The claim script reads the routing key from the envelope's tail, searching near the end first: a
  // name long enough to push the tail past that window takes the second search, and a long body the first.
  it.each([
    ['a short name and a small body', 'inflight-q', 1],
    ['a 250-character name', `inflight-${'q'.repeat(241)}`, 1],
    ['a 64 KiB body', 'inflight-big', 65_536],
  ])(
    'returns a kombu-shaped unacked record while a message is in flight (%s), and nothing after the ack',
    async (_, name, size) => {
      const p = fresh();
      const conn = await connect(p);
      const queue = new Queue(name);
      await conn.declare(queue);
      await conn.producer({ routingKey: name }).publish({ n: 'x'.repeat(size) });
      const message = await queue.attach(conn).get();
      expect(message?.payload).toEqual({ n: 'x'.repeat(size) });
      const [tag] = await raw.hkeys(`${p}unacked`);
      const record = JSON.parse((await raw.hget(`${p}unacked`, tag as string)) as string) as unknown[];
      expect(record.slice(1)).toEqual(['', name]);
      expect(await raw.zscore(`${p}unacked_index`, tag as string)).not.toBeNull();
      await message?.ack();
      await waitFor(async () => (await raw.hlen(`${p}unacked`)) === 0, { timeoutMs: 2_000, what: 'the ack' });
      expect(await raw.zcard(`${p}unacked_index`)).toBe(0);
    },
  );

  it('moves an element that is not a kombu envelope aside instead of delivering or dropping it', async () => {
    const p = fresh();
    const conn = await connect(p);
    const queue = new Queue('junk-q');
    await conn.declare(queue);
    await raw.lpush(`${p}junk-q`, 'not json at all');
    await conn.producer({ routingKey: 'junk-q' }).publish({ ok: true });
    const message = await queue.attach(conn).get();
    expect(message?.payload).toEqual({ ok: true });
    expect(await raw.lrange(`${p}_wakame.corrupt`, 0, -1)).toEqual(['not json at all']);
    await message?.ack();
  });

  it('refuses a closed port with ConnectionError, quickly', async () => {
    const started = Date.now();
    await expect(Connection.open('redis://127.0.0.1:1/0', { connectTimeoutMs: 2_000 })).rejects.toBeInstanceOf(
      ConnectionError,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses wrong credentials with AccessRefusedError and never shows the password', async () => {
    const user = `wakame-test-${randomBytes(3).toString('hex')}`;
    await raw.call('ACL', 'SETUSER', user, 'on', '>right-password', '~*', '&*', '+@all');
    try {
      const error = await Connection.open(redisUrl(DB).replace('redis://', `redis://${user}:wrong-s3cret@`)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AccessRefusedError);
      expect(String((error as Error).message)).not.toContain('wrong-s3cret');
      const ok = await Connection.open(redisUrl(DB).replace('redis://', `redis://${user}:right-password@`));
      await ok.close();
    } finally {
      await raw.call('ACL', 'DELUSER', user);
    }
  });

  it('refuses a maxLengthBytes queue it could not enforce with UnsupportedFeatureError, and keeps maxLength', async () => {
    const conn = await connect(fresh());
    await expect(conn.declare(new Queue('by-bytes', { maxLengthBytes: 1_000 }))).rejects.toMatchObject({
      code: 'ERR_UNSUPPORTED_FEATURE',
    });
    await expect(conn.declare(new Queue('by-count', { maxLength: 10 }))).resolves.toBeUndefined();
  });

  it('refuses bad options with InvalidArgumentError', async () => {
    const bad = ['cluster=maybe', 'layout=other', 'nodes=h:1', 'lease=5', 'priority_steps=3,6', 'visibility_timeout=x'];
    for (const query of bad) {
      await expect(Connection.open(redisUrl(DB, query))).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });

  it('refuses cluster=true on a Redis without cluster mode, and cluster=true with kombu layout, once and for good', async () => {
    // A database number cannot be selected on a cluster; layout=kombu cannot run on one.
    for (const query of ['cluster=true', 'cluster=true&layout=kombu']) {
      await expect(Connection.open(redisUrl(DB, query))).rejects.toMatchObject({
        code: 'ERR_REDIS_CLUSTER',
        retriable: false,
      });
    }
    const noDb = redisUrl(DB, 'cluster=true').replace(`/${DB}?`, '/0?');
    await expect(Connection.open(noDb, { connectTimeoutMs: 3_000 })).rejects.toMatchObject({
      code: 'ERR_REDIS_CLUSTER',
      message: expect.stringContaining('not a Redis Cluster node'),
    });
  });

  /** When the server last flushed a database (FLUSHDB, FLUSHALL), as a tracking client hears of it. */
  async function flushSpy(): Promise<{ readonly lastAt: number; close(): void }> {
    const listener = new Redis(redisUrl(DB));
    const tracker = new Redis(redisUrl(DB));
    let lastAt = Date.now();
    // A flush comes as an invalidation without keys (the changed keys of any other write as an array).
    listener.on('messageBuffer', (channel: Buffer, keys: unknown) => {
      if (channel.toString() === '__redis__:invalidate' && !Array.isArray(keys)) lastAt = Date.now();
    });
    const id = Number(await listener.client('ID'));
    await listener.subscribe('__redis__:invalidate');
    await tracker.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', id, 'BCAST', 'PREFIX', `flush-spy-${id}:`);
    return {
      get lastAt() {
        return lastAt;
      },
      close() {
        listener.disconnect();
        tracker.disconnect();
      },
    };
  }

  async function commandConnections(): Promise<{ id: string; idleSeconds: number }[]> {
    const list = (await raw.client('LIST')) as string;
    return list
      .split('\n')
      .filter((line) => line.includes(` name=wakame-command-${process.pid} `))
      .map((line) => ({
        id: /^id=(\d+)/.exec(line)?.[1] as string,
        idleSeconds: Number(/ idle=(\d+)/.exec(line)?.[1]),
      }));
  }
});
