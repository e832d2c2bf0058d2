/**
 * A small benchmark harness: each benchmark measures figures over several rounds and reports each
 * figure's median and spread (never its best); a figure may name the figure that is its ceiling (the
 * same work done by the bare layer underneath, measured in the same run), and the report prints the
 * ratio of the medians. Figures are written to bench/results/latest.json, with the commit and the
 * machine, so runs on different commits can be compared; bench/README.md is generated from it.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Connection, defineTopology, type Queue } from '@wakame/core';

/** The message every benchmark sends: a ~200-byte JSON task request, `id` numbering it. */
export function benchPayload(id: number) {
  return {
    id,
    task: 'media.process',
    url: 'https://example.com/videos/2026/11/21/a-reasonably-long-file-name.mp4',
    options: { width: 1920, height: 1080, codec: 'h264', audio: true },
    requestedBy: 'user-1234',
  };
}

/** The topology of the task benchmarks: `queue`, and the task `media.process` routed to it. */
export function benchTaskTopology(queue: string, durable: boolean) {
  return defineTopology({
    queues: [{ name: queue, durable, bindings: [{ exchange: 'amq.direct', routingKey: queue }] }],
    tasks: [
      {
        name: 'media.process',
        route: { exchange: 'amq.direct', routingKey: queue },
        payload: {
          type: 'object',
          required: ['id', 'url'],
          properties: { id: { type: 'integer' }, url: { type: 'string' } },
        },
      },
    ],
  });
}

/** No load loop of a benchmark runs longer than this; one that does breaks its figure. */
export const LOAD_TIMEOUT_MS = 60_000;

/** Where the middle half and the whole of a figure's rounds lie. */
export interface Spread {
  readonly min: number;
  readonly p25: number;
  readonly p75: number;
  readonly max: number;
}

export interface Figure {
  readonly name: string;
  /** The median of the rounds (never the best: a best-of hides noise a reader must see). */
  readonly value: number;
  readonly unit: string;
  /** How many rounds the median and the spread are taken over. */
  readonly rounds: number;
  readonly spread?: Spread;
  /** Every round's value, in the order measured. */
  readonly samples?: readonly number[];
  /** Name of the figure this one is compared with (the same work done by the layer underneath). */
  readonly ceiling?: string;
  /** value / ceiling value, medians (for throughput: the fraction of the ceiling reached). */
  ratio?: number;
  readonly note?: string;
  /** Why no value was measured (the benchmark, or a third-party peer in it, failed); `value` is NaN. */
  readonly failed?: string;
}

/** How a figure is labelled: everything but the values. */
export interface FigureSpec {
  readonly name: string;
  readonly unit: string;
  readonly ceiling?: string;
  readonly note?: string;
}

export interface Benchmark {
  readonly name: string;
  run(): Promise<Figure[]>;
}

/** The figure of `samples`: their median and spread. */
export function summarize(spec: FigureSpec, samples: readonly number[]): Figure {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    ...spec,
    value: quantile(sorted, 0.5),
    rounds: samples.length,
    spread: {
      min: sorted[0] ?? Number.NaN,
      p25: quantile(sorted, 0.25),
      p75: quantile(sorted, 0.75),
      max: sorted[sorted.length - 1] ?? Number.NaN,
    },
    samples,
  };
}

/** A figure that could not be measured, and why. */
export function failedFigure(spec: FigureSpec, error: unknown): Figure {
  return { ...spec, value: Number.NaN, rounds: 0, failed: errorText(error) };
}

/** Linear interpolation between the closest ranks of an ascending array. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  const a = sorted[lo] as number;
  return a + ((sorted[hi] as number) - a) * (at - lo);
}

/**
 * The rounds of a benchmark, by key. A round that throws is recorded, not rethrown, and the key's
 * later rounds are skipped: one failing side (a third-party peer such as BullMQ) is reported as
 * failed while the others go on.
 */
export class Rounds {
  readonly #samples = new Map<string, number[]>();
  readonly #failures = new Map<string, unknown>();

