/**
 * A Redis database of a test file's own: flushed before the file, with a raw client for looking at
 * keys, and Wakame connections that are all closed after the file.
 */
import { randomBytes } from 'node:crypto';
import { Connection } from '@wakame/core';
import { redisUrl } from '@wakame/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

export interface RedisScratch {
  /** A plain client on the database (valid inside tests). */
  readonly raw: Redis;
  /** A fresh key prefix, so each test has a broker of its own inside the database. */
  fresh(label?: string): string;
  /** The transport URL for `prefix`, with extra query options (`&lease=1000`). */
  url(prefix: string, query?: string): string;
  /** Opens a connection that is closed after the file. */
  connect(prefix: string, query?: string): Promise<Connection>;
}

/** Call at the top of a `describe`: registers the file's setup and cleanup hooks. */
export function useRedisScratch(db: number): RedisScratch {
  let raw: Redis | undefined;
  const open: Connection[] = [];
  beforeAll(async () => {
    raw = new Redis(redisUrl(db));
    await raw.flushdb();
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    raw?.disconnect();
  });
  const scratch: RedisScratch = {
    get raw(): Redis {
      if (!raw) throw new Error('useRedisScratch: the raw client exists only inside tests');
      return raw;
    },
    fresh: (label = 't') => `${label}${randomBytes(3).toString('hex')}:`,
    url: (prefix, query = '') => redisUrl(db, `keyprefix=${prefix}${query}`),
    async connect(prefix, query = '') {
      const c = await Connection.open(scratch.url(prefix, query));
      open.push(c);
      return c;
    },
  };
  return scratch;
}
