/**
 * Wakame's key layout for Redis Cluster (`redis://host:port?cluster=true`, or `?layout=wakame` on one Redis).
 *
 * Redis Cluster runs a script, a `MULTI` or a multi-key command only when all its keys hash to one slot, and
 * the slot of a key containing `{…}` is the slot of the text between the first braces (its hash tag). kombu's
 * layout cannot satisfy that (a claim touches the queue's lists and the database-wide `unacked` hash), so
 * this layout gives every queue its own tag and keeps everything a queue's scripts touch under it:
 *
 * | key | what |
 * |-----|------|
 * | `<p>{q.<queue>}:ready`, `…:ready:<step>` | the queue's lists, one per priority step (kombu's envelope) |
 * | `<p>{q.<queue>}:unacked`, `…:unacked_index`, `…:leases` | the queue's in-flight messages (kombu's shapes, per queue) |
 * | `<p>{q.<queue>}:owner:<owner>` | an owner's liveness on the queue (what it holds is in `…:leases`) |
 * | `<p>{q.<queue>}:consumers`, `…:corrupt`, `…:once:<tag>` | consumer counts, elements moved aside, PUB/SUB markers |
 * | `<p>{q.<queue>}:signal` | the channel that wakes the queue's consumers |
 * | `<p>{_wakame}:exchanges`, `…:queues`, `…:bindings`, `…:policies`, `…:revision`, `…:used:<queue>` | topology |
 * | `<p>{_wakame}:signal` | the channel that announces topology changes |
 *
 * So one queue's claims, acks and restores are single-slot scripts on the node owning its slot, different
 * queues spread over the cluster, and topology writes are one `MULTI` on the topology slot. A queue's
 * use marker (`expires`) lives with the topology, because deleting an expired queue's record must be atomic
 * with checking the marker. The prefix may not contain braces: its `{` would become the hash tag.
 *
 * @module
 */
import { InvalidArgumentError } from '@wakame/core/spi';
import type { StoreKeys } from './keys.js';

/** Key names of the cluster layout for one prefix. */
export class ClusterKeys implements StoreKeys {
  readonly kombu = false;
  readonly exchanges: string;
  readonly queues: string;
  readonly bindings: string;
  readonly policies: string;
  readonly revision: string;
  /** Unused: this layout keeps no kombu binding sets (no kombu peer can share a cluster). */
  readonly bindingPrefix: string;
  /** The channel announcing topology changes. */
  readonly topologySignal: string;
  readonly topologyWatched: readonly string[];
  readonly #topology: string;
  readonly #queueHead: string;

  constructor(
    readonly prefix: string,
    readonly steps: readonly number[],
  ) {
    if (/[{}]/.test(prefix)) {
      throw new InvalidArgumentError(
        `redis:// option keyprefix may not contain '{' or '}' in the cluster layout (they would set the hash slot); got '${prefix}'`,
      );
    }
    this.#topology = `${prefix}{_wakame}:`;
    this.#queueHead = `${prefix}{q.`;
    this.exchanges = `${this.#topology}exchanges`;
    this.queues = `${this.#topology}queues`;
    this.bindings = `${this.#topology}bindings`;
    this.policies = `${this.#topology}policies`;
    this.revision = `${this.#topology}revision`;
    this.bindingPrefix = `${this.#topology}binding.`;
    this.topologySignal = `${this.#topology}signal`;
    this.topologyWatched = [this.topologySignal];
  }

  /** The common head of every key of `queue` (its hash tag included). */
  #q(queue: string): string {
    return `${this.#queueHead}${queue}}:`;
  }

  list(queue: string, step: number): string {
    return step === 0 ? `${this.#q(queue)}ready` : `${this.#q(queue)}ready:${step}`;
  }

  lists(queue: string): string[] {
    return this.steps.map((step) => this.list(queue, step));
  }

  queueOf(key: string): string | undefined {
    if (!key.startsWith(this.#queueHead)) return undefined;
    const cut = key.lastIndexOf('}:ready');
    return cut < 0 ? undefined : key.slice(this.#queueHead.length, cut);
  }

  binding(exchange: string): string {
    return this.bindingPrefix + exchange;
  }

  held(queue: string): [string, string, string] {
    const q = this.#q(queue);
    return [`${q}unacked`, `${q}unacked_index`, `${q}leases`];
  }

  corrupt(queue: string): string {
    return `${this.#q(queue)}corrupt`;
  }

  owner(owner: string, queue = ''): string {
    return `${this.#q(queue)}owner:${owner}`;
  }

  used(queue: string): string {
    return `${this.#topology}used:${queue}`;
  }

  consumers(queue: string): string {
    return `${this.#q(queue)}consumers`;
  }

  once(queue: string, tag: string): string {
    return `${this.#q(queue)}once:${tag}`;
  }

  scope(queue: string): string {
    return queue;
  }

  /** The channel that wakes `queue`'s consumers. */
  signal(queue: string): string {
    return `${this.#q(queue)}signal`;
  }

  watched(queue: string): string {
    return this.signal(queue);
  }

  /** The key a signal on `channel` stands for (a list of its queue, or the revision); undefined for others. */
  keyOfSignal(channel: string): string | undefined {
    if (channel === this.topologySignal) return this.revision;
    if (!channel.startsWith(this.#queueHead) || !channel.endsWith('}:signal')) return undefined;
    return this.list(channel.slice(this.#queueHead.length, -'}:signal'.length), 0);
  }
}

/**
 * The hash slot Redis Cluster assigns to `key` (CRC16/XMODEM of the hash tag, or of the whole key, mod 16384),
 * for tests and diagnostics.
 */
export function hashSlot(key: string): number {
  const bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  let hashed = bytes;
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) hashed = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of hashed) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
