/**
 * The private broker clusters of the `cluster` test project: where they listen, and how tests break and mend them.
 *
 * The clusters are started once per run by `cluster-setup.ts` (the project's `globalSetup`) through the scripts in
 * `scripts/clusters/`; the functions here call the same scripts, so a test kills or restarts a node exactly the way a
 * developer does by hand. Ports are fixed and differ from the machine's own brokers (5672, 6379) and from a
 * developer's manual cluster (5681-5683, 7001-7006), so tests never touch either.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { probe } from './brokers.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);

/** The folder of `rabbitmq-cluster.sh` and `redis-topologies.sh` (from `src/` and from `dist/` alike). */
export const CLUSTER_SCRIPTS_DIR: string = fileURLToPath(new URL('../../../scripts/clusters/', import.meta.url));

/** A node of the private RabbitMQ cluster. */
export interface RabbitClusterNode {
  /** 1, 2 or 3: the argument of the node functions below and of `rabbitmq-cluster.sh node|ctl|kill N`. */
  readonly index: 1 | 2 | 3;
  /** Erlang node name, as the management API reports it (`node`, `leader`). */
  readonly name: string;
  /** AMQP URL of this node alone (default vhost, guest account). */
  readonly amqpUrl: string;
  /** Management API root of this node, with credentials. */
  readonly managementUrl: string;
}

const rabbitIndexes = [1, 2, 3] as const;

/** The three nodes `wkt1..wkt3@localhost`: AMQP 5691-5693, management 15691-15693. */
export const RABBITMQ_CLUSTER_NODES: readonly RabbitClusterNode[] = rabbitIndexes.map((index) => ({
  index,
  name: `wkt${index}@localhost`,
  amqpUrl: `amqp://guest:guest@127.0.0.1:${5690 + index}//`,
  managementUrl: `http://guest:guest@127.0.0.1:${15690 + index}`,
}));

/** AMQP URLs of the cluster's nodes, in node order. */
export const RABBITMQ_CLUSTER_URLS: readonly string[] = RABBITMQ_CLUSTER_NODES.map((n) => n.amqpUrl);

/** The whole cluster as one failover URL (`url1;url2;url3`), as `Connection.open` takes it. */
export const RABBITMQ_CLUSTER_URL: string = RABBITMQ_CLUSTER_URLS.join(';');

/** Management API roots of the cluster's nodes, in node order. */
export const RABBITMQ_CLUSTER_MANAGEMENT_URLS: readonly string[] = RABBITMQ_CLUSTER_NODES.map((n) => n.managementUrl);

/** Ports of the Redis Cluster: 3 masters and 3 replicas. */
export const REDIS_CLUSTER_PORTS: readonly number[] = [7101, 7102, 7103, 7104, 7105, 7106];

/** Seed URL of the Redis Cluster; `cluster=true` makes the Redis transport discover the other nodes. */
export const REDIS_CLUSTER_URL = 'redis://127.0.0.1:7101?cluster=true';

/** The Sentinel group: master 6395, replica 6396, one sentinel on 26395 watching {@link REDIS_SENTINEL_MASTER}. */
export const REDIS_SENTINEL_PORTS = Object.freeze({ master: 6395, replica: 6396, sentinel: 26395 });

/** The master name the sentinel watches. */
export const REDIS_SENTINEL_MASTER = 'wkmaster';

/** URL of database 0 behind the sentinel (`redis://sentinel-host:port/db?sentinel=<master name>`). */
export const REDIS_SENTINEL_URL = `redis://127.0.0.1:${REDIS_SENTINEL_PORTS.sentinel}/0?sentinel=${REDIS_SENTINEL_MASTER}`;

/**
 * Runs one of the cluster scripts; rejects with its last stderr lines when it fails. The scripts bound all their
 * own waits; `timeoutMs` is only a backstop against a wedged child.
 */
