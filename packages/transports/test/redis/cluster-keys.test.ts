import { InvalidArgumentError } from '@wakame/core';
import { ClusterKeys, hashSlot, RedisKeys } from '@wakame/transports/redis';
import { describe, expect, it } from 'vitest';

const steps = [0, 3, 6, 9];

describe('hashSlot', () => {
  it("matches Redis Cluster's slots (CRC16/XMODEM mod 16384, hash tags)", () => {
    // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
    expect(hashSlot('123456789')).toBe(12739);
    expect(hashSlot('foo')).toBe(12182);
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('{user1000}.followers'));
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('user1000'));
    // An empty tag hashes the whole key; only the first braces count.
    expect(hashSlot('foo{}{bar}')).not.toBe(hashSlot('bar'));
    expect(hashSlot('foo{{bar}}zap')).toBe(hashSlot('{bar'));
  });
});

describe('ClusterKeys', () => {
  const keys = new ClusterKeys('pfx:', steps);
  const queueKeys = (queue: string): string[] => [
    ...keys.lists(queue),
    ...keys.held(queue),
    keys.corrupt(queue),
    keys.owner('owner-1', queue),
    keys.consumers(queue),
    keys.once(queue, 'tag-1'),
    keys.signal(queue),
  ];

  it("puts every key a queue's scripts touch in one hash slot", () => {
    for (const queue of ['orders', 'a.b.c', 'with}brace', 'x{y', '', 'ünï']) {
      const slots = new Set(queueKeys(queue).map(hashSlot));
      expect(slots.size, queue).toBe(1);
      expect(new Set(queueKeys(queue)).size).toBe(queueKeys(queue).length);
    }
  });

  it('spreads queues over slots, and keeps the topology records in a slot of their own', () => {
    const slots = new Set(Array.from({ length: 200 }, (_, i) => hashSlot(keys.list(`q${i}`, 0))));
    expect(slots.size).toBeGreaterThan(190);
    const topology = [
      keys.exchanges,
      keys.queues,
      keys.bindings,
      keys.policies,
      keys.revision,
      keys.used('orders'),
      keys.topologySignal,
    ];
    expect(new Set(topology.map(hashSlot)).size).toBe(1);
    // A queue named like the topology's tag is still a different slot's business.
    expect(hashSlot(keys.list('_wakame', 0))).not.toBe(hashSlot(keys.queues));
  });

  it('names keys with the prefix first, the hash tag after it', () => {
    expect(keys.list('orders', 0)).toBe('pfx:{q.orders}:ready');
    expect(keys.list('orders', 6)).toBe('pfx:{q.orders}:ready:6');
    expect(keys.held('orders')).toEqual([
      'pfx:{q.orders}:unacked',
      'pfx:{q.orders}:unacked_index',
      'pfx:{q.orders}:leases',
    ]);
    expect(keys.queues).toBe('pfx:{_wakame}:queues');
    expect(keys.revision).toBe('pfx:{_wakame}:revision');
  });

  it('maps lists and signals back to their queue', () => {
    for (const queue of ['orders', 'a}:ready', 'x{y']) {
      for (const step of steps) expect(keys.queueOf(keys.list(queue, step))).toBe(queue);
      expect(keys.queueOf(keys.keyOfSignal(keys.signal(queue)) as string)).toBe(queue);
    }
    expect(keys.keyOfSignal(keys.topologySignal)).toBe(keys.revision);
    expect(keys.keyOfSignal('other:{q.x}:signal')).toBeUndefined();
    expect(keys.queueOf(keys.queues)).toBeUndefined();
  });

  it('gives each queue its own restore scope and watches its signal channel', () => {
    expect(keys.scope('a')).not.toBe(keys.scope('b'));
    expect(keys.watched('orders')).toBe(keys.signal('orders'));
    expect(keys.topologyWatched).toEqual([keys.topologySignal]);
    expect(keys.kombu).toBe(false);
  });

  it('refuses a key prefix with braces (it would choose the hash slot)', () => {
    expect(() => new ClusterKeys('a{b}:', steps)).toThrow(InvalidArgumentError);
  });
});

describe("RedisKeys (kombu's layout) is unchanged", () => {
  it("keeps kombu's database-wide keys for every queue", () => {
    const keys = new RedisKeys('p:', steps);
    expect(keys.held('q1')).toEqual(['p:unacked', 'p:unacked_index', 'p:_wakame.leases']);
    expect(keys.held('q2')).toEqual(keys.held('q1'));
    expect(keys.owner('o', 'q1')).toBe('p:_wakame.owner.o');
    expect(keys.list('q1', 0)).toBe('p:q1');
    expect(keys.list('q1', 3)).toBe('p:q1\x06\x163');
    expect(keys.scope('q1')).toBe(keys.scope('q2'));
    expect(keys.watched('q1')).toBe('p:q1');
    expect(keys.topologyWatched).toEqual(['p:_wakame.revision', 'p:_kombu.binding.']);
    expect(keys.once('q1', 't')).toBe('p:_wakame.pubsub.q1.t');
  });
});
