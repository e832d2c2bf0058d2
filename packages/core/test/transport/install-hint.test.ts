import { afterEach, describe, expect, it, vi } from 'vitest';
import { TransportNotInstalledError } from '../../src/errors.js';
import { installCommand, installHint, packagesToInstall } from '../../src/transport/install-hint.js';

describe('packagesToInstall', () => {
  it('names @wakame/transports and the broker client when the transport package is missing', () => {
    expect(packagesToInstall('redis', '@wakame/transports/redis')).toEqual(['@wakame/transports', 'ioredis']);
    expect(packagesToInstall('rediss', '@wakame/transports/redis')).toEqual(['@wakame/transports', 'ioredis']);
    expect(packagesToInstall('amqps', '@wakame/transports/amqp')).toEqual(['@wakame/transports', 'amqplib']);
    expect(packagesToInstall('file', '@wakame/transports/file')).toEqual(['@wakame/transports']);
  });

  it('names only the missing client when @wakame/transports is there', () => {
    expect(packagesToInstall('amqp', 'amqplib')).toEqual(['amqplib']);
    expect(packagesToInstall('redis', 'ioredis')).toEqual(['ioredis']);
  });

  it('names the package of a subpath, scoped or not', () => {
    expect(packagesToInstall('x', '@acme/broker/x')).toEqual(['@acme/broker']);
    expect(packagesToInstall('x', 'broker-x/transport')).toEqual(['broker-x']);
  });
});

describe('installCommand', () => {
  it.each([
    ['npm/11.19.1 node/v20.20.2 linux x64 workspaces/false', 'npm install'],
    ['pnpm/10.34.9 npm/? node/v20.20.2 linux x64', 'pnpm add'],
    ['yarn/4.5.0 npm/? node/v20.20.2 linux x64', 'yarn add'],
    ['yarn/1.22.22 npm/? node/v20.20.2 linux x64', 'yarn add'],
    ['bun/1.1.30 npm/? node/v22.6.0 linux x64', 'bun add'],
    [undefined, 'npm install'],
    ['', 'npm install'],
    ['something/1.0', 'npm install'],
  ])('under %s uses %s', (agent, add) => {
    const env = agent === undefined ? {} : { npm_config_user_agent: agent };
    expect(installCommand(['@wakame/transports', 'ioredis'], env)).toBe(`${add} @wakame/transports ioredis`);
  });
});

describe('TransportNotInstalledError', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('ends its message with the install command of the package manager in use', () => {
    vi.stubEnv('npm_config_user_agent', 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false');
    const error = new TransportNotInstalledError(
      'redis',
      '@wakame/transports/redis',
      installHint('redis', '@wakame/transports/redis'),
    );
    expect(error.message).toBe(
      "the 'redis' transport needs the module '@wakame/transports/redis', which could not be loaded; install it: npm install @wakame/transports ioredis",
    );
    expect(error.packages).toEqual(['@wakame/transports', 'ioredis']);
    expect(error.installCommand).toBe('npm install @wakame/transports ioredis');
    expect(error.code).toBe('ERR_TRANSPORT_NOT_INSTALLED');
  });

  it('says pnpm add under pnpm', () => {
    vi.stubEnv('npm_config_user_agent', 'pnpm/10.34.9 npm/? node/v20.20.2 linux x64');
    expect(new TransportNotInstalledError('amqp', 'amqplib', installHint('amqp', 'amqplib')).message).toMatch(
      /install it: pnpm add amqplib$/,
    );
  });
});
