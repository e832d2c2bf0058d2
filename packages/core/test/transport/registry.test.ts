import { describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError, TransportNotInstalledError, UnknownTransportError } from '../../src/errors.js';
import {
  createDefaultRegistry,
  DEFAULT_TRANSPORT_MODULES,
  moduleLoader,
  type TransportLoader,
  TransportRegistry,
} from '../../src/transport/registry.js';
import type { Transport, TransportFactory } from '../../src/transport/spi.js';

// Factories are only compared by identity here; they are never called.
const factoryA: TransportFactory = (_url, _options) => ({}) as Transport;
const factoryB: TransportFactory = (_url, _options) => ({}) as Transport;

/** An error shaped like Node's when `import()` cannot find a package. */
function notFound(name: string, code = 'ERR_MODULE_NOT_FOUND'): Error {
  return Object.assign(new Error(`Cannot find package '${name}' imported from /app/x.js`), { code });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('TransportRegistry', () => {
  it('resolves a registered loader', async () => {
    const registry = new TransportRegistry([['memory', async () => factoryA]]);
    await expect(registry.resolve('memory')).resolves.toBe(factoryA);
    expect(registry.has('memory')).toBe(true);
  });

  it('wraps a factory (a function with parameters) as a loader', async () => {
    const registry = new TransportRegistry().register('x', factoryB);
    await expect(registry.resolve('x')).resolves.toBe(factoryB);
  });

  it('is case-insensitive and ignores a trailing colon', async () => {
    const registry = new TransportRegistry().register('AMQP', factoryA);
    expect(registry.has('amqp')).toBe(true);
    expect(registry.has('amqp:')).toBe(true);
    await expect(registry.resolve('Amqp')).resolves.toBe(factoryA);
  });

  it('lists schemes sorted, and register() chains', () => {
    const registry = new TransportRegistry().register('redis', factoryA).register('amqp', factoryB);
    expect(registry.schemes()).toEqual(['amqp', 'redis']);
  });

  it('replaces on re-register and forgets on unregister', async () => {
    const registry = new TransportRegistry().register('x', factoryA);
    await registry.resolve('x');
    registry.register('x', factoryB);
    await expect(registry.resolve('x')).resolves.toBe(factoryB);
    registry.unregister('x');
    registry.unregister('never-registered');
    expect(registry.has('x')).toBe(false);
  });

  it('fails for an unknown scheme, listing the known ones', async () => {
    const registry = new TransportRegistry([
      ['memory', async () => factoryA],
      ['amqp', async () => factoryB],
    ]);
    const error = await rejection(registry.resolve('kafka'));
    expect(error).toBeInstanceOf(UnknownTransportError);
    expect((error as UnknownTransportError).code).toBe('ERR_UNKNOWN_TRANSPORT');
    expect((error as UnknownTransportError).known).toEqual(['amqp', 'memory']);
    expect((error as Error).message).toContain('kafka');
    expect((error as Error).message).toContain('amqp, memory');
  });

  it('rejects malformed schemes and non-functions', () => {
    const registry = new TransportRegistry();
    expect(() => registry.register('', factoryA)).toThrow(InvalidArgumentError);
    expect(() => registry.register('1x', factoryA)).toThrow(InvalidArgumentError);
    expect(() => registry.register('a b', factoryA)).toThrow(InvalidArgumentError);
    expect(() => registry.register('x', 'nope' as unknown as TransportLoader)).toThrow(InvalidArgumentError);
  });

  it('shares one load between concurrent resolves and caches it', async () => {
    const loader = vi.fn(async () => factoryA);
    const registry = new TransportRegistry([['x', loader]]);
    const results = await Promise.all([registry.resolve('x'), registry.resolve('x'), registry.resolve('x')]);
    await registry.resolve('x');
    expect(results).toEqual([factoryA, factoryA, factoryA]);
    expect(loader).toHaveBeenCalledTimes(1);
  });

  it('forgets a failed load so a later resolve tries again', async () => {
    const loader = vi.fn<TransportLoader>().mockRejectedValueOnce(notFound('pkg')).mockResolvedValueOnce(factoryA);
    const registry = new TransportRegistry([['x', loader]]);
    await expect(registry.resolve('x')).rejects.toBeInstanceOf(TransportNotInstalledError);
    await expect(registry.resolve('x')).resolves.toBe(factoryA);
    expect(loader).toHaveBeenCalledTimes(2);
  });

  it.each(['ERR_MODULE_NOT_FOUND', 'ERR_PACKAGE_PATH_NOT_EXPORTED'])(
    'maps a hand-written loader failing with %s to TransportNotInstalledError',
    async (code) => {
      const cause = notFound('some-driver', code);
      const registry = new TransportRegistry([
        [
          'x',
          async () => {
            throw cause;
          },
        ],
      ]);
      const error = await rejection(registry.resolve('x'));
      expect(error).toBeInstanceOf(TransportNotInstalledError);
      expect((error as TransportNotInstalledError).code).toBe('ERR_TRANSPORT_NOT_INSTALLED');
      expect((error as TransportNotInstalledError).scheme).toBe('x');
      expect((error as Error).cause).toBe(cause);
      expect((error as Error).message).toContain('some-driver');
    },
  );

  it('lets other loader errors through unchanged', async () => {
    const boom = new SyntaxError('module threw while loading');
    const registry = new TransportRegistry([
      [
        'x',
        async () => {
          throw boom;
        },
      ],
    ]);
    await expect(registry.resolve('x')).rejects.toBe(boom);
  });

  it('rejects a loader that resolves to something other than a factory', async () => {
    const registry = new TransportRegistry([['x', async () => ({}) as unknown as TransportFactory]]);
    await expect(registry.resolve('x')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('clones independently', async () => {
    const original = new TransportRegistry([['a', async () => factoryA]]);
    const copy = original.clone().register('b', factoryB);
    copy.unregister('a');
    expect(original.schemes()).toEqual(['a']);
    expect(copy.schemes()).toEqual(['b']);
    await expect(original.resolve('a')).resolves.toBe(factoryA);
  });
});

describe('moduleLoader', () => {
  it('imports a module by name and returns the named export', async () => {
    const { join } = await import('node:path');
    const loader = moduleLoader('x', 'node:path', 'join');
    await expect(loader()).resolves.toBe(join);
  });

  it('maps a missing module to TransportNotInstalledError naming the package', async () => {
    const registry = new TransportRegistry([['amqp', moduleLoader('amqp', '@wakame/does-not-exist/amqp', 'f')]]);
    const error = await rejection(registry.resolve('amqp'));
    expect(error).toBeInstanceOf(TransportNotInstalledError);
    expect((error as TransportNotInstalledError).code).toBe('ERR_TRANSPORT_NOT_INSTALLED');
    expect((error as TransportNotInstalledError).moduleName).toBe('@wakame/does-not-exist/amqp');
    expect((error as Error).message).toContain("'@wakame/does-not-exist/amqp'");
    expect((error as TransportNotInstalledError).packages).toEqual(['@wakame/does-not-exist']);
    expect((error as Error).message).toMatch(
      /; install it: (npm install|pnpm add|yarn add|bun add) @wakame\/does-not-exist$/,
    );
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('maps an unexported subpath of an installed package the same way', async () => {
    const error = await rejection(moduleLoader('x', 'vitest/no-such-subpath', 'f')());
    expect(error).toBeInstanceOf(TransportNotInstalledError);
    expect((error as Error).message).toContain('vitest/no-such-subpath');
  });

  it('rejects a module without the export', async () => {
    const error = await rejection(moduleLoader('x', 'node:path', 'noSuchExport')());
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain('noSuchExport');
  });

  it('validates its arguments', () => {
    expect(() => moduleLoader('', 'm', 'e')).toThrow(InvalidArgumentError);
    expect(() => moduleLoader('x', '', 'e')).toThrow(InvalidArgumentError);
    expect(() => moduleLoader('x', 'm', '')).toThrow(InvalidArgumentError);
  });
});

describe('createDefaultRegistry', () => {
  it('registers the external transports and the builtins, builtins winning', async () => {
    const registry = createDefaultRegistry([
      ['memory', async () => factoryA],
      ['file', async () => factoryB],
    ]);
    expect(registry.schemes()).toEqual([
      'amqp',
      'amqps',
      'beanstalk',
      'file',
      'mariadb',
      'memory',
      'mysql',
      'postgres',
      'postgresql',
      'redis',
      'rediss',
      'zookeeper',
    ]);
    await expect(registry.resolve('memory')).resolves.toBe(factoryA);
    await expect(registry.resolve('file')).resolves.toBe(factoryB);
  });

  it('names the transport modules', () => {
    expect(DEFAULT_TRANSPORT_MODULES).toEqual([
      ['amqp', '@wakame/transports/amqp', 'amqpTransport'],
      ['amqps', '@wakame/transports/amqp', 'amqpTransport'],
      ['redis', '@wakame/transports/redis', 'redisTransport'],
      ['rediss', '@wakame/transports/redis', 'redisTransport'],
      ['file', '@wakame/transports/file', 'fileTransport'],
      ['postgres', '@wakame/transports/postgres', 'postgresTransport'],
      ['postgresql', '@wakame/transports/postgres', 'postgresTransport'],
      ['mysql', '@wakame/transports/mysql', 'mysqlTransport'],
      ['mariadb', '@wakame/transports/mysql', 'mysqlTransport'],
      ['zookeeper', '@wakame/transports/zookeeper', 'zookeeperTransport'],
      ['beanstalk', '@wakame/transports/beanstalk', 'beanstalkTransport'],
    ]);
  });
});
