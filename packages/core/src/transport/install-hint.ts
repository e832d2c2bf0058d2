/**
 * What to tell a user whose transport could not be loaded: which packages to install, with the
 * package manager they are using.
 *
 * @module
 */

/** The broker client each scheme of `@wakame/transports` needs beside it (its optional peer dependency). */
const DRIVERS: Readonly<Record<string, string>> = {
  amqp: 'amqplib',
  amqps: 'amqplib',
  redis: 'ioredis',
  rediss: 'ioredis',
  postgres: 'pg',
  postgresql: 'pg',
  mysql: 'mysql2',
  mariadb: 'mysql2',
  zookeeper: 'node-zookeeper-client',
};

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/**
 * The packages that provide `moduleName` for `scheme`: its package, plus the broker client when that
 * package is `@wakame/transports` itself (installed without it, the client is missing too), e.g.
 * `('redis', '@wakame/transports/redis')` → `['@wakame/transports', 'ioredis']`.
 */
export function packagesToInstall(scheme: string, moduleName: string): string[] {
  const name = packageOf(moduleName);
  const driver = DRIVERS[scheme];
  return name === '@wakame/transports' && driver !== undefined ? [name, driver] : [name];
}

/**
 * The command that adds `packages` with the package manager that started this process, read from
 * `npm_config_user_agent` (set by npm, npx, pnpm, yarn and bun for the scripts and binaries they run:
 * `pnpm/10.0.0 npm/? node/v20.11.0 linux x64`); `npm install` when there is none (plain `node`).
 */
export function installCommand(
  packages: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const manager = /^([a-z]+)\//.exec(env.npm_config_user_agent ?? '')?.[1];
  const add = manager === 'pnpm' || manager === 'yarn' || manager === 'bun' ? `${manager} add` : 'npm install';
  return `${add} ${packages.join(' ')}`;
}

/** What {@link TransportNotInstalledError} tells the user to install for `scheme`'s `moduleName`. */
export function installHint(
  scheme: string,
  moduleName: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { readonly packages: readonly string[]; readonly installCommand: string } {
  const packages = packagesToInstall(scheme, moduleName);
  return { packages, installCommand: installCommand(packages, env) };
}
