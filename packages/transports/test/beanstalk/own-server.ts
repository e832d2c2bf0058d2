/**
 * A beanstalkd of a test's own (real process, loopback, a free port), for what the shared server cannot
 * be used for: a small `max-job-size`, a restart. Gated like the brokers: missing binary → fails when
 * brokers are required, else the caller skips.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { brokersRequired, probe, waitFor } from '@wakame/testkit';

const BINARY = '/usr/bin/beanstalkd';

/** Whether tests can start their own beanstalkd; throws in CI when they cannot. */
export function ownServerAvailable(suite: string): boolean {
  if (existsSync(BINARY)) return true;
  if (brokersRequired()) throw new Error(`[wakame] ${suite}: ${BINARY} is missing and brokers are required`);
  process.stderr.write(`[wakame] skipping ${suite}: ${BINARY} is missing\n`);
  return false;
}

/** A free loopback port (the OS picks one; it is released for beanstalkd to take). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A running beanstalkd; `restart()` kills it (SIGKILL) and starts it again on the same port and arguments. */
export interface OwnServer {
  readonly port: number;
  restart(): Promise<void>;
  stop(): void;
}

/** Starts beanstalkd with `args` (besides address and port) and waits until it accepts connections. */
export async function startOwnServer(args: readonly string[]): Promise<OwnServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(BINARY, ['-l', '127.0.0.1', '-p', String(port), ...args], { stdio: 'ignore' });
    await waitFor(() => probe(`beanstalk://127.0.0.1:${port}`, 500), {
      timeoutMs: 20_000,
      what: 'beanstalkd to listen',
    });
  };
  const stop = (): void => {
    child?.kill('SIGKILL');
  };
  await start();
  return {
    port,
    stop,
    restart: async () => {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      stop();
      await exited;
      await start();
    },
  };
}
