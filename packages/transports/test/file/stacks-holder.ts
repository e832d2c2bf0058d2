/**
 * A real child process that takes a stack's lock and is then killed with SIGKILL: the crash the
 * stack stores must survive (file: pid gone / lease; Redis: lease; RabbitMQ: connection death).
 * Shared by the stack-store tests of the file, Redis and AMQP transports, with their small helpers
 * (what every transport's store does alike is tested by the conformance suite).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Connection, type ConnectionOptions, type LockHolder, StackLockedError } from '@wakame/core';
import type { StackStateStore } from '@wakame/core/spi';
import { expect } from 'vitest';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));

/** Runs in the child (an ES module): connect, lock, say so, then wait to be killed. */
const SCRIPT = `
import { Connection } from '@wakame/core';
const connection = await Connection.open(process.env.WAKAME_STACK_URL);
const holder = {
  id: 'child-' + process.pid,
  description: 'stack test child (pid ' + process.pid + ')',
  since: new Date().toISOString(),
};
await connection.admin.stacks.lock(process.env.WAKAME_STACK, { holder, timeoutMs: 0 });
process.stdout.write('locked\\n');
setInterval(() => {}, 60_000);
`;

/** A child holding a lock. */
export interface LockingChild {
  readonly child: ChildProcess;
  /** The holder description the child recorded. */
  readonly description: string;
  /** SIGKILLs the child and resolves once it has exited (and been reaped: its pid is gone). */
  kill(): Promise<void>;
}

/** How long the child may take to start (tsx compiles the sources) and take the lock. */
const START_TIMEOUT_MS = 25_000;

/** Starts a child that locks `stack` on `url`; resolves once it printed "locked". */
export async function lockInChild(url: string, stack: string): Promise<LockingChild> {
  const child = spawn(
    process.execPath,
    ['--conditions=@wakame/source', '--import', 'tsx', '--input-type=module', '-e', SCRIPT],
    { cwd: repo, env: { ...process.env, WAKAME_STACK_URL: url, WAKAME_STACK: stack }, stdio: 'pipe' },
  );
  const exited = once(child, 'exit');
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(
        () => reject(new Error(`the child did not lock in ${START_TIMEOUT_MS} ms; stderr: ${stderr}`)),
        START_TIMEOUT_MS,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('locked\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the child exited (${code ?? signal}) before locking; stderr: ${stderr}`));
      });
    });
  } catch (error) {
    await kill();
    throw error;
  }
  return { child, description: `stack test child (pid ${child.pid})`, kill };
}

/** Opens a connection to `url` (pushed onto `open`, for the test to close) and returns its stack store. */
export async function openStacks(
  url: string,
  open: Connection[],
  options: ConnectionOptions = {},
): Promise<StackStateStore> {
  const connection = await Connection.open(url, options);
  open.push(connection);
  const stacks = connection.admin.stacks;
  if (!stacks) throw new Error(`the transport of ${url} has no stack store`);
  return stacks;
}

/** A fresh lock holder. */
export function holder(description: string): LockHolder {
  return { id: randomUUID(), description, since: new Date().toISOString() };
}

/** Resolves with what `promise` rejects with; fails the test when it resolves. */
export function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

/**
 * The crash test every store must pass: a child locks `stack`, the parent is refused (the child named as the
 * holder), the child is SIGKILLed, and the parent then gets the lock within `timeoutMs` (0: at once).
 */
export async function expectCrashedHolderLapses(
  url: string,
  stack: string,
  stacks: StackStateStore,
  children: LockingChild[],
  timeoutMs: number,
): Promise<void> {
  const child = await lockInChild(url, stack);
  children.push(child);
  const error = await rejection(stacks.lock(stack, { holder: holder('parent'), timeoutMs: 0 }));
  expect(error).toBeInstanceOf(StackLockedError);
  expect((error as StackLockedError).message).toContain(child.description);
  await child.kill();
  const lock = await stacks.lock(stack, { holder: holder('parent'), timeoutMs });
  await lock.release();
}
