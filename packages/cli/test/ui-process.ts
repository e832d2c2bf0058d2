/**
 * `wakame ui` as a real child process for the dashboard tests: started from source with tsx, `--port 0 --json`,
 * resolved once its `listening` document names the address; stopped with SIGINT (the CLI's graceful stop).
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const repo = fileURLToPath(new URL('../../../', import.meta.url));
/** The CLI's entry point, run from source. */
export const main = join(repo, 'packages/cli/src/main.ts');

/** `node <args>` from the repository with tsx and the workspace's sources, stdout and stderr piped. */
export function spawnTsx(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, ['--conditions=@wakame/source', '--import', 'tsx', ...args], {
    cwd: repo,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A running `wakame ui`. */
export interface RunningUi {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly exited: Promise<number | null>;
  /** Everything it printed so far, stdout then stderr. */
  output(): string;
  /** SIGINT, then the exit code. */
  stop(): Promise<number | null>;
}

/** Runs `wakame <args>` from source and resolves with its exit code and output. */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; output: string }> {
  const child = spawnTsx([main, ...args], env);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

/** Starts `wakame ui <args> --port 0 --json`; resolves once it listens. */
export async function startUi(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<RunningUi> {
  return startCli(['ui', ...args, '--port', '0', '--json'], 'listening', env);
}

/**
 * Starts `wakame <args>` (which must include `--json`) and resolves once it prints the document whose `event` is
 * `event`, with the address that document names (`url`, `host`, `port`).
 */
export async function startCli(
  args: readonly string[],
  event: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningUi> {
  const child = spawnTsx([main, ...args], env);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const address = await new Promise<{ url: string; host: string; port: number }>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // --json prints indented documents, each closed by a `}` alone on its line.
      for (const document of stdout.split(/^\}$/m).slice(0, -1)) {
        const parsed = JSON.parse(`${document}}`) as { event?: string; url: string; host: string; port: number };
        if (parsed.event === event) resolve({ url: parsed.url, host: parsed.host, port: parsed.port });
      }
    });
    void exited.then((code) =>
      reject(new Error(`wakame ${args[0]} exited (${code}) before '${event}':\n${stdout}\n${stderr}`)),
    );
  });
  return {
    ...address,
    child,
    exited,
    output: () => `${stdout}\n${stderr}`,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      return exited;
    },
  };
}
