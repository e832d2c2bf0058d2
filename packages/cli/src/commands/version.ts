/**
 * `wakame version`: which Wakame packages (and Node.js) are in use, e.g. for bug reports.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandContext } from '../context.js';

/** What `wakame version --json` prints. */
export interface VersionInfo {
  readonly '@wakame/cli': string;
  readonly '@wakame/core': string;
  readonly node: string;
}

// Same relative position in src/commands and dist/commands, so this holds from source and when built.
const cliRoot = fileURLToPath(new URL('../../', import.meta.url));

async function readVersion(packageJson: string): Promise<string> {
  const manifest = JSON.parse(await readFile(packageJson, 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

/**
 * Finds the package.json of `@wakame/core` the way Node finds packages: in `node_modules` of the CLI package or of
 * an ancestor. Resolving the module itself would not do: core exports no `./package.json`, and its entry point
 * differs between source and build.
 */
function findCoreManifest(): string | undefined {
  for (let dir = cliRoot; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', '@wakame', 'core', 'package.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Collects the versions shown by `wakame version`. */
export async function versionInfo(): Promise<VersionInfo> {
  const coreManifest = findCoreManifest();
  return {
    '@wakame/cli': await readVersion(join(cliRoot, 'package.json')),
    '@wakame/core': coreManifest === undefined ? 'not installed' : await readVersion(coreManifest),
    node: process.version,
  };
}

/** Prints the versions: a table, only the CLI version with `--quiet`, or an object with `--json`. */
export async function version(ctx: CommandContext): Promise<void> {
  const info = await versionInfo();
  if (ctx.jsonMode) {
    ctx.json(info);
    return;
  }
  if (ctx.quiet) {
    ctx.out(info['@wakame/cli']);
    return;
  }
  const entries = Object.entries(info);
  const width = Math.max(...entries.map(([name]) => name.length));
  for (const [name, value] of entries) ctx.out(`${name.padEnd(width)}  ${value}`);
}
