import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli.js';
import { capture } from './capture.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** apply → send (low first, then high) → worker → the high tasks run first. */
export async function priorityTasksEndToEnd(url: string): Promise<string[]> {
  const dir = join(examples, 'priority-tasks');
  const topology = join(dir, 'topology.yaml');
  await runCli(capture().ctx, ['apply', topology, '--url', url]);
  for (let i = 0; i < 4; i++) {
    await runCli(capture().ctx, [
      'send',
      'report.generate',
      JSON.stringify({ reportId: `r-${i}` }),
      '--topology',
      topology,
      '--url',
      url,
    ]);
  }
  for (let i = 0; i < 4; i++) {
    await runCli(capture().ctx, [
      'send',
      'user.notify',
      JSON.stringify({ userId: `u-${i}`, text: 'hi' }),
      '--topology',
      topology,
      '--url',
      url,
    ]);
  }
  const stop = new AbortController();
  const worker = capture({ jsonMode: true, signal: stop.signal });
  const running = runCli(worker.ctx, [
    'worker',
    join(dir, 'worker.ts'),
    '--url',
    url,
    '--verbose',
    '--concurrency',
    '1',
  ]);
  const done = () => (worker.json as { event: string; task?: string }[]).filter((e) => e.event === 'task-done');
  const deadline = Date.now() + 20_000;
  while (done().length < 8 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  stop.abort();
  await running;
  return done().map((e) => e.task ?? '');
}

/** apply → send a good and a bad invoice → worker: the good one succeeds on attempt 3, the bad one is dead-lettered. */
export async function retryDeadLetterEndToEnd(
  url: string,
): Promise<{ events: { event: string; task?: string; attempt?: number }[]; dead: unknown[] }> {
  const dir = join(examples, 'retry-dead-letter');
  const topology = join(dir, 'topology.yaml');
  await runCli(capture().ctx, ['apply', topology, '--url', url]);
  for (const invoiceId of ['ok-1', 'bad']) {
    await runCli(capture().ctx, [
      'send',
      'invoice.send',
      JSON.stringify({ invoiceId }),
      '--topology',
      topology,
      '--url',
      url,
    ]);
  }
  const stop = new AbortController();
  const worker = capture({ jsonMode: true, signal: stop.signal });
  const running = runCli(worker.ctx, ['worker', join(dir, 'worker.ts'), '--url', url, '--verbose']);
  const events = () => worker.json as { event: string; task?: string; attempt?: number }[];
  const settled = () => events().filter((e) => e.event === 'task-done' || e.event === 'task-dead-letter').length;
  const deadline = Date.now() + 20_000;
  while (settled() < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  stop.abort();
  await running;
  const failed = capture({ jsonMode: true });
  await runCli(failed.ctx, ['consume', 'jobs.failed', '--url', url, '--ack', '--count', '1', '--timeout', '5']);
  return { events: events(), dead: failed.out.map((line) => JSON.parse(line) as unknown) };
}
