/**
 * Celery's Redis result backend (`redis://` as `result_backend`): each task's record is a JSON string
 * under `celery-task-meta-<id>`, written with an expiry and also published on a channel of the same
 * name, which is how Celery's clients learn of it without polling. Waiting here subscribes first and
 * then reads the key, so a record stored in between is not missed.
 *
 * @module
 */
import {
  type CeleryResultBackend,
  type CeleryResultMeta,
  type CeleryResultTarget,
  CeleryResultTimeoutError,
  type CeleryState,
  InvalidArgumentError,
  READY_STATES,
} from '@wakame/core';
import { Redis } from 'ioredis';

/** Celery's key of a task's record. */
export const CELERY_TASK_META_PREFIX = 'celery-task-meta-';
/** Celery's `result_expires`: one day. */
export const DEFAULT_CELERY_RESULT_EXPIRES_SECONDS = 86_400;

/** Options of {@link CeleryRedisResultBackend}. */
export interface CeleryRedisResultBackendOptions {
  /** The Redis of the results, e.g. `redis://127.0.0.1:6379/1` (Celery's `result_backend`). */
  readonly url: string;
  /** Seconds a record is kept (Celery's `result_expires`); 0 keeps it forever. @defaultValue one day */
  readonly expiresSeconds?: number;
  /** Celery's `result_backend_transport_options.global_keyprefix`. @defaultValue `''` */
  readonly keyPrefix?: string;
}

/** The Redis result backend. */
export class CeleryRedisResultBackend implements CeleryResultBackend {
  readonly url: string;
  readonly #expires: number;
  readonly #prefix: string;
  readonly #commands: Redis;
  #subscriber: Redis | undefined;
  readonly #waiters = new Map<string, Set<(meta: CeleryResultMeta) => void>>();

  constructor(options: CeleryRedisResultBackendOptions) {
    if (!/^rediss?:\/\//.test(options.url)) {
      throw new InvalidArgumentError(
        `a Celery Redis result backend needs a redis:// URL, got ${options.url.split(':')[0]}:`,
      );
    }
    this.url = options.url;
    this.#expires = options.expiresSeconds ?? DEFAULT_CELERY_RESULT_EXPIRES_SECONDS;
    this.#prefix = options.keyPrefix ?? '';
    this.#commands = new Redis(options.url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    // Failures reach callers as rejected commands; without a listener ioredis would print each one.
    this.#commands.on('error', () => undefined);
  }

  #key(taskId: string): string {
    return `${this.#prefix}${CELERY_TASK_META_PREFIX}${taskId}`;
  }

  /** Results are found by task id; no reply queue. */
  async replyTo(): Promise<string> {
    return '';
  }

  async store(target: CeleryResultTarget, meta: CeleryResultMeta): Promise<void> {
    const key = this.#key(target.taskId);
    const value = JSON.stringify(meta);
    const pipeline = this.#commands.multi();
    if (this.#expires > 0) pipeline.setex(key, this.#expires, value);
    else pipeline.set(key, value);
    pipeline.publish(key, value);
    await pipeline.exec();
  }

  async #read(taskId: string): Promise<CeleryResultMeta | undefined> {
    const text = await this.#commands.get(this.#key(taskId));
    return text === null ? undefined : parseMeta(text);
  }

  async state(taskId: string): Promise<CeleryState> {
    return (await this.#read(taskId))?.status ?? 'PENDING';
  }

  async #subscriberReady(): Promise<Redis> {
    if (this.#subscriber === undefined) {
      const subscriber = this.#commands.duplicate();
      subscriber.on('error', () => undefined);
      subscriber.on('message', (channel: string, text: string) => {
        const meta = parseMeta(text);
        if (meta === undefined || !READY_STATES.has(meta.status)) return;
        for (const resolve of this.#waiters.get(channel) ?? []) resolve(meta);
      });
      this.#subscriber = subscriber;
    }
    return this.#subscriber;
  }

  async waitFor(taskId: string, timeoutMs: number): Promise<CeleryResultMeta> {
    const key = this.#key(taskId);
    const subscriber = await this.#subscriberReady();
    const waiters = this.#waiters.get(key) ?? new Set();
    this.#waiters.set(key, waiters);
    let resolveWaiter: (meta: CeleryResultMeta) => void = () => undefined;
    const arrived = new Promise<CeleryResultMeta>((resolve) => {
      resolveWaiter = resolve;
    });
    waiters.add(resolveWaiter);
    let timer: NodeJS.Timeout | undefined;
    try {
      await subscriber.subscribe(key);
      const stored = await this.#read(taskId);
      if (stored && READY_STATES.has(stored.status)) return stored;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new CeleryResultTimeoutError(`no result for Celery task ${taskId} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      return await Promise.race([arrived, timeout]);
    } finally {
      clearTimeout(timer);
      waiters.delete(resolveWaiter);
      if (waiters.size === 0) {
        this.#waiters.delete(key);
        await subscriber.unsubscribe(key).catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    this.#subscriber?.disconnect();
    await this.#commands.quit().catch(() => undefined);
  }
}

/** A record, or undefined for anything that is not one (another writer's key, msgpack records). */
function parseMeta(text: string): CeleryResultMeta | undefined {
  try {
    const meta = JSON.parse(text) as CeleryResultMeta;
    return typeof meta === 'object' && meta !== null && typeof meta.status === 'string' ? meta : undefined;
  } catch {
    return undefined;
  }
}
