/**
 * Deciding whether broker-backed test suites run.
 *
 * Locally a developer may not have RabbitMQ or Redis running: such suites are skipped with one visible notice. In
 * CI a missing broker must never turn into a green run with silently skipped tests, so there the gate throws and
 * the test file fails.
 *
 * @module
 */
import { connect } from 'node:net';

/** A broker a test suite needs, and where to find it. */
export interface BrokerCheck {
  /** Which broker; named in notices and errors. */
  readonly name:
    | 'rabbitmq'
    | 'redis'
    | 'rabbitmq-management'
    | 'postgres'
    | 'mysql'
    | 'zookeeper'
    | 'beanstalk'
    | 'rabbitmq-cluster'
    | 'redis-cluster'
    | 'redis-sentinel';
  /** Broker URL; only its host and port are used. May contain credentials, which are never printed. */
  readonly url: string;
}

/** AMQP URL of the RabbitMQ used by integration tests (`AMQP_URL`, default: the local guest account). */
export const AMQP_URL: string = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672//';

/** Redis URL used by integration tests (`REDIS_URL`, default: database 0 of the local server). */
export const REDIS_URL: string = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/**
 * {@link REDIS_URL} on database `db`, with `query` (e.g. `keyprefix=t1:&lease=1000`). Tests that flush
 * or count keys take a database of their own, so test files cannot disturb each other.
 */
export function redisUrl(db: number, query = ''): string {
  const base = REDIS_URL.replace(/\/\d*(\?.*)?$/, '');
  return `${base}/${db}${query === '' ? '' : `?${query}`}`;
}

/**
 * PostgreSQL URL of the database SQL-transport tests use (`POSTGRES_URL`, default: `wakame_test` on the local
 * server, which `.ci/run` creates). Tests make their own schemas inside it.
 */
export const POSTGRES_URL: string = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/wakame_test';

/**
 * MariaDB/MySQL URL of the database SQL-transport tests use (`MYSQL_URL`, default: `wakame_test` on the local
 * server as root, which `.ci/run` creates). Tests make their own tables (by prefix) or databases inside.
 */
export const MYSQL_URL: string = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/wakame_test';

/**
 * beanstalkd URL of the server beanstalk-transport tests use (`BEANSTALK_URL`, default: the local server that
 * `.ci/run` starts). Tests keep apart by a tube prefix of their own (`?prefix=`).
 */
export const BEANSTALK_URL: string = process.env.BEANSTALK_URL ?? 'beanstalk://127.0.0.1:11300';

/**
 * ZooKeeper URL of the server zookeeper-transport tests use (`ZOOKEEPER_URL`, default: the local standalone
 * server that `.ci/run` starts). Tests keep apart by a root znode of their own (the URL's path).
 */
export const ZOOKEEPER_URL: string = process.env.ZOOKEEPER_URL ?? 'zookeeper://127.0.0.1:2181';

/** RabbitMQ management API base URL (`RABBITMQ_MANAGEMENT_URL`, default: the local plugin on port 15672). */
export const RABBITMQ_MANAGEMENT_URL: string =
  process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'amqp:': 5672,
  'amqps:': 5671,
  'redis:': 6379,
  'rediss:': 6379,
  'postgres:': 5432,
  'postgresql:': 5432,
  'mysql:': 3306,
  'mariadb:': 3306,
  'zookeeper:': 2181,
  'beanstalk:': 11300,
  'http:': 80,
  'https:': 443,
};

function isTruthyFlag(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes'].includes(value.trim().toLowerCase());
}

function isFalsyFlag(value: string | undefined): boolean {
  return value !== undefined && ['0', 'false', 'no'].includes(value.trim().toLowerCase());
}

/**
 * Whether CI demands brokers (`WAKAME_REQUIRE_BROKERS=1` or `CI=true`).
 *
 * An explicit `WAKAME_REQUIRE_BROKERS=0` wins over `CI=true`, so a CI job without brokers can opt out on purpose.
 */
export function brokersRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const explicit = env.WAKAME_REQUIRE_BROKERS;
  if (isTruthyFlag(explicit)) return true;
  if (isFalsyFlag(explicit)) return false;
  return isTruthyFlag(env.CI);
}

/** Masks the password of any `user:password@` part, for messages about URLs that could not be parsed. */
function maskCredentials(url: string): string {
  return url.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
}

interface Target {
  readonly host: string;
  readonly port: number;
  /** `scheme://host:port`: what was probed, safe to print (no credentials, no path). */
  readonly display: string;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host) || /^::ffff:127\./i.test(host);
}

function parseTarget(url: string): Target {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`invalid broker URL: ${maskCredentials(url)}`);
  }
  // WHATWG URLs keep IPv6 literals bracketed; net.connect wants them bare.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = parsed.port === '' ? DEFAULT_PORTS[parsed.protocol] : Number(parsed.port);
  if (port === undefined) throw new Error(`broker URL has no port and '${parsed.protocol}' has no known default`);
  // Tests must never reach out to other machines: a typo in AMQP_URL should not probe a production host.
  if (!isLoopback(host)) {
    throw new Error(`refusing to probe non-loopback host '${host}': broker tests only use local brokers`);
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { host, port, display: `${parsed.protocol}//${shownHost}:${port}` };
}

/**
 * TCP-probe host:port from the URL: resolves `true` once a connection is accepted, `false` on refusal or timeout.
 *
 * Only loopback hosts are probed; other hosts and malformed URLs reject with an Error (never containing the
 * password).
 *
 * @param timeoutMs - How long to wait for the TCP handshake (default 2000 ms).
 */
export async function probe(url: string, timeoutMs = 2000): Promise<boolean> {
  const { host, port } = parseTarget(url);
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    const finish = (reachable: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reachable);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Notices already printed in this worker: a file with several gated suites says it once per suite and broker. */
const printedNotices = new Set<string>();

/**
 * Decides at collection time whether a broker test suite runs.
 *
 * - The broker answers: `'run'`.
 * - It does not and brokers are required ({@link brokersRequired}): throws, naming the broker and its address,
 *   so the test file fails instead of silently skipping.
 * - It does not and brokers are optional: prints one notice to stderr and returns `'skip'`.
 *
 * @example
 * ```ts
 * const gate = await brokerGate('amqp conformance', { name: 'rabbitmq', url: AMQP_URL });
 * describe.skipIf(gate === 'skip')('amqp conformance', () => { ... });
 * ```
 */
export async function brokerGate(
  suite: string,
  check: BrokerCheck,
  env: NodeJS.ProcessEnv = process.env,
): Promise<'run' | 'skip'> {
  const target = parseTarget(check.url);
  if (await probe(check.url)) return 'run';
  if (brokersRequired(env)) {
    const why = isTruthyFlag(env.WAKAME_REQUIRE_BROKERS) ? 'WAKAME_REQUIRE_BROKERS is set' : 'CI=true';
    throw new Error(
      `[wakame] ${suite}: ${check.name} not reachable at ${target.display}, and brokers are required (${why}); ` +
        `start ${check.name} or fix the URL`,
    );
  }
  const notice = `[wakame] skipping ${suite}: ${check.name} not reachable at ${target.display} (set WAKAME_REQUIRE_BROKERS=1 to make this an error)`;
  if (!printedNotices.has(notice)) {
    printedNotices.add(notice);
    // Straight to stderr rather than console.warn, so it is not folded into a test's captured console output.
    process.stderr.write(`${notice}\n`);
  }
  return 'skip';
}
