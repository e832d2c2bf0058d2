/**
 * Where things live in Redis. Queues, bindings and the unacked records use kombu's key layout
 * byte for byte, so Python services on kombu or Celery share queues with Wakame; what kombu has no
 * place for (exchange types, queue arguments, leases) lives in Wakame's own `_wakame.*` keys.
 *
 * Every key carries the `global_keyprefix` (kombu's transport option of that name).
 */
import { KOMBU_MAX_PRIORITY, kombuPriority } from '../internal/kombu-envelope.js';

export { KOMBU_MAX_PRIORITY, kombuPriority };

/** kombu's separator inside priority keys and binding members (bytes 0x06 0x16). */
export const SEP = '\x06\x16';

/** kombu's default `priority_steps`. */
export const DEFAULT_PRIORITY_STEPS: readonly number[] = Object.freeze([0, 3, 6, 9]);

/** kombu's `_q_for_pri` step: the largest step not above the (clamped) kombu priority. */
export function stepFor(kombu: number, steps: readonly number[]): number {
  const p = Math.min(Math.max(kombu, 0), KOMBU_MAX_PRIORITY);
  let chosen = steps[0] ?? 0;
  for (const step of steps) if (step <= p) chosen = step;
  return chosen;
}

/**
 * Where a store's keys live: kombu's layout ({@link RedisKeys}, one Redis or a Sentinel group) or Wakame's
 * cluster layout (`ClusterKeys` in `cluster-keys.ts`, every key of one queue in one hash slot). The store and
 * its helpers ask this interface for every key, so the same scripts run on both.
 */
export interface StoreKeys {
  readonly prefix: string;
  readonly steps: readonly number[];
  /**
   * kombu's layout: one `unacked` hash for all queues, `_kombu.binding.*` mirrors, key-change tracking.
   * False for the cluster layout, whose per-queue state lives in the queue's own slot.
   */
  readonly kombu: boolean;
  readonly exchanges: string;
  readonly queues: string;
  readonly bindings: string;
  readonly policies: string;
  readonly revision: string;
  readonly bindingPrefix: string;
  list(queue: string, step: number): string;
  lists(queue: string): string[];
  queueOf(key: string): string | undefined;
  binding(exchange: string): string;
  /**
   * KEYS[1..3] of the message scripts for `queue`: unacked, unacked index, leases. What one owner holds is
   * found in the leases (each names its owner), so no per-owner set is written with every claim.
   */
  held(queue: string): [string, string, string];
  /** Where the claim script moves elements of `queue` that are not envelopes. */
  corrupt(queue: string): string;
  /** The liveness key vouching for `owner`'s leases on `queue` (one key for every queue in kombu's layout). */
  owner(owner: string, queue?: string): string;
  used(queue: string): string;
  consumers(queue: string): string;
  /** The once-only marker of a PUB/SUB message delivered into `queue`. */
  once(queue: string, tag: string): string;
  /**
   * The restore scope of `queue`: queues sharing one scope share their in-flight records (kombu's layout:
   * all of them, scope `''`; the cluster layout: each queue is its own scope).
   */
  scope(queue: string): string;
  /** What the change feed follows for a consumed queue (a key prefix, or a channel). */
  watched(queue: string): string;
  /** What the change feed follows for topology changes. */
  readonly topologyWatched: readonly string[];
}

/** Key names for one Redis database and prefix, in kombu's layout. */
export class RedisKeys implements StoreKeys {
  readonly kombu = true;
  readonly unacked: string;
  readonly unackedIndex: string;
  /** tag → `<owner><SEP><list key>`: who holds an in-flight message and where it returns. */
  readonly leases: string;
  readonly exchanges: string;
  readonly queues: string;
  readonly bindings: string;
  /** Policies and operator policies (Wakame's own: kombu has none), field `policyRecordKey()` of `@wakame/core/spi`. */
  readonly policies: string;
  readonly revision: string;
  /** Envelopes that are not kombu JSON, moved aside instead of being delivered or dropped. */
  readonly corruptList: string;
  readonly bindingPrefix: string;

