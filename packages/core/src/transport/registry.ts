/**
 * Maps URL schemes to transport factories, loading each transport's module only when a URL with
 * its scheme is first used. That keeps `@wakame/core` free of broker drivers: an application that
 * only uses `redis://` never loads (or needs to install) the AMQP client.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, TransportNotInstalledError, UnknownTransportError } from '../errors.js';
import { installHint } from './install-hint.js';
import type { TransportFactory } from './spi.js';

/** Loads a transport factory on first use, typically with a dynamic `import()`. */
export type TransportLoader = () => Promise<TransportFactory>;

/**
 * The transports that live outside core, as `[scheme, moduleName, exportName]`, for
 * {@link createDefaultRegistry} (core's own `memory` transport is passed in as a builtin).
 */
export const DEFAULT_TRANSPORT_MODULES: readonly (readonly [scheme: string, moduleName: string, exportName: string])[] =
  Object.freeze([
    Object.freeze(['amqp', '@wakame/transports/amqp', 'amqpTransport'] as const),
    Object.freeze(['amqps', '@wakame/transports/amqp', 'amqpTransport'] as const),
    Object.freeze(['redis', '@wakame/transports/redis', 'redisTransport'] as const),
    Object.freeze(['rediss', '@wakame/transports/redis', 'redisTransport'] as const),
    Object.freeze(['file', '@wakame/transports/file', 'fileTransport'] as const),
    Object.freeze(['postgres', '@wakame/transports/postgres', 'postgresTransport'] as const),
    Object.freeze(['postgresql', '@wakame/transports/postgres', 'postgresTransport'] as const),
    Object.freeze(['mysql', '@wakame/transports/mysql', 'mysqlTransport'] as const),
    Object.freeze(['mariadb', '@wakame/transports/mysql', 'mysqlTransport'] as const),
    Object.freeze(['zookeeper', '@wakame/transports/zookeeper', 'zookeeperTransport'] as const),
    Object.freeze(['beanstalk', '@wakame/transports/beanstalk', 'beanstalkTransport'] as const),
  ]);

const SCHEME_RE = /^[a-z][a-z0-9+.-]*$/;
/** Node's codes for "that module is not there" (as opposed to "it is there and threw"). */
const NOT_FOUND_CODES: ReadonlySet<string> = new Set(['ERR_MODULE_NOT_FOUND', 'ERR_PACKAGE_PATH_NOT_EXPORTED']);
// Vite's module runner (vitest) reports an unexported subpath or a missing file without a code.
const CODELESS_NOT_FOUND_RE =
  /is not exported under the conditions|^Failed to load url |^Cannot find (?:module|package) /;

/**
 * A scheme → transport registry. Loaders run at most once per scheme while they succeed; a failed
 * load is forgotten, so installing the missing package and retrying works without a restart.
 */
export class TransportRegistry {
  readonly #loaders = new Map<string, TransportLoader>();
  readonly #loaded = new Map<string, Promise<TransportFactory>>();

  /** @param entries - Initial `[scheme, loader]` pairs; later pairs replace earlier ones. */
  constructor(entries?: Iterable<readonly [scheme: string, loader: TransportLoader]>) {
    for (const [scheme, loader] of entries ?? []) this.register(scheme, loader);
  }

  /**
   * Registers (or replaces) the transport for `scheme` (case-insensitive, without the colon).
   *
   * A function that declares no parameters is taken as a {@link TransportLoader}; one that declares
   * parameters (`(url, options) => …`) as a {@link TransportFactory} and wrapped in a loader. A
   * factory that declares none must be wrapped by the caller: `register('x', async () => factory)`.
   *
   * @throws {@link InvalidArgumentError} for a malformed scheme or a non-function.
   */
  register(scheme: string, loader: TransportLoader | TransportFactory): this {
    const key = normaliseScheme(scheme, true);
    if (typeof loader !== 'function') {
      throw new InvalidArgumentError(`the transport for scheme '${key}' must be a loader or a factory function`);
    }
    const asLoader: TransportLoader =
      loader.length === 0 ? (loader as TransportLoader) : () => Promise.resolve(loader as TransportFactory);
    this.#loaders.set(key, asLoader);
    this.#loaded.delete(key);
    return this;
  }

  /** Removes the transport for `scheme`; unknown schemes are ignored. */
  unregister(scheme: string): void {
    const key = normaliseScheme(scheme, false);
    this.#loaders.delete(key);
    this.#loaded.delete(key);
  }

  /** True when a transport is registered for `scheme` (whether or not its module is installed). */
  has(scheme: string): boolean {
    return this.#loaders.has(normaliseScheme(scheme, false));
  }

