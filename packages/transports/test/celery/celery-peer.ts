/**
 * The Python side of the Celery interop tests: a real Celery 5 worker (`celery worker -P solo` on
 * `celery_peer.py`) started per suite, and Python clients (`celery_peer.py <command>`) that send tasks
 * to Wakame's worker and print what `AsyncResult.get()` returned. Missing Python or Celery fails the
 * suite when brokers are required (CI), as the kombu interop suites do.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokersRequired } from '@wakame/testkit';
import { PYTHON } from '../kombu-common/peer.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PEER = `${HERE}/celery_peer.py`;
export const CELERY_HOOK_TIMEOUT_MS = 180_000;
/** Generous: the machine is shared, and each Python client starts an interpreter. */
export const CELERY_TEST_TIMEOUT_MS = 120_000;

/** What the Python side is configured with. */
export interface CeleryPeerEnv {
  readonly broker: string;
  readonly backend: string;
  /** Start of this run's queue names. */
  readonly prefix: string;
  /** Redis only: kombu's global_keyprefix. */
  readonly keyprefix?: string;
}

function envOf(peer: CeleryPeerEnv): NodeJS.ProcessEnv {
  // The system interpreter must not pick up a pyenv/virtualenv's modules.
  const { PYTHONPATH: _path, PYTHONHOME: _home, ...env } = process.env;
  return {
    ...env,
    PYTHONPATH: HERE,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONIOENCODING: 'utf-8',
    CELERY_BROKER: peer.broker,
    CELERY_BACKEND: peer.backend,
    PEER_PREFIX: peer.prefix,
    ...(peer.keyprefix ? { CELERY_KEYPREFIX: peer.keyprefix } : {}),
  };
}

function run(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL', cwd: HERE }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${args.join(' ')} failed: ${stderr.trim().split('\n').at(-1) ?? error.message}`));
      else resolve(stdout);
    });
  });
}

/** Whether Python with Celery is there; in CI its absence is an error, elsewhere a skip with a notice. */
export async function celeryGate(suite: string): Promise<'run' | 'skip'> {
  try {
    await run([PEER, 'probe'], envOf({ broker: 'memory://', backend: '', prefix: 'probe' }), 60_000);
    return 'run';
  } catch (error) {
    const why = `Python Celery not usable (${PYTHON}): ${(error as Error).message}`;
    if (brokersRequired()) throw new Error(`[wakame] ${suite}: ${why}; install python3-celery`);
    process.stderr.write(`[wakame] skipping ${suite}: ${why}\n`);
    return 'skip';
  }
}

/** Runs a Python client command; resolves with the JSON it printed. */
export async function pythonClient<T = Record<string, unknown>>(
  peer: CeleryPeerEnv,
  command: string,
  argument: unknown = {},
): Promise<T> {
  const stdout = await run([PEER, command, JSON.stringify(argument)], envOf(peer), CELERY_TEST_TIMEOUT_MS);
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T;
}

/** A running Celery worker; `stop()` kills it and waits for it to exit. */
export interface CeleryWorkerProcess {
  readonly log: () => string;
  stop(): Promise<void>;
}

/** Starts `celery worker` on `queues` and resolves once it logs that it is ready. */
export function startCeleryWorker(peer: CeleryPeerEnv, queues: readonly string[]): Promise<CeleryWorkerProcess> {
  const args = ['-m', 'celery', '-A', 'celery_peer', 'worker', '-P', 'solo', '--without-heartbeat'];
  args.push('--without-gossip', '--without-mingle', '-l', 'info', '-n', `${peer.prefix}@%h`, '-Q', queues.join(','));
  const child: ChildProcess = spawn(PYTHON, args, { env: envOf(peer), cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: CeleryWorkerProcess = {
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (/ ready\.\s*$/m.test(log)) resolve(handle);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`celery worker exited (${code}) before ready: ${log.slice(-2000)}`)));
    child.once('error', reject);
  });
}

/** A long-running Python client: `ready` once it printed `readyLine` on stderr, `output` its JSON at exit. */
export interface PythonListener<T> {
  readonly ready: Promise<void>;
  readonly output: Promise<T>;
  stop(): Promise<void>;
}

/** Starts `celery_peer.py <command>` in the background (e.g. the event receiver). */
export function startPythonListener<T>(
  peer: CeleryPeerEnv,
  command: string,
  argument: unknown,
  readyLine: string,
): PythonListener<T> {
  const child = spawn(PYTHON, [PEER, command, JSON.stringify(argument)], { env: envOf(peer), cwd: HERE });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (stderr.includes(readyLine)) resolve();
    });
    void exited.then(() => reject(new Error(`${command} exited before '${readyLine}': ${stderr.slice(-1000)}`)));
  });
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  const output = exited.then((code) => {
    if (code !== 0) throw new Error(`${command} exited with ${code}: ${stderr.slice(-1000)}`);
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T;
  });
  // Whoever awaits only one of them must not leave the other as an unhandled rejection.
  ready.catch(() => undefined);
  output.catch(() => undefined);
  return {
    ready,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
