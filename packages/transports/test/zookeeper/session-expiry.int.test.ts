/**
 * A session that expires (a partition longer than its timeout) on the real server. The store reaches
 * ZooKeeper through a TCP relay the test can cut: cut, the server expires the session after its timeout
 * (seen by another client as the claim node's deletion, a watch event), then the relay lets the store
 * back in and the server tells it its session is gone. The store opens a new session and says so
 * (`reconnecting`, `reconnected`); the old claim is free for another consumer (redelivered), settling
 * the old receipt changes nothing, and the store keeps working.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type { StoredMessage, TransportStatus } from '@wakame/core/spi';
import { brokerGate, waitFor, ZOOKEEPER_URL } from '@wakame/testkit';
import type zookeeper from 'node-zookeeper-client';
import { afterAll, describe, expect, it } from 'vitest';
import { ZkSession } from '../../src/zookeeper/session.js';
import { ZooKeeperStore } from '../../src/zookeeper/zookeeper-store.js';
import { call, freshRoot, rawClient, removeRoots, zkHosts } from './scratch.js';

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

/** A TCP relay to ZooKeeper that can be cut (every connection dropped, new ones refused) and restored. */
async function relay(): Promise<{ hosts: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const [host, port] = zkHosts().split(':') as [string, string];
  const sockets = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(Number(port), host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay has no port');
  return {
    hosts: `127.0.0.1:${address.port}`,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function storeOver(hosts: string, root: string, session?: ZkSession): ZooKeeperStore {
  const options = {
    // 4 s: the least the server grants with its tickTime of 2 s (it clamps to 2–20 ticks).
    session: { hosts, sessionTimeoutMs: 4_000, connectTimeoutMs: 10_000, where: hosts },
    layout: 'wakame' as const,
    root: `/${root}`,
    maxNodeBytes: 1_000_000,
    identity: `expiry-${root}-${hosts}`,
  };
  return new ZooKeeperStore(options, session ?? new ZkSession(options.session));
}

/** Resolves when `path` is deleted (an `exists` watch; at once if it is already gone). */
async function deleted(client: zookeeper.Client, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    client.exists(
      path,
      () => resolve(),
      (error, stat) => {
        if (error) reject(error);
        else if (!stat) resolve();
      },
    );
  });
}

describe.skipIf(gate === 'skip')('zookeeper session expiry', () => {
  it('opens a new session, frees the old claims to others, and keeps working', async () => {
    const root = freshRoot('expiry');
    roots.push(root);
    const link = await relay();
    const session = new ZkSession({
      hosts: link.hosts,
      sessionTimeoutMs: 4_000,
      connectTimeoutMs: 10_000,
      where: link.hosts,
    });
    const first = storeOver(link.hosts, root, session);
    const other = storeOver(zkHosts(), root);
    const raw = await rawClient();
    const statuses: TransportStatus['type'][] = [];
    let replaced = false;
    await first.open();
    await other.open();
    try {
      first.onStatus((s) => statuses.push(s.type));
      session.onExpiry(() => {
        replaced = true;
      });
      await first.createQueue('q');
      await first.put('q', message(1));
      const held = await first.get('q');
      expect(held?.message.id).toBe('m1');
      expect(await other.get('q')).toBeUndefined();
      const [entry] = await call<string[]>((done) => raw.getChildren(`/${root}/claims/q`, done));

      link.cut();
      // The server expires the silent session after its timeout: its ephemeral claim goes.
      await deleted(raw, `/${root}/claims/q/${entry}`);
      link.restore();
      await waitFor(() => replaced, { timeoutMs: 60_000, what: 'a new session' });
      expect(statuses).toContain('reconnecting');
      expect(statuses.at(-1)).toBe('reconnected');

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
      raw.close();
      await first.close();
      await other.close();
      await link.close();
    }
  }, 120_000);
});