  /** Runs one round of `key` (unless an earlier one failed) and keeps its value. */
  async take(key: string, round: () => Promise<number>): Promise<void> {
    if (this.#failures.has(key)) return;
    try {
      this.add(key, await round());
    } catch (error) {
      process.stderr.write(`  ${key} failed: ${errorText(error)}\n`);
      this.#failures.set(key, error);
    }
  }

  add(key: string, value: number): void {
    const list = this.#samples.get(key) ?? [];
    list.push(value);
    this.#samples.set(key, list);
  }

  failed(key: string): boolean {
    return this.#failures.has(key);
  }

  /** The figure of `key`'s rounds; failed if any round failed (a partial median would mislead). */
  figure(key: string, spec: FigureSpec): Figure {
    if (this.#failures.has(key)) return failedFigure(spec, this.#failures.get(key));
    const samples = this.#samples.get(key) ?? [];
    if (samples.length === 0) return failedFigure(spec, new Error('no round ran'));
    return summarize(spec, samples);
  }
}

/** msg/s of `count` messages in `ms`. */
export function rate(count: number, ms: number): number {
  return (count / ms) * 1000;
}

/**
 * A time bound for a load loop (whose count bounds it too): `check()` throws once `ms` have passed
 * since the loop started, so a stalled broker breaks the benchmark instead of hanging it.
 */
export function deadline(ms: number, what: string): { check: (progress?: string) => void } {
  const end = now() + ms;
  return {
    check: (progress) => {
      if (now() > end) throw new Error(`${what}: not done within ${ms} ms${progress ? ` (${progress})` : ''}`);
    },
  };
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Resolves `done` on the `count`-th `tick()`: how every benchmark knows its last message arrived. */
export function countdown(count: number): {
  tick: () => void;
  /** Ends the wait with `error` (a benchmark that broke must not report a figure). */
  fail: (error: unknown) => void;
  readonly done: Promise<void>;
} {
  let left = count;
  let resolve: () => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    tick: () => {
      if (--left === 0) resolve();
    },
    fail: (error) => reject(error),
    done,
  };
}

/** Rejects when `promise` has not settled within `ms`: every wait of a benchmark is bounded. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends items 0 … count-1, `window` of them in flight at once: each window is sent together and
 * awaited (through `wait`, e.g. a {@link within} bound) before the next one starts.
 */
export async function inWindows(
  count: number,
  window: number,
  send: (i: number) => Promise<unknown>,
  wait: (sent: Promise<unknown[]>) => Promise<unknown> = (sent) => within(sent, LOAD_TIMEOUT_MS, 'a window of sends'),
): Promise<void> {
  const bound = deadline(LOAD_TIMEOUT_MS, `sending ${count} in windows of ${window}`);
  for (let i = 0; i < count; i += window) {
    bound.check(`${i}/${count} sent`);
    const sent: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(count, i + window); j++) sent.push(send(j));
    await wait(Promise.all(sent));
  }
}

/** Options of {@link consumeRate}. */
export interface ConsumeRateOptions {
  readonly prefetch: number;
  /** Decode each body (JSON.parse) before acking, as a real handler would. @defaultValue false */
  readonly decode?: boolean;
  /** @defaultValue 60_000 */
  readonly timeoutMs?: number;
}

/**
 * msg/s of a Consumer with a handler that acks each of `count` ready messages of `queue`, from
 * subscribing to the last tick. A handler error or the timeout breaks the benchmark.
 */
export async function consumeRate(
  connection: Connection,
  queue: Queue | string,
  count: number,
  options: ConsumeRateOptions,
): Promise<number> {
  const finished = countdown(count);
  const start = now();
  const consumer = connection.consumer({
    queues: [queue],
    prefetch: options.prefetch,
    handler: async (m) => {
      if (options.decode) m.decode();
      await m.ack();
      finished.tick();
    },
    onHandlerError: (_m, error) => finished.fail(error),
  });
  try {
    await consumer.consume();
    await within(finished.done, options.timeoutMs ?? 60_000, `consuming ${count} messages`);
  } finally {
    await consumer.close();
  }
  return (count / (now() - start)) * 1000;
}

export function now(): number {
  return performance.now();
}

/**
 * Runs the benchmarks whose name contains `filter` (all without one). A benchmark that throws yields
 * one failed figure under its name and the run goes on.
 */
export async function runBenchmarks(benchmarks: readonly Benchmark[], filter: string | undefined): Promise<Figure[]> {
  const selected = benchmarks.filter((b) => !filter || b.name.includes(filter));
  if (selected.length === 0) {
    process.stderr.write(`no benchmark matches '${filter}'; available: ${benchmarks.map((b) => b.name).join(', ')}\n`);
    process.exitCode = 2;
    return [];
  }
  const figures: Figure[] = [];
  for (const b of selected) {
    process.stderr.write(`running ${b.name}…\n`);
    try {
      figures.push(...(await b.run()));
    } catch (error) {
      process.stderr.write(`  ${b.name} failed: ${errorText(error)}\n`);
      figures.push(failedFigure({ name: b.name, unit: '' }, error));
    }
  }
  const byName = new Map(figures.map((f) => [f.name, f]));
  for (const f of figures) {
    const c = f.ceiling ? byName.get(f.ceiling) : undefined;
    if (c && c.value > 0 && Number.isFinite(f.value)) f.ratio = f.value / c.value;
  }
  return figures;
}

export function formatTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    f.failed ? 'FAILED' : Number.isNaN(f.value) ? 'skipped' : `${formatValue(f.value)} ${f.unit}`,
    f.spread ? `${formatValue(f.spread.min)} – ${formatValue(f.spread.max)}` : '',
    String(f.rounds),
    f.ceiling ?? '',
    f.ratio !== undefined ? `${(f.ratio * 100).toFixed(1)}%` : '',
    f.failed ?? f.note ?? '',
  ]);
  const header = ['figure', 'median', 'min – max', 'n', 'ceiling', 'ratio', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The machine a run measured, described when it started (the load average says how busy it was). */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly loadAverage: readonly number[];
  readonly totalMemoryMb: number;
  readonly node: string;
  readonly platform: string;
}

export function describeMachine(): Machine {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    totalMemoryMb: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    platform: `${platform()} ${release()}`,
  };
}

/** The results of one run, as bench/results/latest.json holds them. */
export interface RunResults {
  readonly generatedAt: string;
  readonly commit: string;
  /** `git status` of the checkout had changes: the figures are of the commit plus those. */
  readonly dirty: boolean;
  readonly filter: string | null;
  readonly machine: Machine;
  readonly durationMs: number;
  /** Errors nobody awaited (a peer's background failure), kept instead of crashing the run. */
  readonly incidents: readonly string[];
  readonly figures: readonly Figure[];
}

export const RESULTS_FILE = join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');

/** Writes the results atomically (a temp file renamed over latest.json: a reader never sees half a file). */
export async function writeResults(results: Omit<RunResults, 'commit' | 'dirty'>): Promise<string> {
  await mkdir(dirname(RESULTS_FILE), { recursive: true });
  const doc: RunResults = { ...results, ...gitState() };
  const tmp = `${RESULTS_FILE}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`);
  await rename(tmp, RESULTS_FILE);
  return RESULTS_FILE;
}

function gitState(): { commit: string; dirty: boolean } {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: dirname(RESULTS_FILE), encoding: 'utf8', timeout: 10_000 }).trim();
  try {
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return { commit: 'unknown', dirty: true };
  }
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(3);
}
