/**
 * Stack records on Redis, in Wakame's own `_wakame.*` key space (kombu stores a queue under its bare
 * name, so a key without that prefix could be some kombu peer's queue):
 * - `<keyprefix>_wakame.stack.<stack>`: the state document, a JSON string (a `SET` replaces it
 *   atomically);
 * - `<keyprefix>_wakame.lock.<stack>`: the apply lock, taken with `SET … NX PX <lease>`; its value is
 *   the holder plus a random token, so renewing (compare-and-`PEXPIRE`) and releasing
 *   (compare-and-`DEL`) touch only our own lock. A holder that stops renewing (a crash, a
 *   partition) loses it when the lease runs out.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { LockAttempt, LockHolder, StackLock, StackLockOptions, StackStateStore } from '@wakame/core/spi';
import { acquireStackLock, InvalidArgumentError, parseStackDocument, STACK_NAME_PATTERN } from '@wakame/core/spi';
import type { Redis } from 'ioredis';
import { guarded } from './client.js';
import { loadLua } from './lua.js';

/** Options of {@link RedisStacks}. */
export interface RedisStacksOptions {
  /** kombu's `global_keyprefix`, put before every key. */
  readonly keyPrefix: string;
  /** How long a lock outlives its holder's last renewal (ms). */
  readonly leaseMs: number;
  /** The database, for messages (`redis://host:port/db`, no credentials). */
  readonly where: string;
  /** Problems with no caller (a renewal that failed or found the lock gone). */
  readonly onError?: (error: unknown) => void;
}

/** Extends the lock's lease if it is still ours. KEYS[1] lock; ARGV 1 our value, 2 lease ms. */
const RENEW = loadLua('renew-lock');

/** Deletes the lock if it is still ours. KEYS[1] lock; ARGV 1 our value. */
const RELEASE = loadLua('release-lock');

/** Set-or-read rounds per attempt: a lock that lapses between our SET and GET is tried again. */
const ATTEMPT_ROUNDS = 3;

/** {@link StackStateStore} of the Redis transport; see the module description. */
export class RedisStacks implements StackStateStore {
  readonly #redis: Redis;
  readonly #options: RedisStacksOptions;
  readonly #held = new Set<RedisLock>();

  constructor(redis: Redis, options: RedisStacksOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  /** The key of a stack's state document. */
  stateKey(stack: string): string {
    return `${this.#options.keyPrefix}_wakame.stack.${checked(stack)}`;
  }

  /** The key of a stack's lock. */
  lockKey(stack: string): string {
    return `${this.#options.keyPrefix}_wakame.lock.${checked(stack)}`;
  }

  describe(stack: string): string {
    return `Redis key ${this.stateKey(stack)} on ${this.#options.where}`;
  }

  async read(stack: string): Promise<Readonly<Record<string, unknown>> | undefined> {
    const text = await guarded(this.#redis.get(this.stateKey(stack)));
    return text === null ? undefined : parseStackDocument(text, this.describe(stack));
  }

  async write(stack: string, state: Readonly<Record<string, unknown>>): Promise<void> {
    await guarded(this.#redis.set(this.stateKey(stack), JSON.stringify(state)));
  }

  async remove(stack: string): Promise<void> {
    await guarded(this.#redis.del(this.stateKey(stack)));
  }

  async lock(stack: string, options: StackLockOptions): Promise<StackLock> {
    const key = this.lockKey(stack);
    return acquireStackLock(stack, options, () => this.#attempt(key, options.holder));
  }

  /** Releases the locks still held through this store (its connection is closing). */
  async close(): Promise<void> {
    for (const lock of [...this.#held]) await lock.release().catch(this.#report);
  }

  async #attempt(key: string, holder: LockHolder): Promise<LockAttempt> {
    const value = JSON.stringify({ holder, token: randomUUID() });
    const { leaseMs } = this.#options;
    for (let round = 0; round < ATTEMPT_ROUNDS; round++) {
      if ((await guarded(this.#redis.set(key, value, 'PX', leaseMs, 'NX'))) === 'OK') {
        const lock = new RedisLock(this.#redis, key, value, leaseMs, this.#report, (l) => this.#held.delete(l));
        this.#held.add(lock);
        return { lock };
      }
      const current = await guarded(this.#redis.get(key));
      if (current !== null) return { heldBy: holderOf(current) };
    }
    return { heldBy: undefined };
  }

  readonly #report = (error: unknown): void => this.#options.onError?.(error);
}

/** A held lock: its lease renewed on an unref'd timer until released. */
class RedisLock implements StackLock {
  readonly #timer: NodeJS.Timeout;
  #released: Promise<void> | undefined;

  constructor(
    readonly redis: Redis,
    readonly key: string,
    readonly value: string,
    readonly leaseMs: number,
    readonly report: (error: unknown) => void,
    readonly forget: (lock: RedisLock) => void,
  ) {
    // A third of the lease: two renewals may fail (a blip) before the lock is lost.
    // Unref'd: a forgotten lock must not keep the process alive; its lease then lapses.
    this.#timer = setInterval(() => void this.#renew().catch(report), Math.max(leaseMs / 3, 10));
    this.#timer.unref();
  }

  release(): Promise<void> {
    this.#released ??= this.#release();
    return this.#released;
  }

  async #release(): Promise<void> {
    clearInterval(this.#timer);
    this.forget(this);
    await guarded(this.redis.eval(RELEASE, 1, this.key, this.value));
  }

  async #renew(): Promise<void> {
    if (this.#released) return;
    const renewed = await guarded(this.redis.eval(RENEW, 1, this.key, this.value, this.leaseMs));
    if (renewed === 1 || this.#released) return;
    clearInterval(this.#timer);
    this.report(
      new Error(`the lock ${this.key} lapsed: it was not renewed within its lease and may be held by another`),
    );
  }
}

function checked(stack: string): string {
  if (!STACK_NAME_PATTERN.test(stack)) {
    throw new InvalidArgumentError(`invalid stack name '${stack}': use letters, digits, '.', '_' and '-'`);
  }
  return stack;
}

/** The holder recorded in a lock value; undefined when the value is not ours (best effort). */
function holderOf(value: string): LockHolder | undefined {
  try {
    const h = (JSON.parse(value) as { holder?: Partial<LockHolder> }).holder;
    return typeof h?.id === 'string' && typeof h.description === 'string' && typeof h.since === 'string'
      ? { id: h.id, description: h.description, since: h.since }
      : undefined;
  } catch {
    return undefined;
  }
}
