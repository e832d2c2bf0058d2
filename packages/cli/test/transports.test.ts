/**
 * The CLI finds its transports through its own dependency on `@wakame/transports`, never through core's fallback
 * lookup (core's location, then the working directory): `npx wakame` and a global install run from any directory.
 */
import { defaultTransports, memoryTransport, UnknownTransportError } from '@wakame/core';
import { amqpTransport } from '@wakame/transports/amqp';
import { beanstalkTransport } from '@wakame/transports/beanstalk';
import { fileTransport } from '@wakame/transports/file';
import { mysqlTransport } from '@wakame/transports/mysql';
import { postgresTransport } from '@wakame/transports/postgres';
import { redisTransport } from '@wakame/transports/redis';
import { zookeeperTransport } from '@wakame/transports/zookeeper';
import { afterEach, describe, expect, it } from 'vitest';
import { type QuickstartReport, quickstart, quickstartTopology } from '../src/commands/quickstart.js';
import { openBroker } from '../src/topology-input.js';
import { cliTransports, createCliTransports } from '../src/transports.js';
import { capture } from './capture.js';

/** A scheme only the CLI's registry knows (for the tests below): core's default registry has no such transport. */
const ONLY_CLI = 'wakame-cli-test';

afterEach(() => {
  cliTransports.unregister(ONLY_CLI);
  defaultTransports.unregister(ONLY_CLI);
});

describe("the CLI's transport registry", () => {
  it('has every scheme of @wakame/transports, each loading from it', async () => {
    const registry = createCliTransports();
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
    await expect(registry.resolve('memory')).resolves.toBe(memoryTransport);
    await expect(registry.resolve('file')).resolves.toBe(fileTransport);
    await expect(registry.resolve('amqp')).resolves.toBe(amqpTransport);
    await expect(registry.resolve('amqps')).resolves.toBe(amqpTransport);
    await expect(registry.resolve('redis')).resolves.toBe(redisTransport);
    await expect(registry.resolve('rediss')).resolves.toBe(redisTransport);
    for (const scheme of ['postgres', 'postgresql'])
      await expect(registry.resolve(scheme)).resolves.toBe(postgresTransport);
    for (const scheme of ['mysql', 'mariadb']) await expect(registry.resolve(scheme)).resolves.toBe(mysqlTransport);
    await expect(registry.resolve('zookeeper')).resolves.toBe(zookeeperTransport);
    await expect(registry.resolve('beanstalk')).resolves.toBe(beanstalkTransport);
  });

  it('is what broker-facing commands open their connections with', async () => {
    cliTransports.register(ONLY_CLI, async () => memoryTransport);
    await expect(defaultTransports.resolve(ONLY_CLI)).rejects.toBeInstanceOf(UnknownTransportError);
    const connection = await openBroker(capture().ctx, { url: `${ONLY_CLI}://open-broker` });
    try {
      expect(connection.transport.kind).toBe('memory');
    } finally {
      await connection.close();
    }
  });

  it('is what quickstart opens its connection with', async () => {
    cliTransports.register(ONLY_CLI, async () => memoryTransport);
    const c = capture({ jsonMode: true });
    const report: QuickstartReport = await quickstart(c.ctx, { url: `${ONLY_CLI}://quickstart`, tasks: '2' });
    expect(report).toMatchObject({ processed: 6, inPriorityOrder: true });
  }, 30_000);
});

describe("quickstart's topology", () => {
  it('is the example itself when run from source', () => {
    expect(quickstartTopology('file:///repo/packages/cli/src/commands/quickstart.ts')).toBe(
      '/repo/examples/priority-tasks/topology.yaml',
    );
  });

  it("is the package's own copy when run from the build, never a file outside the package", () => {
    expect(quickstartTopology('file:///app/node_modules/@wakame/cli/dist/commands/quickstart.js')).toBe(
      '/app/node_modules/@wakame/cli/assets/priority-tasks/topology.yaml',
    );
  });
});
