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
