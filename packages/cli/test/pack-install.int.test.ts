/**
 * The packages as an npm user gets them. Builds the workspace (`pnpm build`), packs every publishable package with
 * `pnpm pack` (which turns `workspace:` ranges into versions), installs the tarballs with npm into a fresh directory
 * outside the workspace (third-party dependencies come from the registry, or npm's cache), and runs the installed
 * `npx wakame` there on the embedded `file://` broker: no `@wakame/source` condition, no workspace links, no
 * repository files around.
 *
 * Nothing it builds outlives it: build output that did not exist before (`dist/`, `*.tsbuildinfo`, the CLI's
 * `assets/`, core's `schema/`) is removed afterwards, and the temporary directory too. Other tests never read `dist/`
 * (they resolve the sources through the `@wakame/source` condition), so building in place while they run is harmless.
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const PUBLISHED = ['core', 'transports', 'cli'] as const;
type Published = (typeof PUBLISHED)[number];
/** Everything `pnpm build` (and the CLI's prepack) may create in the workspace. */
const BUILD_OUTPUTS = [
  ...['core', 'transports', 'testkit', 'cli'].flatMap((p) => [
    `packages/${p}/dist`,
    `packages/${p}/tsconfig.build.tsbuildinfo`,
  ]),
  'packages/cli/assets',
  'packages/core/schema',
];
/** The whole setup (build, pack, install) must finish within this. */
const SETUP_LIMIT_MS = 300_000;

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion, killed after `timeoutMs`. */
function run(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { readonly timeoutMs: number },
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[test] killed after ${options.timeoutMs} ms`;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Fails with the command's output when it did not exit 0. */
function succeeded(what: string, result: Result): Result {
  if (result.code !== 0)
    throw new Error(`${what} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  return result;
}

/**
 * The environment of a user's shell: none of what pnpm, Vitest or this repository set for the test run (the
 * `@wakame/source` condition in NODE_OPTIONS, pnpm's user agent, npm lifecycle variables, WAKAME_URL, …). npm's
 * network settings stay, for machines that reach the registry through a mirror or a proxy.
 */
function userEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['registry', 'cache', 'userconfig', 'proxy', 'https_proxy', 'noproxy', 'cafile', 'strict_ssl']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const npmConfig = /^npm_config_(.*)$/i.exec(key)?.[1]?.toLowerCase();
    if (npmConfig !== undefined ? !keep.has(npmConfig) : /^(npm_|pnpm_|VITEST|WAKAME_)/i.test(key)) continue;
    // NODE_PATH too: pnpm's bin shims (vitest's) point it at the workspace's hoisted packages, @wakame/* among them.
    if (key === 'NODE_OPTIONS' || key === 'NODE_PATH' || key === 'INIT_CWD' || key === 'NODE_ENV') continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1' };
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
}

/** The module specifiers a built file imports or re-exports: static, dynamic, `require`, `import('…')` types. */
function specifiers(code: string): string[] {
  return ts.preProcessFile(code, true, true).importedFiles.map((f) => f.fileName);
}

const packed = new Map<Published, { readonly tarball: string; readonly files: readonly string[] }>();
let work = '';
let app = '';
let createdOutputs: string[] = [];
const timings: Record<string, number> = {};

async function timed<T>(phase: string, step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await step();
  } finally {
    timings[phase] = Math.round(performance.now() - started);
  }
}

/** `npx wakame …` in the fresh directory, as a user runs it. */
const wakame = (args: readonly string[], timeoutMs = 60_000): Promise<Result> =>
  run('npx', ['--no', '--', 'wakame', ...args], { cwd: app, env: userEnv(), timeoutMs });

