/**
 * Where things live under the URL's root znode, in the two layouts.
 *
 * Both keep a queue as a persistent znode whose children are its messages, created
 * `PERSISTENT_SEQUENTIAL` with the priority in the name, so that sorting the names gives the order of
 * delivery: highest priority first, then publish order (ZooKeeper's 10-digit sequence is per parent).
 *
 * - `wakame` (default): `<root>/queues/<queue>/m-<255 - priority>-<seq>`, priorities 0–255; a claim is
 *   an ephemeral `<root>/claims/<queue>/<entry>` (freed when its session ends: SIGKILL loses nothing)
 *   and a persistent `<entry>/delivered` marker (what makes a later delivery `redelivered`). A body too
 *   large for one znode is written first as chunks under `<root>/blobs/<queue>/<key>/`, which the entry names.
 * - `kombu`: kazoo's `Queue` recipe as kombu's `zookeeper://` transport writes it,
 *   `<root>/<queue>/entry-<9 - priority>-<seq>` holding kombu's JSON envelope; a claim deletes the entry
 *   (kombu's rule, so kombu consumers see no difference). Wakame's own records go under `<root>/.wakame`.
 *
 * Queue names are percent-encoded in the Wakame layout (a `/` would be a deeper znode). kombu joins the
 * raw name; names ZooKeeper cannot take (`.`, `..`, empty parts) are refused.
 *
 * @module
 */
import { InvalidArgumentError } from '@wakame/core/spi';

export type ZkLayoutName = 'wakame' | 'kombu';

/** The Wakame layout's priority range (AMQP's). */
export const WAKAME_MAX_PRIORITY = 255;
/** kombu's steps: kombu consumes `000` first, so its priority p is written as 9 - p. */
export const KOMBU_STEPS = 9;

/** The Wakame layout's persistent marker under an entry delivered once (a later delivery is `redelivered`). */
export function deliveredMarker(entryPath: string): string {
  return `${entryPath}/delivered`;
}

export interface ZkLayout {
  readonly name: ZkLayoutName;
  readonly root: string;
  /** Where Wakame's own records live (the root itself in the Wakame layout). */
  readonly meta: string;
  queue(name: string): string;
  /** Parent of the claim nodes of `queue` (Wakame layout only). */
  claims(name: string): string;
  /** Parent of the chunks of a queue's bodies too large for one znode (Wakame layout only). */
  blobs(name: string): string;
  /** Where entries that are not messages of this layout are set aside, per queue. */
  corrupt(name: string): string;
  /** Ephemeral consumer registrations of a queue, for consumer counts. */
  consumers(name: string): string;
  readonly topology: string;
  readonly stacks: string;
  readonly stackLocks: string;
  /** Prefix of a new entry's name (ZooKeeper appends the sequence) for a queue-effective `priority`. */
  entryPrefix(priority: number): string;
  /** The queue-effective priority an entry's name says; `undefined` for a child that is not an entry. */
  priorityOf(entry: string): number | undefined;
}

const WAKAME_ENTRY = /^m-(\d{3})-\d{10}$/;
// kazoo's Queue writes `entry-PPP-`; its LockingQueue `entry-PPP-` under `entries` (not used by kombu).
const KOMBU_ENTRY = /^entry-(\d{3})-\d{10}$/;

/** `/a/b` from a URL path `a/b` (or `/` for none); refuses what ZooKeeper cannot name. */
export function rootOf(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  for (const p of parts) checkPart(p, 'the URL path');
  return `/${parts.join('/')}`;
}

function checkPart(part: string, what: string): void {
  if (part === '.' || part === '..' || part.includes('\u0000')) {
    throw new InvalidArgumentError(`zookeeper:// ${what} has a part ZooKeeper cannot name: '${part}'`);
  }
}

function join(root: string, ...parts: string[]): string {
  return `${root === '/' ? '' : root}/${parts.join('/')}`;
}

/** The layout `name` under `root` (see the module description). */
export function zkLayout(name: ZkLayoutName, root: string): ZkLayout {
  const meta = name === 'kombu' ? join(root, '.wakame') : root;
  const enc = (queue: string): string => {
    if (queue === '') throw new InvalidArgumentError('zookeeper:// queues need a name');
    return encodeURIComponent(queue).replace(/\./g, '%2E');
  };
  const raw = (queue: string): string => {
    if (queue === '') throw new InvalidArgumentError('zookeeper:// queues need a name');
    for (const p of queue.split('/')) checkPart(p, `queue name '${queue}'`);
    return queue.replace(/^\/+|\/+$/g, '');
  };
  return {
    name,
    root,
    meta,
    queue: name === 'kombu' ? (q) => join(root, raw(q)) : (q) => join(root, 'queues', enc(q)),
    claims: (q) => join(meta, 'claims', enc(q)),
    blobs: (q) => join(meta, 'blobs', enc(q)),
    consumers: (q) => join(meta, 'consumers', enc(q)),
    corrupt: (q) => join(meta, 'corrupt', enc(q)),
    topology: join(meta, 'topology'),
    stacks: join(meta, 'stacks'),
    stackLocks: join(meta, 'stack-locks'),
    entryPrefix:
      name === 'kombu'
        ? (p) => `entry-${pad(KOMBU_STEPS - Math.min(Math.max(p, 0), KOMBU_STEPS))}-`
        : (p) => `m-${pad(WAKAME_MAX_PRIORITY - Math.min(Math.max(p, 0), WAKAME_MAX_PRIORITY))}-`,
    priorityOf: (entry) => {
      const m = (name === 'kombu' ? KOMBU_ENTRY : WAKAME_ENTRY).exec(entry);
      if (!m) return undefined;
      const top = name === 'kombu' ? KOMBU_STEPS : WAKAME_MAX_PRIORITY;
      return top - Number(m[1]);
    },
  };
}

function pad(n: number): string {
  return String(n).padStart(3, '0');
}
