/**
 * A small benchmark harness: each benchmark measures one figure; a figure may name the figure that
 * is its ceiling (the same work done by the bare layer underneath, measured in the same run), and
 * the report prints the ratio. Figures are written to bench/results/latest.json so runs on
 * different commits can be compared.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
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

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Name of the figure this one is compared with. */
  readonly ceiling?: string;
  /** value / ceiling value (for throughput: the fraction of the ceiling reached). */
  ratio?: number;
  readonly note?: string;
}

export interface Benchmark {
  readonly name: string;
  run(): Promise<Figure[]>;
}

/** Runs `fn` `rounds` times and keeps the best throughput (least disturbed by GC and the scheduler). */
export async function bestOf(
  rounds: number,
  fn: () => Promise<{ count: number; ms: number }>,
): Promise<{ perSecond: number; ms: number; count: number }> {
  let best = { perSecond: 0, ms: 0, count: 0 };
  for (let i = 0; i < rounds; i++) {
    const { count, ms } = await fn();
    const perSecond = (count / ms) * 1000;
    if (perSecond > best.perSecond) best = { perSecond, ms, count };
  }
  return best;
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
  wait: (sent: Promise<unknown[]>) => Promise<unknown> = (sent) => sent,
): Promise<void> {
  for (let i = 0; i < count; i += window) {
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
    figures.push(...(await b.run()));
  }
  const byName = new Map(figures.map((f) => [f.name, f]));
  for (const f of figures) {
    const c = f.ceiling ? byName.get(f.ceiling) : undefined;
    if (c && c.value > 0) f.ratio = f.value / c.value;
  }
  return figures;
}

export function formatTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.ceiling ?? '',
    f.ratio !== undefined ? `${(f.ratio * 100).toFixed(1)}%` : '',
    f.note ?? '',
  ]);
  const header = ['figure', 'value', 'ceiling', 'ratio', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export async function writeResults(figures: readonly Figure[]): Promise<string> {
  const here = dirname(fileURLToPath(import.meta.url));
  const file = join(here, 'results', 'latest.json');
  await mkdir(dirname(file), { recursive: true });
  const doc = {
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    figures,
  };
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

function fmt(v: number): string {
  if (v >= 1000) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(3);
}