beforeAll(async () => {
  createdOutputs = BUILD_OUTPUTS.filter((p) => !existsSync(join(repo, p)));
  work = await mkdtemp(join(tmpdir(), 'wakame-pack-'));
  const tarballs = join(work, 'tarballs');
  app = join(work, 'app');
  await mkdir(tarballs);
  await mkdir(app);

  await timed('build', async () =>
    succeeded('pnpm build', await run('pnpm', ['build'], { cwd: repo, env: userEnv(), timeoutMs: 180_000 })),
  );
  await timed('pack', async () => {
    for (const name of PUBLISHED) {
      const result = await run('pnpm', ['pack', '--pack-destination', tarballs, '--json'], {
        cwd: join(repo, 'packages', name),
        env: userEnv(),
        timeoutMs: 60_000,
      });
      succeeded(`pnpm pack (${name})`, result);
      // The prepack script may print before the JSON document.
      const { filename } = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as { filename: string };
      // What the tarball holds (pnpm's report leaves out the LICENSE it adds from the workspace root).
      const listing = succeeded('tar', await run('tar', ['-tzf', filename], { timeoutMs: 30_000 }));
      const files = listing.stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.replace(/^package\//, ''));
      packed.set(name, { tarball: filename, files });
    }
  });

  await writeFile(
    join(app, 'package.json'),
    `${JSON.stringify({ name: 'wakame-pack-test', private: true, type: 'module' }, null, 2)}\n`,
  );
  await timed('npm install', async () => {
    const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
    const tarballPaths = PUBLISHED.map((name) => packed.get(name)?.tarball ?? '');
    succeeded(
      'npm install',
      await run('npm', [...args, ...tarballPaths], { cwd: app, env: userEnv(), timeoutMs: 240_000 }),
    );
  });
}, SETUP_LIMIT_MS);

afterAll(async () => {
  process.stderr.write(`[wakame] pack-and-install timings (ms): ${JSON.stringify(timings)}\n`);
  if (work !== '') await rm(work, { recursive: true, force: true });
  for (const output of createdOutputs) await rm(join(repo, output), { recursive: true, force: true });
}, 60_000);

describe('the packed packages', () => {
  it('hold their build, README and manifest, and no sources', () => {
    for (const name of PUBLISHED) {
      const files = packed.get(name)?.files ?? [];
      for (const file of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts'])
        expect(files, `${name}: ${file}`).toContain(file);
      expect(
        files.filter((f) => f.startsWith('src/') || f.endsWith('.tsbuildinfo') || f.endsWith('.d.ts.map')),
        name,
      ).toEqual([]);
    }
    expect(packed.get('core')?.files).toContain('schema/topology.schema.json');
    // The build's copy of the schema (git ignores it) is the repository's source of truth.
    expect(readFileSync(join(app, 'node_modules/@wakame/core/schema/topology.schema.json'), 'utf8')).toBe(
      readFileSync(join(repo, 'schemas/topology.schema.json'), 'utf8'),
    );
    expect(packed.get('cli')?.files).toEqual(
      expect.arrayContaining(['bin.js', 'dist/main.js', 'assets/priority-tasks/topology.yaml']),
    );
    // The build's copy is the example itself.
    expect(readFileSync(join(app, 'node_modules/@wakame/cli/assets/priority-tasks/topology.yaml'), 'utf8')).toBe(
      readFileSync(join(repo, 'examples/priority-tasks/topology.yaml'), 'utf8'),
    );
  });

  it("ship the Redis transport's Lua scripts where its built module reads them (tsc does not copy them)", async () => {
    const sources = readdirSync(join(repo, 'packages/transports/src/redis/lua')).filter((f) => f.endsWith('.lua'));
    expect(sources.length).toBeGreaterThan(0);
    expect(packed.get('transports')?.files).toEqual(expect.arrayContaining(sources.map((f) => `dist/redis/lua/${f}`)));
    // The installed dist/redis/lua.js resolves them relative to itself, as the transport does at load.
    const loader = join(app, 'node_modules/@wakame/transports/dist/redis/lua.js');
    const read = [
      `const { loadLua } = await import(${JSON.stringify(pathToFileURL(loader).href)});`,
      `for (const f of ${JSON.stringify(sources)}) console.log(JSON.stringify([f, loadLua(f.slice(0, -4))]));`,
    ].join('\n');
    const r = succeeded(
      'loadLua',
      await run(process.execPath, ['--input-type=module', '-e', read], { cwd: app, env: userEnv(), timeoutMs: 30_000 }),
    );
    const loaded = new Map(
      r.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as [string, string]),
    );
    for (const f of sources)
      expect(loaded.get(f), f).toBe(readFileSync(join(repo, 'packages/transports/src/redis/lua', f), 'utf8'));
  }, 60_000);

  it("ship the dashboard's page (ui/) where its built server reads it", async () => {
    // The installed dist/dashboard/http.js names the folder and the files it serves (wakame ui).
    const server = join(app, 'node_modules/@wakame/cli/dist/dashboard/http.js');
    const read = `const { UI_DIR, UI_FILES } = await import(${JSON.stringify(pathToFileURL(server).href)}); console.log(JSON.stringify({ UI_DIR, UI_FILES }));`;
    const r = succeeded(
      'dashboard files',
      await run(process.execPath, ['--input-type=module', '-e', read], { cwd: app, env: userEnv(), timeoutMs: 30_000 }),
    );
    const { UI_DIR, UI_FILES } = JSON.parse(r.stdout) as { UI_DIR: string; UI_FILES: string[] };
    expect(UI_FILES).toContain('index.html');
    expect(packed.get('cli')?.files).toEqual(expect.arrayContaining(UI_FILES.map((f) => `ui/${f}`)));
    for (const f of UI_FILES)
      expect(readFileSync(join(UI_DIR, f), 'utf8'), f).toBe(readFileSync(join(repo, 'packages/cli/ui', f), 'utf8'));
  }, 60_000);

  it('have publishable manifests: versions for workspace ranges, repository, public access, engines', () => {
    for (const name of PUBLISHED) {
      const text = readFileSync(join(app, 'node_modules/@wakame', name, 'package.json'), 'utf8');
      expect(text, name).not.toContain('workspace:');
      const manifest = JSON.parse(text) as Record<string, unknown>;
      expect(manifest, name).toMatchObject({
        repository: { type: 'git', directory: `packages/${name}` },
        publishConfig: { access: 'public' },
        engines: { node: expect.any(String) },
        license: 'MIT',
      });
    }
  });

  it('resolve every export to files they ship, without the @wakame/source condition', () => {
    for (const name of PUBLISHED) {
      const root = join(app, 'node_modules/@wakame', name);
      const { exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
        exports: Record<string, string | Record<string, string>>;
      };
      for (const [subpath, target] of Object.entries(exports)) {
        const targets = typeof target === 'string' ? { default: target } : target;
        for (const [condition, file] of Object.entries(targets)) {
          // The workspace's own condition points at sources, which are not published.
          if (condition === '@wakame/source') continue;
          expect(existsSync(join(root, file)), `${name} ${subpath} ${condition}: ${file}`).toBe(true);
        }
      }
    }
  });

  it('import nothing from a src/ path, and every relative import is a shipped file', () => {
    const problems: string[] = [];
    for (const name of PUBLISHED) {
      const dist = join(app, 'node_modules/@wakame', name, 'dist');
      for (const file of filesUnder(dist).filter((f) => /\.(?:js|d\.ts)$/.test(f))) {
        for (const specifier of specifiers(readFileSync(join(dist, file), 'utf8'))) {
          if (/(?:^|\/)src\//.test(specifier) || specifier.endsWith('.ts'))
            problems.push(`${name}/${file}: ${specifier}`);
          if (specifier.startsWith('.') && !existsSync(join(dist, file, '..', specifier)))
            problems.push(`${name}/${file}: ${specifier} (missing)`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("run core's README example as a program of the user's", async () => {
    const readme = readFileSync(join(repo, 'packages/core/README.md'), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    await writeFile(join(app, 'readme-example.ts'), example ?? '');
    const resolved = `for (const s of ['@wakame/core', '@wakame/core/spi', '@wakame/transports/amqp', '@wakame/cli']) console.log(s, import.meta.resolve(s));`;
    const r = succeeded(
      'the README example',
      await run(process.execPath, ['--import', 'tsx', 'readme-example.ts'], {
        cwd: app,
        env: userEnv(),
        timeoutMs: 30_000,
      }),
    );
    expect(r.stdout).toContain("{ hello: 'world' }");
    const where = succeeded(
      'import.meta.resolve',
      await run(process.execPath, ['--input-type=module', '-e', resolved], {
        cwd: app,
        env: userEnv(),
        timeoutMs: 30_000,
      }),
    );
    for (const line of where.stdout.trim().split('\n')) {
      const [, url = ''] = line.split(' ');
      expect(relative(app, fileURLToPath(url)), line).toMatch(/^node_modules\/@wakame\/[a-z]+\/dist\/[a-z/]+\.js$/);
    }
  }, 60_000);
});

describe('npx wakame, installed from the tarballs', () => {
  const topology = [
    'version: 1',
    'exchanges:',
    '  - { name: market, type: topic }',
    'queues:',
    '  - name: stocks',
    '    bindings: [{ exchange: market, routingKey: "*.stock.#" }]',
    '  - name: everything',
    '    bindings: [{ exchange: market, routingKey: "#" }]',
    '',
  ].join('\n');
  const tsTopology = [
    "import { defineTopology } from '@wakame/core';",
    '',
    'export default defineTopology({',
    '  version: 1,',
    "  exchanges: [{ name: 'orders', type: 'topic' }],",
    "  queues: [{ name: 'orders.created', bindings: [{ exchange: 'orders', routingKey: 'order.created' }] }],",
    '});',
    '',
  ].join('\n');

  it('prints its version', async () => {
    const versionOf = (name: Published): string =>
      (JSON.parse(readFileSync(join(repo, 'packages', name, 'package.json'), 'utf8')) as { version: string }).version;
    const r = await wakame(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `${versionOf('cli')}\n` });
    const all = await wakame(['version', '--json']);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toMatchObject({
      '@wakame/cli': versionOf('cli'),
      '@wakame/core': versionOf('core'),
    });
  }, 60_000);

  it('validates a YAML and a TypeScript topology (tsx comes with the CLI)', async () => {
    await writeFile(join(app, 'topology.yaml'), topology);
    await writeFile(join(app, 'topology.ts'), tsTopology);
    const yaml = await wakame(['validate', 'topology.yaml']);
    expect(yaml, yaml.stderr).toMatchObject({ code: 0 });
    expect(yaml.stdout).toContain('topology.yaml is valid: 1 exchange, 2 queues, 2 bindings, 0 tasks');
    const ts = await wakame(['validate', 'topology.ts']);
    expect(ts, ts.stderr).toMatchObject({ code: 0 });
    expect(ts.stdout).toContain('topology.ts is valid: 1 exchange, 1 queue, 1 binding, 0 tasks');
    const broken = await wakame(['validate', 'missing.yaml']);
    expect(broken.code).toBe(1);
  }, 60_000);

  it('plans and applies on the embedded broker, then has nothing left to do', async () => {
    await writeFile(join(app, 'topology.yaml'), topology);
    const url = 'file://./broker';
    const plan = await wakame(['plan', 'topology.yaml', '--url', url]);
    expect(plan, plan.stderr).toMatchObject({ code: 0 });
    expect(plan.stdout).toContain('+ exchange market (topic, durable)');
    expect(plan.stdout).toContain('Plan: 5 to create');
    const apply = await wakame(['apply', 'topology.yaml', '--url', url, '--yes']);
    expect(apply, apply.stderr).toMatchObject({ code: 0 });
    expect(apply.stdout).toContain('Applied 5 change(s)');
    expect(existsSync(join(app, 'broker'))).toBe(true);
    const again = await wakame(['plan', 'topology.yaml', '--url', url, '--detailed-exitcode']);
    expect(again, again.stderr).toMatchObject({ code: 0 });
    expect(again.stdout).toContain('No changes');
  }, 60_000);

  it('runs the quickstart from the topology it ships', async () => {
    const r = await wakame(['quickstart', '--url', 'file://./quickstart', '--tasks', '5', '--json'], 120_000);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      processed: 15,
      inPriorityOrder: true,
      namespaced: false,
      queues: ['hipri', 'midpri', 'lopri'],
    });
  }, 120_000);

  it("finds its transports itself where core cannot see @wakame/transports (pnpm's strict layout)", async () => {
    // Only the CLI can reach @wakame/transports now: neither core's location nor the working directory can.
    const hoisted = join(app, 'node_modules/@wakame/transports');
    const nested = join(app, 'node_modules/@wakame/cli/node_modules/@wakame/transports');
    await mkdir(join(nested, '..'), { recursive: true });
    await rename(hoisted, nested);
    try {
      const open = [
        "const { Connection } = await import('@wakame/core');",
        "try { await Connection.open('file://./strict'); console.log('opened'); }",
        'catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }',
      ].join('\n');
      const core = succeeded(
        'core alone',
        await run(process.execPath, ['--input-type=module', '-e', open], {
          cwd: app,
          env: userEnv(),
          timeoutMs: 30_000,
        }),
      );
      const failure = JSON.parse(core.stdout) as { code: string; message: string };
      expect(failure.code).toBe('ERR_TRANSPORT_NOT_INSTALLED');
      // No package manager started that process: the hint is npm's.
      expect(failure.message).toMatch(/; install it: npm install @wakame\/transports$/);

      await writeFile(join(app, 'topology.yaml'), topology);
      const apply = await wakame(['apply', 'topology.yaml', '--url', 'file://./strict', '--yes']);
      expect(apply, apply.stderr).toMatchObject({ code: 0 });
      expect(apply.stdout).toContain('Applied 5 change(s)');
    } finally {
      await rename(nested, hoisted);
    }
  }, 60_000);
});
