/**
 * The `wakame` executable as real processes: exit codes and JSON on stdout, `pnpm wakame` / `pnpm start` running
 * in the directory they are called from, and SIGTERM to `pnpm wakame worker` stopping the worker (Docker and
 * systemd stop a service that way).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AMQP_URL, brokerGate } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const main = join(repo, 'packages/cli/src/main.ts');
const priorityTasks = join(repo, 'examples/priority-tasks');
const cliVersion = (JSON.parse(readFileSync(join(repo, 'packages/cli/package.json'), 'utf8')) as { version: string })
  .version;

const children: ChildProcess[] = [];
const pidFiles: string[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  // A worker its launcher failed to stop would outlive the test run: end it.
  for (const file of pidFiles.splice(0)) {
    if (!existsSync(file)) continue;
    try {
      process.kill(Number(readFileSync(file, 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

interface Started {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves once the process has ended and every holder of its stdout/stderr closed them. */
  readonly closed: Promise<number | null>;
}

function start(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: '1', ...env } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, closed };
}

async function run(command: string, args: readonly string[], cwd = repo, env: NodeJS.ProcessEnv = {}) {
  const started = start(command, args, cwd, env);
  const code = await started.closed;
  return { code, stdout: started.stdout(), stderr: started.stderr() };
}

/** `node main.ts …`, as the tests and the built `wakame` bin run it. */
const wakame = (args: readonly string[], cwd = repo, env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, ['--conditions=@wakame/source', '--import', 'tsx', main, ...args], cwd, env);

describe('exit codes and --json of the executable', () => {
  it('exits 64 for a malformed command line, with the error on stderr', async () => {
    const r = await wakame(['frobnicate']);
    expect(r).toMatchObject({ code: 64, stdout: '' });
    expect(r.stderr).toContain("error: unknown command 'frobnicate'");
  });

  it('answers a malformed line with --json as one document on stdout', async () => {
    const r = await wakame(['plan', '--json', 'topology.yaml', '--frob']);
    expect(r.code).toBe(64);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      error: { code: 'ERR_USAGE', message: "unknown option '--frob'", hint: "run 'wakame plan --help' for its usage" },
    });
  });

  it('refuses apply --concurrency abc before changing anything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-proc-'));
    const args = ['apply', join(priorityTasks, 'topology.yaml'), '--url', `file://${dir}`, '--yes'];
    const r = await wakame([...args, '--concurrency', 'abc', '--json']);
    expect(r.code).toBe(64);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      error: { code: 'ERR_USAGE', message: expect.stringContaining('--concurrency') },
    });
    const plan = await wakame([
      'plan',
      join(priorityTasks, 'topology.yaml'),
      '--url',
      `file://${dir}`,
      '--detailed-exitcode',
    ]);
    expect(plan.code).toBe(2); // still everything to create
  });

  it('prints its version with --version and -V', async () => {
    expect(await wakame(['--version'])).toMatchObject({ code: 0, stdout: `${cliVersion}\n` });
    const r = await wakame(['-V', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, '@wakame/cli': cliVersion });
  });

  it('reports an unreachable broker in JSON with exit 1, and never the password', async () => {
    const r = await wakame(['inspect', '--json', '--url', 'amqp://guest:s3cret@127.0.0.1:1//']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'ERR_CONNECTION' } });
    expect(r.stdout + r.stderr).not.toContain('s3cret');
  });
});

const rabbit = await brokerGate('wakame inspect without the management API', { name: 'rabbitmq', url: AMQP_URL });

describe.skipIf(rabbit === 'skip')('wakame inspect on RabbitMQ whose management API is unreachable', () => {
  it('fails with exit 1 (ERR_LISTING_UNAVAILABLE), in text and in JSON', async () => {
    const args = ['inspect', '--url', AMQP_URL, '--management-url', 'http://127.0.0.1:1'];
    const text = await wakame(args);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/error \[ERR_LISTING_UNAVAILABLE\]: cannot list the queues of amqp:.*\nhint: /);
    const json = await wakame([...args, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'ERR_LISTING_UNAVAILABLE' } });
  });
});

describe('pnpm scripts run where they are called', () => {
  it('pnpm wakame resolves paths in the directory it is run in', async () => {
    const r = await run('pnpm', ['--silent', 'wakame', 'validate', 'topology.yaml'], priorityTasks);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining('topology.yaml is valid') });
  });

  it('pnpm wakame and pnpm start keep the embedded broker (./.wakame) there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-cwd-'));
    const inspect = await run('pnpm', ['--silent', '--dir', repo, 'wakame', 'inspect', '--json'], dir);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ ok: true, url: 'file://./.wakame' });
    expect(existsSync(join(dir, '.wakame'))).toBe(true);

    const other = await mkdtemp(join(tmpdir(), 'wakame-cwd-'));
    const quickstart = await run('pnpm', ['--silent', '--dir', repo, 'start', '--json', '--tasks', '2'], other);
    expect(quickstart.code, quickstart.stderr).toBe(0);
    expect(existsSync(join(other, '.wakame'))).toBe(true);
  }, 60_000);

  it('a process that merely inherits INIT_CWD (as under pnpm test) stays where it is started', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'wakame-cwd-'));
    const r = await wakame(['validate', 'examples/priority-tasks/topology.yaml'], repo, { INIT_CWD: elsewhere });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('SIGTERM to pnpm wakame worker', () => {
  it('stops the worker gracefully, and every process of it ends', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wakame-sigterm-'));
    const pidFile = join(dir, 'worker.pid');
    pidFiles.push(pidFile);
    const fixture = join(repo, 'packages/cli/test/fixtures/pid-worker.mjs');
    const worker = start('pnpm', ['wakame', 'worker', fixture, '--url', `file://${dir}/broker`, '--json'], repo, {
      WAKAME_TEST_PID: pidFile,
    });
    await new Promise<void>((resolve, reject) => {
      const ready = (): void => {
        if (worker.stdout().includes('"event": "ready"')) resolve();
      };
      worker.child.stdout?.on('data', ready);
      worker.child.on('exit', (code) => reject(new Error(`exited (${code}) before ready: ${worker.stderr()}`)));
    });
    worker.child.kill('SIGTERM');
    // 'close' waits for every holder of the stdout pipe: a worker left running after pnpm exits would hold it open.
    expect(await worker.closed, worker.stderr()).toBe(0);
    expect(worker.stdout()).toContain('"event": "stopping"');
    expect(worker.stdout()).toContain('"event": "stopped"');
  }, 30_000);
});
