import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli.js';
import { capture } from './capture.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

type WorkerEvent = { event: string; task?: string; attempt?: number };

/** `wakame send <task> <payload> --topology … --url …`. */
async function send(task: string, payload: unknown, topology: string, url: string): Promise<void> {
  await runCli(capture().ctx, ['send', task, JSON.stringify(payload), '--topology', topology, '--url', url]);
}

/** Runs `wakame worker <module>` with `args` until `enough(events)` or 20 s, then stops it; returns its events. */
async function runWorkerUntil(
  module: string,
  args: readonly string[],
  enough: (events: readonly WorkerEvent[]) => boolean,
): Promise<WorkerEvent[]> {
  const stop = new AbortController();
  const worker = capture({ jsonMode: true, signal: stop.signal });
  const running = runCli(worker.ctx, ['worker', module, ...args]);
  const events = () => worker.json as WorkerEvent[];
  const deadline = Date.now() + 20_000;
  while (!enough(events()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  stop.abort();
  await running;
  return events();
}

/** apply → send (low first, then high) → worker → the high tasks run first. */
export async function priorityTasksEndToEnd(url: string): Promise<string[]> {
  const dir = join(examples, 'priority-tasks');
  const topology = join(dir, 'topology.yaml');
  await runCli(capture().ctx, ['apply', topology, '--url', url, '--yes']);
  for (let i = 0; i < 4; i++) await send('report.generate', { reportId: `r-${i}` }, topology, url);
  for (let i = 0; i < 4; i++) await send('user.notify', { userId: `u-${i}`, text: 'hi' }, topology, url);
  const done = (events: readonly WorkerEvent[]) => events.filter((e) => e.event === 'task-done');
  const events = await runWorkerUntil(
    join(dir, 'worker.ts'),
    ['--url', url, '--verbose', '--concurrency', '1'],
    (all) => done(all).length >= 8,
  );
  return done(events).map((e) => e.task ?? '');
}

/** apply → send a good and a bad invoice → worker: the good one succeeds on attempt 3, the bad one is dead-lettered. */
export async function retryDeadLetterEndToEnd(url: string): Promise<{ events: WorkerEvent[]; dead: unknown[] }> {
  const dir = join(examples, 'retry-dead-letter');
  const topology = join(dir, 'topology.yaml');
  await runCli(capture().ctx, ['apply', topology, '--url', url, '--yes']);
  for (const invoiceId of ['ok-1', 'bad']) await send('invoice.send', { invoiceId }, topology, url);
  const settled = (events: readonly WorkerEvent[]) =>
    events.filter((e) => e.event === 'task-done' || e.event === 'task-dead-letter').length;
  const events = await runWorkerUntil(join(dir, 'worker.ts'), ['--url', url, '--verbose'], (all) => settled(all) >= 2);
  const failed = capture({ jsonMode: true });
  await runCli(failed.ctx, ['consume', 'jobs.failed', '--url', url, '--ack', '--count', '1', '--timeout', '5']);
  return { events, dead: failed.out.map((line) => JSON.parse(line) as unknown) };
}
