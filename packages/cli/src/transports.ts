/**
 * The transports of the `wakame` command line, taken from its own dependency `@wakame/transports`.
 *
 * Core's default registry imports `@wakame/transports/<name>` from core's own location, then from the working
 * directory: right for an application that installs both, wrong for a CLI run by `npx wakame` or installed
 * globally, where core may not see the CLI's dependencies (pnpm's strict layout) and the working directory is any
 * directory at all. These loaders import from the CLI package itself, so every scheme resolves wherever `wakame`
 * runs. Each module still loads only when a URL with its scheme is first used.
 *
 * @module
 */
import { memoryTransport, TransportRegistry } from '@wakame/core';

const amqp = async () => (await import('@wakame/transports/amqp')).amqpTransport;
const redis = async () => (await import('@wakame/transports/redis')).redisTransport;
const file = async () => (await import('@wakame/transports/file')).fileTransport;
const postgres = async () => (await import('@wakame/transports/postgres')).postgresTransport;
const mysql = async () => (await import('@wakame/transports/mysql')).mysqlTransport;
const zookeeper = async () => (await import('@wakame/transports/zookeeper')).zookeeperTransport;
const beanstalk = async () => (await import('@wakame/transports/beanstalk')).beanstalkTransport;

/**
 * Creates the CLI's registry: `memory`, `file`, `amqp(s)`, `redis(s)`, `postgres(ql)`, `mysql`/`mariadb` and `beanstalk`, each
 * from `@wakame/transports` (the SQL ones need `pg` or `mysql2` installed beside the CLI), and `zookeeper` (with
 * `node-zookeeper-client`).
 */
export function createCliTransports(): TransportRegistry {
  return new TransportRegistry([
    ['memory', async () => memoryTransport],
    ['file', file],
    ['amqp', amqp],
    ['amqps', amqp],
    ['redis', redis],
    ['rediss', redis],
    ['postgres', postgres],
    ['postgresql', postgres],
    ['mysql', mysql],
    ['mariadb', mysql],
    ['zookeeper', zookeeper],
    ['beanstalk', beanstalk],
  ]);
}

/** The registry every connection the CLI opens uses (`Connection.open(url, { transports: cliTransports })`). */
export const cliTransports: TransportRegistry = createCliTransports();
