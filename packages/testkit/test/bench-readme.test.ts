/** bench/README.md's generator: what a filtered run keeps of the figures it did not measure. */
import { describe, expect, it } from 'vitest';
import type { Figure, RunResults } from '../../../bench/harness.js';
import { renderReadme } from '../../../bench/readme.js';

const machine = {
  cpu: 'test cpu',
  cores: 2,
  totalMemoryMb: 1024,
  platform: 'linux',
  node: 'v20',
  loadAverage: [0, 0, 0],
};

function run(figures: readonly Figure[], filter: string | null): RunResults {
  return {
    generatedAt: '2026-12-07T00:00:00.000Z',
    commit: 'abcdef0123456789',
    dirty: false,
    filter,
    machine,
    durationMs: 1000,
    incidents: [],
    figures,
  } as unknown as RunResults;
}

const figure = (name: string, value: number): Figure => ({ name, value, unit: 'msg/s', rounds: 3 });

describe('bench README', () => {
  it('keeps the rows of a group that a filtered run measured only in part, marked with the run they come from', () => {
    const full = renderReadme(
      run(
        [figure('redis.raw.publish', 100), figure('redis.kombu.publish', 7), figure('memory.store.put-get-ack', 9)],
        null,
      ),
    );
    const filtered = renderReadme(run([figure('redis.raw.publish', 200)], 'redis.raw'), full);
    expect(filtered).toMatch(/\| `redis\.raw\.publish` \| 200\.0 msg\/s \|/);
    expect(filtered).not.toMatch(/`redis\.raw\.publish` \| 100/);
    // The figure it did not measure is still there, under a line saying when it was measured.
    const kept = filtered.slice(filtered.indexOf('## Redis'), filtered.indexOf('## Redis') + 2000);
    expect(kept).toMatch(
      /_Kept from an earlier run: Measured at commit `abcdef012345`.*_\n\n\| figure \|[\s\S]*\| `redis\.kombu\.publish` \| 7\.000 msg\/s \|/,
    );
    // A group it did not measure at all is kept whole.
    expect(filtered).toMatch(
      /## Memory transport[\s\S]*_Kept from an earlier run:[\s\S]*`memory\.store\.put-get-ack` \| 9\.000 msg\/s/,
    );
  });

  it('a full run keeps nothing from before', () => {
    const before = renderReadme(run([figure('redis.kombu.publish', 7)], null));
    const after = renderReadme(run([figure('redis.raw.publish', 200)], null), before);
    expect(after).not.toContain('redis.kombu.publish');
    expect(after).not.toContain('Kept from an earlier run');
  });
});
