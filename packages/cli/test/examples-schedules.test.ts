/**
 * examples/schedules end to end, in process on one memory broker: `wakame validate` counts the schedules, and two
 * `wakame worker` commands of the example run its every-second schedule — one leads, each slot is sent once and
 * handled once.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { capture } from './capture.js';

const dir = fileURLToPath(new URL('../../../examples/schedules/', import.meta.url));
const topology = join(dir, 'topology.yaml');

type Line = { event: string; type?: string; id?: string; task?: string; schedule?: string };

describe('examples/schedules', () => {
  it('validates, naming its schedules', async () => {
    const out = capture();
    await runCli(out.ctx, ['validate', topology]);
    expect(out.out.join('\n')).toContain('3 tasks, 2 schedules');
  });

  it('two workers: one leads, each cache-refresh slot is sent once and handled once', async () => {
    const url = `memory://${randomUUID()}`;
    await runCli(capture().ctx, ['apply', topology, '--url', url, '--yes']);
    const stops = [new AbortController(), new AbortController()];
    const workers = stops.map((stop) => capture({ jsonMode: true, signal: stop.signal }));
    const runs = workers.map((w) => runCli(w.ctx, ['worker', join(dir, 'worker.ts'), '--url', url, '--verbose']));
    const lines = () => workers.flatMap((w, i) => (w.json as Line[]).map((l) => ({ ...l, worker: i })));
    const fired = () => lines().filter((l) => l.event === 'schedule-fired' && l.schedule === 'cache-refresh');
    try {
      await waitFor(() => fired().length >= 3, { timeoutMs: 60_000, what: 'three cache-refresh runs sent' });
      const ids = fired().map((l) => l.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(lines().filter((l) => l.event === 'schedule-leader')).toHaveLength(1);
      const handled = (id: string | undefined) =>
        lines().filter(
          (l) => l.event === 'task-done' && l.task === 'cache.refresh' && (l as { id?: string }).id === id,
        );
      await waitFor(() => ids.every((id) => handled(id).length === 1), { timeoutMs: 30_000, what: 'each run handled' });
      // wakame schedules reads what the group recorded, without the lease.
      const status = capture({ jsonMode: true });
      await runCli(status.ctx, ['schedules', topology, '--url', url, '--group', 'schedules-example']);
      const shown = status.json[0] as {
        term: number;
        leader: { description: string };
        schedules: { name: string; lastSlot?: string; nextSlot?: string }[];
      };
      expect(shown.term).toBe(1);
      expect(shown.leader.description).toMatch(/^worker .+ \(pid \d+\)$/);
      const refresh = shown.schedules.find((x) => x.name === 'cache-refresh');
      const lastSent = (fired().at(-1)?.id ?? '').split('@')[1] as string;
      expect(refresh?.lastSlot !== undefined && refresh.lastSlot >= lastSent).toBe(true);
      expect(Date.parse(refresh?.nextSlot ?? '') - Date.parse(refresh?.lastSlot ?? '')).toBe(1_000);
      expect(shown.schedules.find((x) => x.name === 'nightly-report')?.nextSlot).toMatch(/T0[12]:00:00\.000Z$/);
    } finally {
      for (const stop of stops) stop.abort();
      await Promise.all(runs);
    }
  }, 120_000);
});