  /** The registered schemes, sorted. */
  schemes(): string[] {
    return [...this.#loaders.keys()].sort();
  }

  /**
   * The factory for `scheme`, loading its module on first use. Concurrent calls share one load.
   *
   * @throws {@link UnknownTransportError} when nothing is registered for `scheme` (lists the known ones).
   * @throws {@link TransportNotInstalledError} when the loader's module cannot be found.
   * @throws {@link InvalidArgumentError} when the loader resolves to something that is not a function.
   */
  async resolve(scheme: string): Promise<TransportFactory> {
    const key = normaliseScheme(scheme, false);
    const loader = this.#loaders.get(key);
    if (!loader) throw new UnknownTransportError(key, this.schemes());
    let pending = this.#loaded.get(key);
    if (!pending) {
      const attempt = load(key, loader);
      pending = attempt;
      this.#loaded.set(key, attempt);
      // Forget failures (only if still current) so a later call loads again.
      attempt.catch(() => {
        if (this.#loaded.get(key) === attempt) this.#loaded.delete(key);
      });
    }
    return pending;
  }

  /** An independent copy: registering on the copy leaves this registry unchanged. */
  clone(): TransportRegistry {
    const copy = new TransportRegistry();
    for (const [scheme, loader] of this.#loaders) copy.#loaders.set(scheme, loader);
    for (const [scheme, pending] of this.#loaded) copy.#loaded.set(scheme, pending);
    return copy;
  }
}

/**
 * A loader that imports `moduleName` at run time and returns its export `exportName`, e.g.
 * `moduleLoader('amqp', '@wakame/transports/amqp', 'amqpTransport')`.
 *
 * When the module (or a package it imports) cannot be found the loader rejects with
 * {@link TransportNotInstalledError} naming what is missing; other import failures (the module
 * threw while loading) propagate unchanged.
 */
export function moduleLoader(scheme: string, moduleName: string, exportName: string): TransportLoader {
  const key = normaliseScheme(scheme, true);
  if (typeof moduleName !== 'string' || moduleName === '') {
    throw new InvalidArgumentError(`moduleLoader for '${key}' needs a module name`);
  }
  if (typeof exportName !== 'string' || exportName === '') {
    throw new InvalidArgumentError(`moduleLoader for '${key}' needs an export name`);
  }
  return async () => {
    let namespace: Record<string, unknown>;
    try {
      namespace = await importModule(moduleName);
    } catch (error) {
      if (isModuleNotFound(error)) {
        const missing = missingModule(error, moduleName);
        throw new TransportNotInstalledError(key, missing, installHint(key, missing), { cause: error });
      }
      throw error;
    }
    const factory = namespace[exportName];
    if (typeof factory !== 'function') {
      throw new InvalidArgumentError(
        `module '${moduleName}' has no function export '${exportName}' for the '${key}' transport; are the @wakame packages at matching versions?`,
      );
    }
    return factory as TransportFactory;
  };
}

/**
 * A registry holding the external transports of {@link DEFAULT_TRANSPORT_MODULES} (through
 * {@link moduleLoader}) plus `builtins`, which win over them for the same scheme.
 */
export function createDefaultRegistry(builtins: Iterable<readonly [string, TransportLoader]>): TransportRegistry {
  const registry = new TransportRegistry(
    DEFAULT_TRANSPORT_MODULES.map(([scheme, moduleName, exportName]) => [
      scheme,
      moduleLoader(scheme, moduleName, exportName),
    ]),
  );
  for (const [scheme, loader] of builtins) registry.register(scheme, loader);
  return registry;
}

/** Lower-cases and drops a trailing colon (`'AMQP:'` → `'amqp'`); optionally validates. */
function normaliseScheme(scheme: string, validate: boolean): string {
  const key = typeof scheme === 'string' ? scheme.toLowerCase().replace(/:$/, '') : '';
  if (validate && !SCHEME_RE.test(key)) {
    throw new InvalidArgumentError(`invalid transport scheme '${String(scheme)}': expected e.g. 'amqp' or 'my-broker'`);
  }
  return key;
}

async function load(scheme: string, loader: TransportLoader): Promise<TransportFactory> {
  let factory: unknown;
  try {
    factory = await loader();
  } catch (error) {
    // A hand-written loader (`() => import('x').then(...)`) gets the same mapping as moduleLoader.
    if (!(error instanceof TransportNotInstalledError) && isModuleNotFound(error)) {
      const missing = missingModule(error, undefined);
      throw new TransportNotInstalledError(scheme, missing, installHint(scheme, missing), { cause: error });
    }
    throw error;
  }
  if (typeof factory !== 'function') {
    throw new InvalidArgumentError(
      `the loader for scheme '${scheme}' resolved to ${factory === null ? 'null' : typeof factory}, not a transport factory; a loader takes no parameters and resolves to (url, options) => Transport`,
    );
  }
  return factory as TransportFactory;
}

async function importModule(moduleName: string): Promise<Record<string, unknown>> {
  // A variable specifier (and the vite hint) keeps tsc and bundlers from resolving it at build time.
  const specifier: string = moduleName;
  try {
    return (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  } catch (error) {
    if (!isModuleNotFound(error)) throw error;
    // Strict installs (pnpm) let core see only its own dependencies, while the application is the
    // one that installs @wakame/transports: look the module up from the application's directory too.
    const fromApp = resolveFromApplication(moduleName);
    if (fromApp === undefined) throw error;
    return (await import(/* @vite-ignore */ fromApp)) as Record<string, unknown>;
  }
}

function resolveFromApplication(moduleName: string): string | undefined {
  try {
    return pathToFileURL(createRequire(join(process.cwd(), 'package.json')).resolve(moduleName)).href;
  } catch {
    return undefined;
  }
}

function isModuleNotFound(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return NOT_FOUND_CODES.has(code);
  return CODELESS_NOT_FOUND_RE.test(error.message);
}

/**
 * Which module to tell the user to install. When the transport module itself loads but one of its
 * own dependencies is missing (`Cannot find package 'amqplib'`), that dependency is the one to name.
 */
function missingModule(error: unknown, moduleName: string | undefined): string {
  const quoted =
    error instanceof Error ? /Cannot find (?:package|module) '([^']+)'/.exec(error.message)?.[1] : undefined;
  const isBare = quoted !== undefined && !/^(?:\.|\/|[A-Za-z]:[\\/]|file:|node:)/.test(quoted);
  if (moduleName === undefined) return isBare ? quoted : (quoted ?? '(unknown module)');
  return isBare && packageOf(quoted) !== packageOf(moduleName) ? quoted : moduleName;
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}
