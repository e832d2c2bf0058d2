import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { collectFrom, LabelCounts } from '../../src/tasks/label-counts.js';
import { LabelHistogram } from '../../src/tasks/label-histogram.js';

// The worker's hot-path metrics must scrape exactly as prom-client's own metrics fed the same values would.
const BUCKETS = [0.005, 0.01, 0.1, 1, 5];
const OBSERVED: [string, number][] = [
  ['a.task', 0.002],
  ['a.task', 0.005],
  ['b.task', 0.05],
  ['a.task', 0.7],
  ['b.task', 12],
  ['a.task', 1],
];

describe('LabelHistogram', () => {
  it('scrapes the same text as a prom-client Histogram given the same observations', async () => {
    const ours = new Registry();
    const histogram = new LabelHistogram({ name: 'x_seconds', help: 'h', labelName: 'task', buckets: BUCKETS });
    histogram.registerIn(ours);
    const theirs = new Registry();
    const reference = new Histogram({
      name: 'x_seconds',
      help: 'h',
      labelNames: ['task'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    for (const [task, value] of OBSERVED) {
      histogram.observe(task, value);
      reference.observe({ task }, value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    ours.resetMetrics();
    expect(await ours.metrics()).toBe('# HELP x_seconds h\n# TYPE x_seconds histogram\n');
  });
});

/** A scrape's lines, samples sorted: Prometheus gives the order of a metric's samples no meaning. */
function lines(text: string): string[] {
  const all = text.trim().split('\n');
  return [...all.filter((l) => l.startsWith('#')), ...all.filter((l) => !l.startsWith('#')).sort()];
}

describe('LabelCounts', () => {
  it.each([1, 2, 3])('with %i label(s), a counter reading it scrapes as one incremented directly', async (depth) => {
    const names = ['queue', 'task', 'outcome'].slice(0, depth);
    const counts = new LabelCounts(names);
    const ours = new Registry();
    new Counter({ name: 'y_total', help: 'h', labelNames: names, registers: [ours], collect: collectFrom(counts) });
    const theirs = new Registry();
    const reference = new Counter({ name: 'y_total', help: 'h', labelNames: names, registers: [theirs] });
    const rows = [
      ['q1', 't1', 'done'],
      ['q1', 't1', 'done'],
      ['q1', 't2', 'retried'],
      ['q2', 't1', 'done'],
      ['q1', 't1', 'failed'],
    ];
    for (const row of rows) {
      const [a, b, c] = row.slice(0, depth) as [string, string?, string?];
      counts.add(a, b, c);
      reference.inc(Object.fromEntries(names.map((n, i) => [n, row[i] as string])));
    }
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
    // A second scrape reads the counts again rather than adding them once more.
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
  });

  it('refuses no labels or more than three', () => {
    expect(() => new LabelCounts([])).toThrow(RangeError);
    expect(() => new LabelCounts(['a', 'b', 'c', 'd'])).toThrow(RangeError);
  });
});
