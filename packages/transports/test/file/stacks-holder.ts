/**
 * A real child process that takes a stack's lock and is then killed with SIGKILL: the crash the
 * stack stores must survive (file: pid gone / lease; Redis: lease; RabbitMQ: connection death).
 * Shared by the stack-store tests of the file, Redis and AMQP transports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

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
