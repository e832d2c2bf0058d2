/**
 * A session that expires (a partition longer than its timeout) on the real server: the session is expired on
 * purpose by a second client that takes it over with its id and password and closes it. The store opens a new
 * session and says so (`reconnecting`, `reconnected`); the claims of the old one are gone, so another consumer
 * takes the message (redelivered) and settling the old receipt changes nothing; the store keeps working.
 */

import type { StoredMessage, TransportStatus } from '@wakame/core/spi';
import { brokerGate, waitFor, ZOOKEEPER_URL } from '@wakame/testkit';
import zookeeper from 'node-zookeeper-client';
import { afterAll, describe, expect, it } from 'vitest';
import { ZkSession } from '../../src/zookeeper/session.js';
import { ZooKeeperStore } from '../../src/zookeeper/zookeeper-store.js';
import { freshRoot, removeRoots, zkHosts } from './scratch.js';

const gate = await brokerGate('zookeeper session expiry', { name: 'zookeeper', url: ZOOKEEPER_URL });
const roots: string[] = [];

afterAll(async () => {
  if (gate === 'run') await removeRoots(roots);
});

function message(n: number): StoredMessage {
  return {
    id: `m${n}`,
    body: Buffer.from(`body ${n}`),
    properties: {},
    exchange: '',
    routingKey: 'q',
    priority: 0,
    expiresAt: undefined,
    redelivered: false,
  };
}

function store(root: string, session?: ZkSession): ZooKeeperStore {
  const options = {
    session: { hosts: zkHosts(), sessionTimeoutMs: 10_000, connectTimeoutMs: 10_000, where: zkHosts() },
    layout: 'wakame' as const,
    root: `/${root}`,
    maxNodeBytes: 1_000_000,
    identity: `expiry-${root}`,
  };
  return new ZooKeeperStore(options, session ?? new ZkSession(options.session));
}

/** Ends `session` on the server: a client that resumes it by id and password, then closes it. */
async function expire(session: ZkSession): Promise<void> {
  const taker = zookeeper.createClient(zkHosts(), {
    sessionTimeout: 10_000,
    sessionId: session.client.getSessionId(),
    sessionPassword: session.client.getSessionPassword(),
  } as never);
  await new Promise<void>((resolve) => {
    taker.once('connected', () => resolve());
    taker.connect();
  });
  taker.close();
}

describe.skipIf(gate === 'skip')('zookeeper session expiry', () => {
  it('opens a new session, frees the old claims to others, and keeps working', async () => {
    const root = freshRoot('expiry');
    roots.push(root);
    const session = new ZkSession({
      hosts: zkHosts(),
      sessionTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      where: zkHosts(),
    });
    const first = store(root, session);
    const other = store(root);
    const statuses: TransportStatus['type'][] = [];
    await first.open();
    await other.open();
    try {
      first.onStatus((s) => statuses.push(s.type));
      await first.createQueue('q');
      await first.put('q', message(1));
      const held = await first.get('q');
      expect(held?.message.id).toBe('m1');
      expect(await other.get('q')).toBeUndefined();

      await expire(session);
      await waitFor(() => statuses.includes('reconnected'), { timeoutMs: 30_000, what: 'a new session' });
      expect(statuses).toContain('reconnecting');

      // The old session's claim went with it: the other store takes the message, marked redelivered.
      const taken = await other.get('q');
      expect([taken?.message.id, taken?.message.redelivered]).toEqual(['m1', true]);
      // Settling through the expired session's receipt must not touch the other consumer's claim.
      await first.settle(held?.receipt, 'ack');
      expect(await other.size('q')).toBe(0);
      await other.settle(taken?.receipt, 'ack');

      // The store works on its new session.
      await first.put('q', message(2));
      const next = await first.get('q');
      expect(next?.message.id).toBe('m2');
      await first.settle(next?.receipt, 'ack');
      expect(await first.size('q')).toBe(0);
    } finally {
      await first.close();
      await other.close();
    }
  }, 60_000);
});
