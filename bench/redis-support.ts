/**
 * What the Redis benchmarks share: the server and database they use, clients, and the guards that
 * make a benchmark fail loudly (bounded waits, checked replies) instead of printing a wrong figure.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { within } from './harness.js';

export { within };

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * The database the benchmarks use. Tests share every database (each under key prefixes of its own),
 * so the benchmarks never FLUSHDB: every key they make starts with {@link KEY_PREFIX}, and
 * {@link clearBenchKeys} deletes exactly those. (A FLUSHDB would also wake every client that tracks
 * keys, in any database, and wipe the keys of a test running beside the benchmark.)
 */
export const DB = 9;
/**
 * Prefix of every key this run makes: Wakame's `keyprefix`, BullMQ's `prefix`, kombu's
 * `global_keyprefix`, the raw ceilings' keys. It names the run, so two runs at once (two engineers
 * on one Redis) never clear each other's keys mid-benchmark.
 */
export const KEY_PREFIX = `wakame-bench:${process.pid}.${randomBytes(3).toString('hex')}:`;
/** Messages in flight on the sending side. */
export const WINDOW = 500;
export const ROUNDS = 5;
/** No phase may take longer than this; one that does breaks the benchmark. */
export const PHASE_TIMEOUT_MS = 60_000;
/** Wakame's queue (kombu keeps its messages in the list of that name); raw keys never clash with it. */
export const QUEUE = 'bench';

export function dbUrl(): string {
  const url = new URL(REDIS_URL);
  url.pathname = `/${DB}`;
  return url.toString();
}

/** The URL Wakame connections of the benchmarks open: {@link dbUrl} with `keyprefix` {@link KEY_PREFIX}. */
export function wakameUrl(): string {
  return `${dbUrl()}?keyprefix=${encodeURIComponent(KEY_PREFIX)}`;
}

/** Deletes every key of the benchmarks (SCAN + UNLINK under {@link KEY_PREFIX}), and nothing else. */
export async function clearBenchKeys(redis: Redis): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export function client(options: RedisOptions = {}): Redis {
  return new Redis(dbUrl(), { maxRetriesPerRequest: 1, connectTimeout: 5_000, ...options });
}

export async function quit(redis: Redis): Promise<void> {
  await within(redis.quit(), 5_000, 'QUIT').catch(() => redis.disconnect());
}

/** Runs every step even when one fails, then throws the first failure: nothing is left open. */
export async function closeAll(...steps: (() => Promise<unknown>)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) await step().catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
}

export function expect(condition: boolean, message: string): void {
  if (!condition) throw new Error(`redis bench: ${message}`);
}

/** Throws on the first failed command of a pipeline or transaction (ioredis reports them per command). */
export function checkExec(results: [Error | null, unknown][] | null, what: string): void {
  if (!results) throw new Error(`redis bench: ${what}: transaction aborted`);
  for (const [error] of results) if (error) throw new Error(`redis bench: ${what}: ${error.message}`);
}