export async function runClusterScript(
  script: 'rabbitmq-cluster.sh' | 'redis-topologies.sh',
  args: readonly string[],
  timeoutMs = 600_000,
): Promise<string> {
  try {
    const { stdout } = await run(`${CLUSTER_SCRIPTS_DIR}${script}`, [...args], {
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; code?: number | string; signal?: string };
    const tail = (e.stderr ?? '').trim().split('\n').slice(-8).join('\n');
    throw new Error(
      `${script} ${args.join(' ')} failed (${e.signal ?? `exit ${String(e.code)}`})${tail ? `:\n${tail}` : ''}`,
      { cause: error },
    );
  }
}

function nodeOf(index: number): RabbitClusterNode {
  const node = RABBITMQ_CLUSTER_NODES[index - 1];
  if (node === undefined) throw new RangeError(`RabbitMQ cluster node index must be 1, 2 or 3, got ${index}`);
  return node;
}

/** `rabbitmqctl` against node `index`; resolves with its stdout. */
export function rabbitCtl(index: number, ...args: string[]): Promise<string> {
  nodeOf(index);
  return runClusterScript('rabbitmq-cluster.sh', ['ctl', String(index), ...args], 120_000);
}

/** Stops the RabbitMQ application on node `index` (`rabbitmqctl stop_app`): a clean, announced shutdown. */
export async function stopRabbitNode(index: number): Promise<void> {
  await rabbitCtl(index, '-q', 'stop_app');
}

/** Kills node `index`'s Erlang VM with SIGKILL: a crash, its clients' sockets die without a close frame. */
export async function killRabbitNode(index: number): Promise<void> {
  nodeOf(index);
  await runClusterScript('rabbitmq-cluster.sh', ['kill', String(index)], 60_000);
}

/** Brings node `index` back after {@link stopRabbitNode} or {@link killRabbitNode}, and waits until it runs. */
export async function startRabbitNode(index: number): Promise<void> {
  nodeOf(index);
  await runClusterScript('rabbitmq-cluster.sh', ['node', String(index)]);
}

/** Which node (1-3) an AMQP URL of the cluster points at, from its port; `undefined` for other URLs. */
export function rabbitNodeIndexOf(url: string): 1 | 2 | 3 | undefined {
  const port = /:(\d+)(?:\/|$)/.exec(url)?.[1];
  return RABBITMQ_CLUSTER_NODES.find((n) => n.amqpUrl.includes(`:${port}/`))?.index;
}

/** The failover URL with node `first` first, then the others in order: a connection lands on `first`. */
export function rabbitClusterUrlFrom(first: number): string {
  const start = nodeOf(first).index - 1;
  return [...RABBITMQ_CLUSTER_URLS.slice(start), ...RABBITMQ_CLUSTER_URLS.slice(0, start)].join(';');
}

/**
 * Calls `/api/<path>` on the first node whose management API answers (a stopped node's does not), preferring
 * `prefer`. A 404 resolves `undefined`. Rejects when no node answers.
 */
export async function clusterManagement<T = unknown>(
  method: string,
  path: string,
  options: { readonly body?: unknown; readonly prefer?: number } = {},
): Promise<T | undefined> {
  const order = [...RABBITMQ_CLUSTER_NODES].sort(
    (a, b) => Number(b.index === options.prefer) - Number(a.index === options.prefer),
  );
  const failures: string[] = [];
  for (const node of order) {
    const base = new URL(node.managementUrl);
    const authorization = `Basic ${Buffer.from(`${base.username}:${base.password}`).toString('base64')}`;
    let response: Response;
    try {
      response = await fetch(`${base.origin}/api/${path}`, {
        method,
        headers: { authorization, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(10_000),
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
    } catch (error) {
      failures.push(`${node.name}: ${(error as Error).message}`);
      continue;
    }
    // A node whose app is stopped may still run its HTTP listener for a moment and answer 5xx: try the next one.
    if (response.status >= 500) {
      failures.push(`${node.name}: HTTP ${response.status}`);
      continue;
    }
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`management API ${method} ${path} on ${node.name}: HTTP ${response.status}`);
    const text = await response.text();
    return text ? (JSON.parse(text) as T) : undefined;
  }
  throw new Error(`management API ${method} ${path}: no cluster node answered (${failures.join('; ')})`);
}

/** Where a queue lives, per the management API: the node of a classic queue, the leader of a quorum queue. */
export interface QueuePlacement {
  readonly type: string;
  /** Erlang name of the classic queue's node or the quorum queue's leader. */
  readonly node: string;
  /** Index (1-3) of that node. */
  readonly index: 1 | 2 | 3;
  /** Quorum members that are online (empty for classic queues). */
  readonly online: readonly string[];
}

/** The placement of queue `name` in `vhost`, or `undefined` when the cluster does not know the queue (yet). */
export async function queuePlacement(name: string, vhost = '/'): Promise<QueuePlacement | undefined> {
  const info = await clusterManagement<{ type?: string; node?: string; leader?: string; online?: string[] }>(
    'GET',
    `queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
  );
  const node = info?.leader ?? info?.node;
  const index = RABBITMQ_CLUSTER_NODES.find((n) => n.name === node)?.index;
  if (info === undefined || node === undefined || index === undefined) return undefined;
  return { type: info.type ?? 'classic', node, index, online: info.online ?? [] };
}

/** Waits until queue `name` has a known placement (the management API sees a new queue a moment later). */
export function waitForQueuePlacement(name: string, vhost = '/', timeoutMs = 30_000): Promise<QueuePlacement> {
  return waitFor(() => queuePlacement(name, vhost), { timeoutMs, intervalMs: 250, what: `placement of queue ${name}` });
}

/**
 * Waits until the RabbitMQ cluster is whole again: every node running per the management API, and every node's
 * AMQP port accepting connections. Call it after mending a node, before the next test breaks one.
 */
export async function waitForRabbitClusterWhole(timeoutMs = 180_000): Promise<void> {
  await waitFor(
    async () => {
      const nodes = (await clusterManagement<{ name: string; running: boolean }[]>('GET', 'nodes')) ?? [];
      const running = nodes.filter((n) => n.running).map((n) => n.name);
      if (running.length !== RABBITMQ_CLUSTER_NODES.length) return false;
      const listening = await Promise.all(RABBITMQ_CLUSTER_URLS.map((url) => probe(url, 1000)));
      return listening.every(Boolean);
    },
    { timeoutMs, intervalMs: 500, what: 'all 3 RabbitMQ cluster nodes running and accepting AMQP connections' },
  );
}

/** Kills the Redis node on `port` (one of the cluster's or the sentinel group's) with SIGKILL. */
export async function killRedisNode(port: number): Promise<void> {
  await runClusterScript('redis-topologies.sh', ['kill', String(port)], 60_000);
}

/** Starts the Redis node on `port` again, as it was first started; resolves once it answers PING. */
export async function restartRedisNode(port: number): Promise<void> {
  await runClusterScript('redis-topologies.sh', ['restart', String(port)], 60_000);
}
