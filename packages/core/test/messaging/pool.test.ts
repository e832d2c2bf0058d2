import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChannelError, ConnectionError, InvalidOperationError, ResourceLimitError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import { ConnectionPool, type PoolOptions, ProducerPool, ResourcePool } from '../../src/messaging/pool.js';
import { Queue } from '../../src/model/queue.js';

const memoryUrl = () => `memory://${randomUUID()}`;
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

interface Thing {
  readonly id: number;
  broken: boolean;
}

/** A pool of numbered things that records how many are alive at once. */
function countingPool(options: Partial<PoolOptions<Thing>> = {}) {
  const stats = { created: 0, destroyed: 0, live: 0, peak: 0 };
  const pool = new ResourcePool<Thing>({
    limit: 3,
    create: async () => {
      stats.created++;
      stats.peak = Math.max(stats.peak, ++stats.live);
      await tick();
      return { id: stats.created, broken: false };
    },
    destroy: async () => {
      await tick();
      stats.destroyed++;
      stats.live--;
    },
    healthy: (thing) => !thing.broken,
    ...options,
  });
  return { pool, stats };
}

describe('ResourcePool', () => {
  it('never has more than `limit` resources alive under concurrency', async () => {
    const { pool, stats } = countingPool();
    let inUse = 0;
    let peakInUse = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        pool.use(async () => {
          peakInUse = Math.max(peakInUse, ++inUse);
          await tick(Math.random() * 5);
          inUse--;
          return i;
        }),
      ),
    );
    expect(results).toEqual([...Array(20).keys()]);
    expect(stats.peak).toBeLessThanOrEqual(3);
    expect(peakInUse).toBe(3);
    expect(stats.created).toBe(3);
    expect(pool.size).toBe(3);
    expect(pool.available).toBe(3);
    await pool.close();
    expect(stats.destroyed).toBe(3);
    expect(pool.size).toBe(0);
  });

  it('defaults to kombu’s limit of 10 and refuses a limit below 1', () => {
    expect(new ResourcePool({ create: async () => 1, destroy: async () => {} }).limit).toBe(10);
    expect(() => new ResourcePool({ limit: 0, create: async () => 1, destroy: async () => {} })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });

  it('reuses the most recently released resource first (LIFO)', async () => {
    const { pool } = countingPool();
    const a = await pool.acquire();
    const b = await pool.acquire();
    a.release();
    b.release();
    const next = await pool.acquire();
    expect(next.resource).toBe(b.resource);
    next.release();
    await pool.close();
  });

  it('hands a released resource to a waiting acquire, in arrival order', async () => {
    const { pool } = countingPool({ limit: 1 });
    const held = await pool.acquire();
    const order: number[] = [];
    const first = pool.acquire({ timeout: 1_000 }).then((l) => {
      order.push(1);
      return l;
    });
    const second = pool.acquire({ timeout: 1_000 }).then((l) => {
      order.push(2);
      return l;
    });
    await tick(5);
    expect(pool.waiting).toBe(2);
    held.release();
    const lease = await first;
    expect(lease.resource).toBe(held.resource);
    lease.release();
    (await second).release();
    expect(order).toEqual([1, 2]);
    await pool.close();
  });

  it('rejects with ResourceLimitError naming the limit and the wait, and leaves no waiter behind', async () => {
    const { pool } = countingPool({ limit: 2 });
    const leases = [await pool.acquire(), await pool.acquire()];
    const started = performance.now();
    const error = await pool.acquire({ timeout: 50 }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(ResourceLimitError);
    expect(error).toMatchObject({ code: 'ERR_RESOURCE_LIMIT', message: expect.stringMatching(/all 2 .*50 ms/) });
    await expect(pool.acquire({ timeout: 0 })).rejects.toBeInstanceOf(ResourceLimitError);
    expect(pool.waiting).toBe(0);
    for (const l of leases) l.release();
    await pool.close();
  });

  it('rejects a waiting acquire with the abort reason', async () => {
    const { pool } = countingPool({ limit: 1 });
    const held = await pool.acquire();
    const controller = new AbortController();
    const waiting = pool.acquire({ signal: controller.signal });
    controller.abort(new Error('no longer needed'));
    await expect(waiting).rejects.toThrow('no longer needed');
    expect(pool.waiting).toBe(0);
    held.release();
    await pool.close();
  });

  it('releasing twice is a no-op', async () => {
    const { pool } = countingPool({ limit: 1 });
    const lease = await pool.acquire();
    lease.release();
    lease.release();
    const a = await pool.acquire();
    // Had the second release counted, this would get the same resource while `a` holds it.
    await expect(pool.acquire({ timeout: 20 })).rejects.toBeInstanceOf(ResourceLimitError);
    a.release();
    await pool.close();
  });

  it('replace destroys the resource and lets a fresh one be created', async () => {
    const { pool, stats } = countingPool({ limit: 1 });
    const lease = await pool.acquire();
    const waiting = pool.acquire({ timeout: 1_000 });
    await lease.replace();
    lease.release(); // a no-op after replace
    const fresh = await waiting;
    expect(fresh.resource).not.toBe(lease.resource);
    expect(stats).toMatchObject({ created: 2, destroyed: 1 });
    expect(stats.peak).toBe(1);
    fresh.release();
    await pool.close();
  });

  it('replaces an unhealthy resource on acquire and on release', async () => {
    const { pool, stats } = countingPool({ limit: 1 });
    const lease = await pool.acquire();
    lease.release();
    lease.resource.broken = true;
    const next = await pool.acquire();
    expect(next.resource.id).toBe(2);
    next.resource.broken = true;
    next.release(); // destroyed, not idled
    const third = await pool.acquire();
    expect(third.resource.id).toBe(3);
    expect(stats.peak).toBe(1);
    third.release();
    await pool.close();
    expect(stats.live).toBe(0);
  });

  it('frees the slot when create fails', async () => {
    let fail = true;
    const pool = new ResourcePool<number>({
      limit: 1,
      create: async () => {
        if (fail) throw new ConnectionError('broker down');
        return 7;
      },
      destroy: async () => {},
    });
    await expect(pool.acquire()).rejects.toThrow('broker down');
    expect(pool.size).toBe(0);
    fail = false;
    const lease = await pool.acquire({ timeout: 50 });
    expect(lease.resource).toBe(7);
    lease.release();
    await pool.close();
  });

  it('close destroys idle and leased resources; later releases are no-ops', async () => {
    const { pool, stats } = countingPool({ limit: 2 });
    const leased = await pool.acquire();
    (await pool.acquire()).release(); // idle
    await pool.close();
    expect(stats.destroyed).toBe(2);
    leased.release();
    await leased.replace();
    expect(stats.destroyed).toBe(2);
    expect(pool.size).toBe(0);
    expect(pool.available).toBe(0);
    expect(pool.isClosed).toBe(true);
    await pool.close(); // idempotent
  });

  it('close rejects waiting and later acquires with InvalidOperationError', async () => {
    const { pool } = countingPool({ limit: 1 });
    const held = await pool.acquire();
    const waiting = pool.acquire({ timeout: 5_000 }).catch((e: unknown) => e);
    await tick(5);
    await pool.close();
    expect(await waiting).toBeInstanceOf(InvalidOperationError);
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'ERR_INVALID_OPERATION' });
    expect(pool.waiting).toBe(0);
    held.release();
  });

  it('destroys a resource whose creation finishes after close', async () => {
    let finish: (() => void) | undefined;
    const destroyed: number[] = [];
    const pool = new ResourcePool<number>({
      create: () => new Promise<number>((resolve) => (finish = () => resolve(1))),
      destroy: async (n) => void destroyed.push(n),
    });
    const acquiring = pool.acquire();
    await tick();
    const closing = pool.close();
    finish?.();
    await expect(acquiring).rejects.toBeInstanceOf(InvalidOperationError);
    await closing;
    expect(destroyed).toEqual([1]);
    expect(pool.size).toBe(0);
  });

  it('use replaces on a connection-level failure and releases on others', async () => {
    const { pool, stats } = countingPool({ limit: 1 });
    await expect(
      pool.use(async () => {
        throw new ConnectionError('socket closed');
      }),
    ).rejects.toBeInstanceOf(ConnectionError);
    expect(stats.destroyed).toBe(1);
    await expect(
      pool.use(async () => {
        throw new ChannelError('channel closed');
      }),
    ).rejects.toBeInstanceOf(ChannelError);
    expect(stats.destroyed).toBe(1);
    expect(await pool.use(async (thing) => thing.id)).toBe(2);
    await pool.close();
  });
});

