/**
 * `globalSetup` of the `cluster` test project: starts the private RabbitMQ cluster and both Redis topologies once
 * for the whole run, and stops them when the run ends, whether tests passed or not.
 *
 * Vitest runs a project's global setup only when the run selected at least one of that project's files, so running
 * a unit test file never boots a cluster.
 *
 * - A topology whose binaries are missing is not started: locally one notice is printed and the tests that need it
 *   skip (their gates find nothing listening); when brokers are required (`WAKAME_REQUIRE_BROKERS=1` or `CI=true`)
 *   the run fails here instead.
 * - A topology that was already running whole (a developer started it with the script) is used and left running.
 * - `WAKAME_CLUSTER_KEEP=1` leaves what this run started running too, for quick reruns; the scripts' `stop` ends it.
 *
 * @module
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { brokersRequired, probe } from './brokers.js';
import { REDIS_CLUSTER_PORTS, REDIS_SENTINEL_PORTS, runClusterScript } from './clusters.js';

interface Topology {
  readonly name: string;
  /** Why it cannot run here, or `undefined` when its binaries are installed. */
  readonly missing: () => string | undefined;
  readonly running: () => Promise<boolean>;
  readonly start: () => Promise<unknown>;
  readonly stop: () => Promise<unknown>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, command)));
}

const rabbitBin = process.env.WAKAME_RABBITMQ_BIN ?? '/usr/lib/rabbitmq/bin';
const redisMissing = (): string | undefined =>
  onPath('redis-server') && onPath('redis-cli') ? undefined : 'redis-server/redis-cli not installed';

const topologies: readonly Topology[] = [
  {
    name: 'RabbitMQ cluster (wkt1..wkt3, AMQP 5691-5693)',
    missing: () =>
      executable(join(rabbitBin, 'rabbitmq-server')) ? undefined : `RabbitMQ not installed (no ${rabbitBin})`,
    running: async () =>
      runClusterScript('rabbitmq-cluster.sh', ['status'], 120_000).then(
        () => true,
        () => false,
      ),
    start: () => runClusterScript('rabbitmq-cluster.sh', ['start']),
    stop: () => runClusterScript('rabbitmq-cluster.sh', ['stop']),
  },
  {
    name: 'Redis Cluster (7101-7106)',
    missing: redisMissing,
    running: async () =>
      (await Promise.all(REDIS_CLUSTER_PORTS.map((p) => probe(`redis://127.0.0.1:${p}`)))).every(Boolean),
    start: () => runClusterScript('redis-topologies.sh', ['cluster'], 120_000),
    stop: () => runClusterScript('redis-topologies.sh', ['stop-cluster'], 120_000),
  },
  {
    name: 'Redis Sentinel (6395/6396/26395)',
    missing: redisMissing,
    running: async () =>
      (await Promise.all(Object.values(REDIS_SENTINEL_PORTS).map((p) => probe(`redis://127.0.0.1:${p}`)))).every(
        Boolean,
      ),
    start: () => runClusterScript('redis-topologies.sh', ['sentinel'], 120_000),
    stop: () => runClusterScript('redis-topologies.sh', ['stop-sentinel'], 120_000),
  },
];

function say(line: string): void {
  // stderr, like brokerGate's notices: visible in every reporter, never mixed into a test's captured output.
  process.stderr.write(`[wakame] clusters: ${line}\n`);
}

/** Starts every available topology (in parallel); returns the teardown that stops those this run started. */
export default async function setup(): Promise<() => Promise<void>> {
  const started = Date.now();
  const available = topologies.filter((t) => {
    const why = t.missing();
    if (why === undefined) return true;
    if (brokersRequired()) {
      throw new Error(`[wakame] clusters: cannot start ${t.name}: ${why}, and brokers are required`);
    }
    say(`skipping tests that need ${t.name}: ${why} (set WAKAME_REQUIRE_BROKERS=1 to make this an error)`);
    return false;
  });
  const ours = new Set<Topology>();
  const results = await Promise.allSettled(
    available.map(async (t) => {
      if (await t.running()) {
        say(`${t.name} already running: using it, and leaving it running`);
        return;
      }
      ours.add(t);
      await t.start();
    }),
  );

  const teardown = async (): Promise<void> => {
    if (process.env.WAKAME_CLUSTER_KEEP === '1') {
      if (ours.size > 0) say('WAKAME_CLUSTER_KEEP=1: leaving the clusters running (scripts/clusters/*.sh stop)');
      return;
    }
    if (ours.size === 0) return;
    const stopped = Date.now();
    const outcomes = await Promise.allSettled([...ours].map((t) => t.stop()));
    const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
    say(
      `stopped in ${Math.round((Date.now() - stopped) / 1000)}s${failed.length ? `; failures: ${failed.join('; ')}` : ''}`,
    );
  };

  const failures = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  if (failures.length > 0) {
    // Vitest never calls the teardown of a setup that threw: stop what was started before failing the run.
    await teardown();
    throw new Error(`[wakame] clusters did not start:\n${failures.join('\n')}`);
  }
  if (ours.size > 0) say(`started in ${Math.round((Date.now() - started) / 1000)}s`);
  return teardown;
}
