/**
 * Real kombu (Python, its own synchronous Redis transport) publishing and consuming through the same
 * Redis, for scale beside Wakame's figures: bench/kombu-redis.py, run by /usr/bin/python3 (or
 * $KOMBU_PYTHON). When kombu is not importable, the figures are skipped with a note, not failed.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Benchmark, type Figure, summarize } from './harness.js';
import { clearBenchKeys, client, closeAll, dbUrl, KEY_PREFIX, quit, ROUNDS } from './redis-support.js';

const run = promisify(execFile);
const PYTHON = process.env.KOMBU_PYTHON ?? '/usr/bin/python3';
const SCRIPT = join(fileURLToPath(new URL('.', import.meta.url)), 'kombu-redis.py');
/** Messages per round and phase; each phase also stops after SECONDS. */
const COUNT = 3_000;
const SECONDS = 10;
const PREFETCH = 200;

interface KombuResult {
  readonly kombu: string;
  readonly python: string;
  readonly publish: number[];
  readonly consume: number[];
  readonly counts: [number, number][];
}

async function kombuVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run(PYTHON, ['-c', 'import kombu, redis; print(kombu.__version__)'], { timeout: 20_000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

async function measure(): Promise<Figure[]> {
  const version = await kombuVersion();
  const publish = { name: 'redis.kombu.publish', unit: 'msg/s' };
  const consume = { name: 'redis.kombu.consume-ack', unit: 'msg/s' };
  if (!version) {
    const note = `skipped: kombu (and redis-py) not importable by ${PYTHON} (Debian: python3-kombu)`;
    return [
      { ...publish, value: Number.NaN, rounds: 0, note },
      { ...consume, value: Number.NaN, rounds: 0, note },
    ];
  }
  const prefix = `${KEY_PREFIX}kombu:`;
  const admin = client();
  let result: KombuResult;
  try {
    const { stdout } = await run(
      PYTHON,
      [SCRIPT, dbUrl(), prefix, String(COUNT), String(ROUNDS), String(SECONDS), String(PREFETCH)],
      { timeout: (ROUNDS * 2 * SECONDS + 30) * 1000 },
    );
    result = JSON.parse(stdout) as KombuResult;
  } finally {
    await closeAll(
      () => clearBenchKeys(admin),
      () => quit(admin),
    );
  }
  const counts = result.counts.map(([sent, got]) => `${sent}/${got}`).join(', ');
  const who = `kombu ${result.kombu} on Python ${result.python}`;
  return [
    summarize(
      {
        ...publish,
        note: `${who}: Producer.publish, json, persistent, one synchronous round trip each; ≤ ${COUNT} or ${SECONDS} s a round`,
      },
      result.publish,
    ),
    summarize(
      {
        ...consume,
        note: `${who}: Consumer prefetch ${PREFETCH}, callback gets the decoded body, ack each; sent/consumed a round: ${counts}`,
      },
      result.consume,
    ),
  ];
}

export const redisKombuBenchmarks: readonly Benchmark[] = [{ name: 'redis.kombu', run: measure }];