describe('ConnectionPool', () => {
  it('opens connections lazily and reuses them', async () => {
    const pool = new ConnectionPool(memoryUrl(), { limit: 2 });
    expect(pool.size).toBe(0);
    const lease = await pool.acquire();
    expect(lease.resource).toBeInstanceOf(Connection);
    expect(lease.resource.isConnected).toBe(false); // connects at its first operation
    await lease.resource.admin.declareQueue(new Queue('q'));
    lease.release();
    const again = await pool.acquire();
    expect(again.resource).toBe(lease.resource);
    again.release();
    await pool.close();
    expect(lease.resource.isClosed).toBe(true);
  });

  it('fails fast on a malformed URL', () => {
    expect(() => new ConnectionPool('amqp://user:pw@host:99999/')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_URL' }),
    );
  });

  it('replaces a closed connection on acquire', async () => {
    const pool = new ConnectionPool(memoryUrl(), { limit: 1 });
    const lease = await pool.acquire();
    await lease.resource.connect();
    lease.release();
    await lease.resource.close(); // broken while idle
    const next = await pool.acquire({ timeout: 1_000 });
    expect(next.resource).not.toBe(lease.resource);
    await expect(next.resource.admin.declareQueue(new Queue('q'))).resolves.toMatchObject({ name: 'q' });
    next.release();
    await pool.close();
  });

  it('use replaces a connection that failed at the connection level', async () => {
    const pool = new ConnectionPool(memoryUrl(), { limit: 1 });
    let first: Connection | undefined;
    await expect(
      pool.use(async (connection) => {
        first = connection;
        throw new ConnectionError('lost');
      }),
    ).rejects.toThrow('lost');
    expect(first?.isClosed).toBe(true);
    await pool.use(async (connection) => {
      expect(connection).not.toBe(first);
    });
    await pool.close();
  });
});

describe('ProducerPool', () => {
  it('publishes concurrently through a bounded number of connections', async () => {
    const url = memoryUrl();
    const producers = new ProducerPool(url, { limit: 2 });
    const queue = new Queue('jobs');
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => producers.publish({ i }, { routingKey: 'jobs', declare: [queue] })),
    );
    expect(producers.size).toBeLessThanOrEqual(2);
    const check = await Connection.open(url);
    expect(await queue.attach(check).messageCount()).toBe(200);
    await check.close();
    await producers.close();
    expect(producers.connections.isClosed).toBe(true);
  });

  it('shares a given ConnectionPool and leaves it open', async () => {
    const connections = new ConnectionPool(memoryUrl(), { limit: 1 });
    const producers = new ProducerPool(connections, { producer: { routingKey: 'jobs' } });
    const lease = await producers.acquire();
    await lease.resource.publish('x', { declare: [new Queue('jobs')] });
    // The producer's lease holds the pool's only connection.
    await expect(connections.acquire({ timeout: 0 })).rejects.toBeInstanceOf(ResourceLimitError);
    lease.release();
    lease.release();
    expect(connections.available).toBe(1);
    await producers.close();
    expect(connections.isClosed).toBe(false);
    await connections.close();
  });
});
