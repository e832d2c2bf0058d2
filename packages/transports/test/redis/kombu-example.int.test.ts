/**
 * `examples/kombu-redis` runs as its README says: the Python kombu producer, then the Wakame consumer,
 * both as real processes, in Redis database 2 (flushed around the test). Keeps the example true.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { redisUrl } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';
import { flushAround, kombuSuite } from './kombu/suite.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const DB_URL = redisUrl(2);
const suite = await kombuSuite('examples/kombu-redis', 2);

describe.skipIf(!suite.run)('examples/kombu-redis', () => {
  flushAround(DB_URL);

  it('kombu publishes five orders, Wakame consumes them urgent first with bodies, priorities and headers', async () => {
    const produced = await run('/usr/bin/python3', ['examples/kombu-redis/producer.py', DB_URL, '5'], {
      cwd: repo,
      timeout: 30_000,
    });
    expect(produced.stdout).toContain('kombu published 5 orders');
    const consumed = await run(
      process.execPath,
      ['--conditions=@wakame/source', '--import', 'tsx', 'examples/kombu-redis/consumer.ts', DB_URL, '5'],
      { cwd: repo, timeout: 30_000 },
    );
    expect(consumed.stdout.trim().split('\n')).toEqual([
      'order 4: 52.5 (déjà vu) priority=none from python-kombu via order.created.eu',
      'order 0: 10.5 (déjà vu) priority=3 from python-kombu via order.created.eu',
      'order 1: 21 (déjà vu) priority=3 from python-kombu via order.created.eu',
      'order 2: 31.5 (déjà vu) priority=3 from python-kombu via order.created.eu',
      'order 3: 42 (déjà vu) priority=3 from python-kombu via order.created.eu',
    ]);
  }, 60_000);
});