  constructor(
    readonly prefix: string,
    readonly steps: readonly number[],
  ) {
    this.unacked = `${prefix}unacked`;
    this.unackedIndex = `${prefix}unacked_index`;
    this.leases = `${prefix}_wakame.leases`;
    this.exchanges = `${prefix}_wakame.exchanges`;
    this.queues = `${prefix}_wakame.queues`;
    this.bindings = `${prefix}_wakame.bindings`;
    this.policies = `${prefix}_wakame.policies`;
    this.revision = `${prefix}_wakame.revision`;
    this.corruptList = `${prefix}_wakame.corrupt`;
    this.bindingPrefix = `${prefix}_kombu.binding.`;
  }

  /** The list holding `queue`'s messages of one priority step (the bare name for step 0). */
  list(queue: string, step: number): string {
    return step === 0 ? this.prefix + queue : `${this.prefix}${queue}${SEP}${step}`;
  }

  /** Every list of `queue`, in consumption order (kombu's lowest step first). */
  lists(queue: string): string[] {
    return this.steps.map((step) => this.list(queue, step));
  }

  /** The queue a list key belongs to, or undefined when the key is not a queue list. */
  queueOf(key: string): string | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const rest = key.slice(this.prefix.length);
    const cut = rest.lastIndexOf(SEP);
    if (cut < 0) return rest;
    return this.steps.includes(Number(rest.slice(cut + SEP.length))) ? rest.slice(0, cut) : rest;
  }

  binding(exchange: string): string {
    return this.bindingPrefix + exchange;
  }

  held(_queue?: string): [string, string, string] {
    return [this.unacked, this.unackedIndex, this.leases];
  }

  corrupt(_queue: string): string {
    return this.corruptList;
  }

  /** Process liveness key of a lease owner; it expires when the owner stops renewing it. */
  owner(owner: string, _queue?: string): string {
    return `${this.prefix}_wakame.owner.${owner}`;
  }

  once(queue: string, tag: string): string {
    return `${this.prefix}_wakame.pubsub.${queue}.${tag}`;
  }

  scope(_queue: string): string {
    return '';
  }

  watched(queue: string): string {
    return this.prefix + queue;
  }

  get topologyWatched(): readonly string[] {
    return [this.revision, this.bindingPrefix];
  }

  /** Present while a queue declared with `expires` is in use; when it lapses the queue is deleted. */
  used(queue: string): string {
    return `${this.prefix}_wakame.used.${queue}`;
  }

  /** owner → how many consumers that process has on `queue` (counted only while the owner is alive). */
  consumers(queue: string): string {
    return `${this.prefix}_wakame.consumers.${queue}`;
  }
}

/** A `_kombu.binding.<exchange>` member: `<routing key><SEP><pattern><SEP><queue>`. */
export function bindingMember(routingKey: string, pattern: string, queue: string): string {
  return `${routingKey}${SEP}${pattern}${SEP}${queue}`;
}

/** Splits a binding member; undefined when it is not one. */
export function parseBindingMember(member: string): { routingKey: string; pattern: string; queue: string } | undefined {
  const parts = member.split(SEP);
  if (parts.length !== 3) return undefined;
  const [routingKey, pattern, queue] = parts as [string, string, string];
  return { routingKey, pattern, queue };
}

const ALNUM = /^[\p{L}\p{N}]$/u;

/**
 * The regex kombu's topic exchange stores for a binding key (`TopicExchange.key_to_pattern`): every
 * character that is not alphanumeric or one of `.#*` is backslash-escaped (NUL as `\000`), `*` and `#`
 * words become `.*?[^\.]` and `.*?`, words are joined with `\.` and the whole is anchored. Python
 * producers route with this exact string, so Wakame must store the same bytes. Wakame itself never
 * routes with it: its own matcher follows RabbitMQ (kombu's regex lets `*` span dots, `a.#` miss `a`).
 */
export function kombuTopicPattern(bindingKey: string): string {
  let escaped = '';
  for (const c of bindingKey) {
    if (ALNUM.test(c) || c === '.' || c === '#' || c === '*') escaped += c;
    else escaped += c === '\u0000' ? '\\000' : `\\${c}`;
  }
  const words = escaped.split('.').map((w) => (w === '*' ? '.*?[^\\.]' : w === '#' ? '.*?' : w));
  return `^${words.join('\\.')}$`;
}

/** `s` as a literal inside a Redis glob pattern (SCAN MATCH, PSUBSCRIBE). */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
