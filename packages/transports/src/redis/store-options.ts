/**
 * The options of `RedisStore` and its token for a claimed message, kept apart from the store.
 *
 * @module
 */
import type { StoredMessage } from '@wakame/core/spi';
import type { Redis } from 'ioredis';
import type { ReplicaWait } from './write-batcher.js';

/** Options of `RedisStore`. */
export interface RedisStoreOptions {
  /** kombu's `global_keyprefix`. @defaultValue `''` */
  readonly keyPrefix?: string;
  /** kombu's `priority_steps`; must match the kombu peers' setting. @defaultValue `[0, 3, 6, 9]` */
  readonly prioritySteps?: readonly number[];
  /** How long a stopped process's in-flight messages are held before they are restored (ms). @defaultValue 30_000 */
  readonly leaseMs?: number;
  /** kombu's `visibility_timeout`, applied to messages a kombu consumer holds (ms). @defaultValue 3_600_000 */
  readonly visibilityTimeoutMs?: number;
  /** Poll interval when Redis refuses key tracking (ms). @defaultValue 1_000 */
  readonly pollIntervalMs?: number;
  /** The database number (kombu's PUB/SUB channels name it). @defaultValue 0 */
  readonly db?: number;
  /** Names the database, so in-process state is shared by the stores that reach it. */
  readonly identity: string;
  /**
   * `kombu`: kombu's key layout, byte for byte (one Redis or a Sentinel group); `wakame`: the cluster layout
   * of `cluster-keys.ts` (a Redis Cluster, whose clients are then ioredis `Cluster`s, or one Redis).
   * @defaultValue `'kombu'`
   */
  readonly layout?: 'kombu' | 'wakame';
  /** Replicas a publish waits for before it resolves (`WAIT`); see `write-batcher.ts`. @defaultValue none */
  readonly waitReplicas?: ReplicaWait;
  /** The address the command client is connected to now (a Sentinel's current master), for status events. */
  readonly connectedUrl?: () => string;
  /** Connects one of the two clients (with typed errors); @defaultValue `client.connect()` */
  readonly connect?: (client: Redis) => Promise<void>;
  /** Problems with no caller (a foreign element moved aside, a failed background renewal). */
  readonly onError?: (error: unknown) => void;
}

/** The store's token for a claimed message. */
export interface Receipt {
  readonly tag: string;
  readonly list: string;
  readonly queue: string;
  /** The list element; undefined when its body was over the claim's bound (then only Redis has it). */
  readonly raw: string | undefined;
  readonly message: StoredMessage;
  readonly seq: number;
}
