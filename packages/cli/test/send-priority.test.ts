import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { execute } from '../src/run.js';
import { appliedBroker, takeMessage } from './applied-broker.js';
import { capture } from './capture.js';

const topology = join(fileURLToPath(new URL('../../../examples/', import.meta.url)), 'priority-tasks', 'topology.yaml');

const applied = () => appliedBroker(topology);
const take = takeMessage;

async function send(url: string, args: readonly string[], json = false) {
  const c = capture({ jsonMode: json });
  const argv = ['send', 'report.generate', '{"reportId":"r1"}', '--topology', topology, '--url', url, ...args];
  await runCli(c.ctx, json ? [...argv, '--json'] : argv);
  return c;
}

describe('wakame send --priority on priority classes', () => {
  it('--priority 5 on a task of class low goes to the class whose range holds 5 (mid), at priority 5', async () => {
    const { url, keeper } = await applied();
    try {
      const c = await send(url, ['--priority', '5']);
      expect(c.out).toEqual([
        expect.stringMatching(/^sent report\.generate \(id [\w-]+\) to class 'mid' at priority 5$/),
      ]);
      const message = await take(keeper, 'midpri');
      expect(message.properties.priority).toBe(5);
      expect(message.payload).toEqual({ reportId: 'r1' });
      for (const q of ['hipri', 'lopri']) expect(await keeper.getMessage(q)).toBeUndefined();
    } finally {
      await keeper.close();
    }
  });

  it('--priority high --message-priority 9 reaches hipri with priority 9 (and says so with --json)', async () => {
    const { url, keeper } = await applied();
    try {
      const c = await send(url, ['--priority', 'high', '--message-priority', '9'], true);
      expect(c.json).toEqual([
        { task: 'report.generate', id: expect.any(String), priorityClass: 'high', messagePriority: 9 },
      ]);
      expect((await take(keeper, 'hipri')).properties.priority).toBe(9);
      // Without a class, the message priority orders within the task's own class.
      await send(url, ['--message-priority', '3']);
      expect((await take(keeper, 'lopri')).properties.priority).toBe(3);
    } finally {
      await keeper.close();
    }
  });

  it('--message-priority is range-checked; a number that disagrees with it says what to write', async () => {
    const usage = capture();
    expect(await execute(usage.ctx, ['send', 't', '{}', '--message-priority', '256'])).toBe(64);
    expect(usage.err[0]).toMatch(/^error: --message-priority takes an integer from 0 to 255, not '256'/);
    const { url, keeper } = await applied();
    try {
      const c = capture();
      const argv = ['send', 'report.generate', '{"reportId":"r1"}', '--topology', topology, '--url', url];
      expect(await execute(c.ctx, [...argv, '--priority', '5', '--message-priority', '9'])).toBe(1);
      expect(c.err.join('\n')).toContain('name the class (high, mid, low) as the priority, with message priority 9');
    } finally {
      await keeper.close();
    }
  });
});
