/**
 * The Python side of the kombu interop suites on ZooKeeper (`../kombu-*.int.test.ts`): `kombu_zk_peer.py` (kombu's
 * `zookeeper://` transport over kazoo, run with the system interpreter; the runner is shared,
 * `../../kombu-common/peer.ts`), its output shapes, and the root znode both sides share: a fresh one per suite,
 * removed afterwards (`../scratch.ts`).
 */
import { fileURLToPath } from 'node:url';
import { ZOOKEEPER_URL } from '@wakame/testkit';
import { afterAll, beforeAll } from 'vitest';
import {
  HOOK_TIMEOUT_MS,
  type KombuDrainOf,
  type KombuEnvelope,
  type KombuEnvelopeMessage,
  type KombuSuite,
  kombuSuite,
  type PeerInfo,
  peerRunner,
  type SentVariant,
} from '../../kombu-common/peer.js';
import { freshRoot, removeRoots, zkUrl } from '../scratch.js';

export const runPeer = peerRunner(fileURLToPath(new URL('./kombu_zk_peer.py', import.meta.url)));

/** `kombu_zk_peer.py probe`. */
export interface ZkPeerInfo extends PeerInfo {
  readonly kazoo: string;
  readonly server?: string;
}

/** kombu's JSON envelope, as an entry's data. */
export type Envelope = KombuEnvelope;

/** What kombu's `_put` stored: the data, and the priority its entry's name got (9 - kombu priority). */
export interface Stored {
  readonly queue: string;
  readonly raw: string;
  readonly node_priority: number;
}

/** One entry of `kombu_zk_peer.py publish`. */
export interface Sent extends SentVariant {
  readonly stored: readonly Stored[];
  readonly envelope: Envelope | null;
}

/** One entry of `kombu_zk_peer.py publish --priorities`. */
export interface SentPriority {
  readonly priority: number;
  readonly stored: readonly Stored[];
}

/** What kombu made of one message (`kombu_zk_peer.py consume`), with the envelope it came in. */
export type KombuReceived = KombuEnvelopeMessage;

export type KombuDrain = KombuDrainOf<KombuReceived>;

/** One child of a queue znode (`kombu_zk_peer.py nodes`), in kazoo's order. */
export interface Node {
  readonly name: string;
  readonly data: string;
  readonly ephemeral: boolean;
}

/** The gate of a suite: ZooKeeper reachable and the kombu peer able to reach it. */
export function kombuZkSuite(suite: string): Promise<KombuSuite<ZkPeerInfo>> {
  return kombuSuite<ZkPeerInfo>({
    suite,
    broker: { name: 'zookeeper', url: ZOOKEEPER_URL },
    runPeer,
    probe: ['probe', '--url', zkUrl('')],
    packages: ['python3-kombu', 'python3-kazoo'],
    cannot: 'cannot import kombu and kazoo, or reach ZooKeeper',
    none: { kombu: '', kazoo: '', python: '', msgpack: false, yaml: false, variants: [] },
  });
}

/** Where a suite's two sides meet: kombu's URL (the root as its vhost) and Wakame's (`?layout=kombu`). */
export interface SharedRoot {
  readonly kombuUrl: string;
  readonly wakameUrl: string;
}

/** A fresh root for the enclosing suite (removed after it); call the result inside tests and hooks. */
export function freshShared(label: string, run: boolean): () => SharedRoot {
  let root: string | undefined;
  beforeAll(() => {
    if (run) root = freshRoot(label);
  });
  afterAll(async () => {
    if (root !== undefined) await removeRoots([root]);
  }, HOOK_TIMEOUT_MS);
  return () => {
    if (root === undefined) throw new Error('the suite has no root (skipped)');
    return { kombuUrl: zkUrl(root), wakameUrl: zkUrl(root, 'layout=kombu') };
  };
}

/** The children of `queue` under the root of `kombuUrl`, as kazoo sorts them. */
export function kombuNodes(kombuUrl: string, queue: string): Promise<Node[]> {
  return runPeer<Node[]>(['nodes', '--url', kombuUrl, '--queue', queue]);
}
