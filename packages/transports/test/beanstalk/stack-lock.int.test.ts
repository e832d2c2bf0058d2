/**
 * The apply lock on beanstalkd lapses with its holder: a real process takes it and is SIGKILLed; its
 * connections close, beanstalkd hands the lock job on, and the next taker gets the lock at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Connection, type StackLockedError } from '@wakame/core';
import { BEANSTALK_URL, brokerGate, waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./lock-holder.ts', import.meta.url));
const gate = await brokerGate('beanstalk stack lock', { name: 'beanstalk', url: BEANSTALK_URL });
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe.skipIf(gate === 'skip')('beanstalk stack lock', () => {
  it('a holder killed with SIGKILL loses the lock at once, and was named while it held it', async () => {
    const url = `${BEANSTALK_URL}?prefix=lock${randomBytes(4).toString('hex')}.`;
    const stack = 'orders';
    const child = spawn(process.execPath, ['--conditions=@wakame/source', '--import', 'tsx', CHILD], {
      cwd: repo,
      env: { ...process.env, WAKAME_URL: url, WAKAME_STACK: stack },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await waitFor(() => out.includes('locked'), { timeoutMs: 30_000, what: 'the child to hold the lock' });

    const connection = await Connection.open(url);
    try {
      const stacks = connection.admin.stacks;
      if (!stacks) throw new Error('no stack records');
      const me = { id: 'parent', description: 'the test', since: new Date().toISOString() };
      const refused = (await stacks
        .lock(stack, { holder: me, timeoutMs: 0 })
        .catch((e: unknown) => e)) as StackLockedError;
      expect(refused).toMatchObject({ code: 'ERR_LOCKED' });
      expect(refused.message).toContain(`pid ${child.pid}`);

      child.kill('SIGKILL');
      const lock = await stacks.lock(stack, { holder: me, timeoutMs: 20_000 });
      await lock.release();
    } finally {
      await connection.close();
    }
  }, 60_000);
});
