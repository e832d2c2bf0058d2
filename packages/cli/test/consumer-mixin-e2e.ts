/**
 * examples/consumer-mixin end to end, as its README runs it: `wakame apply` the topology, start two worker processes
 * (`main.ts`), `wakame publish` broadcasts and jobs (JSON, text, raw bytes), SIGTERM both. Every worker must get
 * every broadcast; the jobs must be split between them, each run exactly once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@wakame/testkit';
import { runCli } from '../src/cli.js';
import { capture } from './capture.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const dir = join(repo, 'examples/consumer-mixin');

/** One JSON line a worker wrote. */
export interface WorkerLine {
  readonly worker: string;
  readonly event: string;
  readonly key?: string;
  readonly image?: string;
  readonly contentType?: string;
  readonly processed?: number;
}

interface Running {
  readonly child: ChildProcess;
  readonly lines: WorkerLine[];
  readonly exit: Promise<number | null>;
}

function start(url: string, name: string): Running {
  const child = spawn(
    process.execPath,
    ['--conditions=@wakame/source', '--import', 'tsx', join(dir, 'main.ts'), url, name],
    { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: WorkerLine[] = [];
  let buffer = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const complete = buffer.split('\n');
    buffer = complete.pop() ?? '';
    for (const line of complete) if (line.trim()) lines.push(JSON.parse(line) as WorkerLine);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0) console.error(`[consumer-mixin ${name}] exit ${code}\n${stderr}`);
      resolve(code);
    }),
  );
  return { child, lines, exit };
}

async function publish(url: string, args: readonly string[]): Promise<void> {
  await runCli(capture().ctx, ['publish', '--url', url, ...args]);
}

/** Runs the example on `url`; returns each worker's lines and exit code. */
export async function consumerMixinEndToEnd(
  url: string,
): Promise<{ a: WorkerLine[]; b: WorkerLine[]; exits: (number | null)[] }> {
  await runCli(capture().ctx, ['apply', join(dir, 'topology.yaml'), '--url', url, '--yes']);
  const workers = [start(url, 'a'), start(url, 'b')];
  try {
    await waitFor(() => workers.every((w) => w.lines.some((l) => l.event === 'ready')), {
      timeoutMs: 30_000,
      what: 'both workers ready',
    });
    await publish(url, ['--exchange', 'cache.invalidate', '{"key":"user:1"}']);
    await publish(url, ['--exchange', 'cache.invalidate', 'user:2']);
    for (let i = 0; i < 6; i++) {
      await publish(url, ['--exchange', 'jobs', '--routing-key', 'thumbnail', JSON.stringify({ image: `img-${i}` })]);
    }
    await publish(url, ['--exchange', 'jobs', '--routing-key', 'thumbnail', 'img-6']);
    const raw = join(mkdtempSync(join(tmpdir(), 'wakame-cmx-')), 'image.png');
    writeFileSync(raw, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 4]));
    await publish(url, ['--exchange', 'jobs', '--routing-key', 'thumbnail', `@${raw}`]);
    const count = (event: string) => workers.flatMap((w) => w.lines).filter((l) => l.event === event).length;
    await waitFor(() => count('invalidated') === 4 && count('thumbnail') === 8, {
      timeoutMs: 30_000,
      what: '2 broadcasts to each worker and 8 jobs',
    });
    for (const w of workers) w.child.kill('SIGTERM');
    const exits = await Promise.all(workers.map((w) => w.exit));
    return { a: workers[0]?.lines ?? [], b: workers[1]?.lines ?? [], exits };
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }
}
