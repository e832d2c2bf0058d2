/**
 * Failover under load on the private RabbitMQ cluster: publish a steady stream with confirms while the node the
 * publisher is connected to is stopped or killed, and count what happened to every message.
 *
 * Used by the cluster tests (which assert on the figures) and by `scripts/clusters/measure-failover.ts` (which
 * prints them). The scenario mends the cluster before it returns, so scenarios can run one after another.
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, type Message, Queue } from '@wakame/core';
import {
  clusterManagement,
  killRabbitNode,
  RABBITMQ_CLUSTER_NODES,
  rabbitClusterUrlFrom,
  rabbitNodeIndexOf,
  startRabbitNode,
  stopRabbitNode,
  waitForQueuePlacement,
  waitForRabbitClusterWhole,
} from './clusters.js';
import { randomName, waitFor } from './wait-for.js';

/** One failover scenario. */
export interface FailoverScenario {
  /** Names the scenario in results and tables. */
  readonly label: string;
  readonly queueType: 'classic' | 'quorum';
  /**
   * Which node the fault hits (and the publisher is connected to): the node holding the queue (the classic queue's
   * node, the quorum queue's leader), or another one.
   */
  readonly target: 'queue-node' | 'other-node';
  /** `stop`: `rabbitmqctl stop_app`, an announced shutdown. `kill`: SIGKILL of the node's VM. */
  readonly fault: 'stop' | 'kill';
  /** Messages to publish. @defaultValue 20_000 */
  readonly total?: number;
  /** Publish rate. @defaultValue 1_000 per second */
  readonly ratePerSecond?: number;
  /** The fault is injected once this many messages have been published. @defaultValue a quarter of `total` */
  readonly faultAfter?: number;
  /** How long the broken node stays down before it is brought back (while publishing goes on). @defaultValue 5_000 */
  readonly downMs?: number;
  /** Consumer prefetch. @defaultValue 200 */
  readonly prefetch?: number;
}

/** What happened to the messages of one {@link FailoverScenario}. */
export interface FailoverResult {
  readonly label: string;
  readonly fault: 'stop' | 'kill';
  readonly queueType: 'classic' | 'quorum';
  /** Erlang names: the node holding the queue when the fault hit, the node that was broken, the consumer's node. */
  readonly queueNode: string;
  readonly faultNode: string;
  readonly consumerNode: string;
  /** Publishes started (fewer than `total` only when the wall-time limit ended the loop). */
  readonly published: number;
  readonly confirmed: number;
  /** Publishes that rejected (refused by the broker, returned as unroutable, or failed by the client). */
  readonly rejected: number;
  /** Rejections by error code (`ERR_…`, or the error's name when it has no code). */
  readonly rejections: Readonly<Record<string, number>>;
  /** Publishes that neither confirmed nor rejected within the bound after the loop ended. */
  readonly unsettled: number;
  /** Confirmed but never delivered to the consumer: must be 0. */
  readonly lost: number;
  /** Of {@link FailoverResult.lost}, how many the queue still held at the end (consumer stuck, not data lost). */
  readonly stillQueued: number | undefined;
  /** Consumers the queue had at the end (1 when the consumer survived or came back). */
  readonly consumersAtEnd: number | undefined;
  /** Deliveries beyond the first of a message. */
  readonly duplicates: number;
  /** Publishes started and not yet settled when the fault was injected. */
  readonly inFlightAtFault: number;
  /** From the first to the last rejected publish (0 when none was rejected). */
  readonly refusalWindowMs: number;
  /** From the fault to the last rejected publish (0 when none was rejected). */
  readonly faultToLastRefusalMs: number;
  /** From the publisher's `connection.lost` to its `connection.revived`; `undefined` when it never lost or revived. */
  readonly reconnectMs: number | undefined;
  /** The same for the consumer's connection (on a node that is not broken it should not lose its connection). */
  readonly consumerReconnectMs: number | undefined;
  readonly durationMs: number;
}

const nodeName = (index: number): string => RABBITMQ_CLUSTER_NODES[index - 1]?.name ?? `#${index}`;

function codeOf(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown };
  return typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'unknown';
}

/** Tracks a connection's losses and revivals, for the reconnect time. */
function watchReconnect(connection: Connection): () => number | undefined {
  let lostAt: number | undefined;
  let revivedAfter: number | undefined;
  connection.events.on('connection.lost', () => {
    lostAt ??= performance.now();
  });
  connection.events.on('connection.revived', () => {
    if (lostAt !== undefined) revivedAfter ??= performance.now() - lostAt;
  });
  return () => (revivedAfter === undefined ? undefined : Math.round(revivedAfter));
}

/**
 * Runs one scenario against the private cluster (which must be whole) and mends the cluster afterwards. Never
 * throws for bad figures: the caller asserts on the result. Throws when the scenario itself cannot run (no
 * cluster, a node that does not come back).
 */
export async function runFailoverScenario(scenario: FailoverScenario): Promise<FailoverResult> {
  const total = scenario.total ?? 20_000;
  const rate = scenario.ratePerSecond ?? 1_000;
  const faultAfter = scenario.faultAfter ?? Math.floor(total / 4);
  const downMs = scenario.downMs ?? 5_000;
  const started = performance.now();
  await waitForRabbitClusterWhole();

  // A classic queue lives on the node whose connection declared it; a quorum queue's first leader is that node too.
  // Declaring through node 1 and then reading the placement back keeps the scenario true even if that changes.
  const name = randomName(`failover-${scenario.queueType}`);
  const queue = new Queue(name, {
    durable: true,
    ...(scenario.queueType === 'quorum' ? { queueType: 'quorum' as const } : {}),
  });
  const declaring = await Connection.open(rabbitClusterUrlFrom(1));
  try {
    await declaring.declare(queue);
  } finally {
    await declaring.close();
  }
  const placement = await waitForQueuePlacement(name);
  const faultIndex = scenario.target === 'queue-node' ? placement.index : (((placement.index % 3) + 1) as 1 | 2 | 3);
  // The consumer sits on a node the fault leaves alone (the queue's own node when that one survives).
  const consumerIndex = scenario.target === 'other-node' ? placement.index : (((faultIndex % 3) + 1) as 1 | 2 | 3);

  const recovery = { recovery: { initialDelayMs: 100, maxDelayMs: 1_000 } };
  const consumerConn = await Connection.open(rabbitClusterUrlFrom(consumerIndex), recovery);
  const publisherConn = await Connection.open(rabbitClusterUrlFrom(faultIndex), recovery);
  const consumerReconnect = watchReconnect(consumerConn);
  const publisherReconnect = watchReconnect(publisherConn);
  const connectedTo = rabbitNodeIndexOf(publisherConn.url);
  if (connectedTo !== faultIndex) {
    await Promise.all([publisherConn.close(), consumerConn.close()]);
    throw new Error(`publisher connected to ${publisherConn.url}, not to the node to break (${nodeName(faultIndex)})`);
  }

  const deliveries = new Map<number, number>();
  const consumer = consumerConn.consumer({
    queues: [name],
    prefetch: scenario.prefetch ?? 200,
    handler: async (message: Message) => {
      const { i } = message.payload as { i: number };
      deliveries.set(i, (deliveries.get(i) ?? 0) + 1);
      // An ack on a channel that died with its node cannot succeed; the broker redelivers the message.
      await message.ack().catch(() => undefined);
    },
  });
  await consumer.consume();

  const producer = publisherConn.producer({ routingKey: name });
  const confirmed = new Set<number>();
  const rejections: Record<string, number> = {};
  let rejected = 0;
  let firstRejectionAt: number | undefined;
  let lastRejectionAt: number | undefined;
  let outstanding = 0;
  let inFlightAtFault = 0;
  let faultAt = 0;
  let mending: Promise<void> | undefined;

  const publishOne = (i: number): void => {
    outstanding += 1;
    // `mandatory`: a message with no queue to take it (its classic queue's node is down) is refused, not dropped.
    producer.publish({ i }, { mandatory: true }).then(
      () => {
        confirmed.add(i);
        outstanding -= 1;
      },
      (error: unknown) => {
        const now = performance.now();
        rejected += 1;
        rejections[codeOf(error)] = (rejections[codeOf(error)] ?? 0) + 1;
        firstRejectionAt ??= now;
        lastRejectionAt = now;
        outstanding -= 1;
      },
    );
  };

  let faultError: unknown;
  const breakAndMend = async (): Promise<void> => {
    faultAt = performance.now();
    inFlightAtFault = outstanding;
    try {
      await (scenario.fault === 'stop' ? stopRabbitNode(faultIndex) : killRabbitNode(faultIndex));
      await sleep(Math.max(0, downMs - (performance.now() - faultAt)));
    } catch (error) {
      // Kept, not thrown here: publishing goes on, and the node is mended below before the scenario fails.
      faultError = error;
    }
    await startRabbitNode(faultIndex).catch((error: unknown) => {
      faultError ??= error;
    });
  };

  // Paced publishing: each turn publishes what is due by the clock, so the rate holds whatever the event loop does.
  // Bounded by the count and by a wall-time limit of twice the planned duration plus 30 s.
  const loopStart = performance.now();
  const wallLimitMs = (2 * total * 1000) / rate + 30_000;
  let published = 0;
  while (published < total && performance.now() - loopStart < wallLimitMs) {
    const due = Math.min(total, Math.floor(((performance.now() - loopStart) * rate) / 1000) + 1);
    while (published < due) {
      publishOne(published);
      published += 1;
      if (published === faultAfter) mending = breakAndMend();
    }
    await sleep(5);
  }

  await waitFor(() => outstanding === 0, { timeoutMs: 60_000, intervalMs: 50, what: 'every publish settled' }).catch(
    () => undefined,
  );
  const unsettled = outstanding;
  await mending;
  if (faultError !== undefined) {
    await Promise.all([publisherConn.close(), consumerConn.close()].map((p) => p.catch(() => undefined)));
    throw new Error(`${scenario.label}: could not break and mend ${nodeName(faultIndex)}`, { cause: faultError });
  }
  await waitForRabbitClusterWhole();

  // Wait for every confirmed message, or until deliveries stop coming for 10 s: then the rest is counted as lost.
  let seen = deliveries.size;
  let lastProgress = performance.now();
  const allDelivered = () => [...confirmed].every((i) => deliveries.has(i));
  await waitFor(
    () => {
      if (deliveries.size !== seen) {
        seen = deliveries.size;
        lastProgress = performance.now();
      }
      return allDelivered() || performance.now() - lastProgress > 10_000;
    },
    { timeoutMs: 120_000, intervalMs: 250, what: 'confirmed messages delivered' },
  ).catch(() => undefined);

  const lost = [...confirmed].filter((i) => !deliveries.has(i)).length;
  const queueInfo = await clusterManagement<{ messages?: number; consumers?: number }>(
    'GET',
    `queues/%2F/${encodeURIComponent(name)}`,
  ).catch(() => undefined);
  const duplicates = [...deliveries.values()].reduce((sum, n) => sum + n - 1, 0);
  await consumer.close().catch(() => undefined);
  await Promise.all([publisherConn.close(), consumerConn.close()].map((p) => p.catch(() => undefined)));
  await clusterManagement('DELETE', `queues/%2F/${encodeURIComponent(name)}`).catch(() => undefined);

  return {
    label: scenario.label,
    fault: scenario.fault,
    queueType: scenario.queueType,
    queueNode: placement.node,
    faultNode: nodeName(faultIndex),
    consumerNode: nodeName(consumerIndex),
    published,
    confirmed: confirmed.size,
    rejected,
    rejections,
    unsettled,
    lost,
    stillQueued: queueInfo?.messages,
    consumersAtEnd: queueInfo?.consumers,
    duplicates,
    inFlightAtFault,
    refusalWindowMs:
      firstRejectionAt === undefined || lastRejectionAt === undefined
        ? 0
        : Math.round(lastRejectionAt - firstRejectionAt),
    faultToLastRefusalMs: lastRejectionAt === undefined ? 0 : Math.round(lastRejectionAt - faultAt),
    reconnectMs: publisherReconnect(),
    consumerReconnectMs: consumerReconnect(),
    durationMs: Math.round(performance.now() - started),
  };
}

/** The figures of `results` as a fixed-width table, one scenario a line. */
export function failoverTable(results: readonly FailoverResult[]): string {
  const header = [
    'scenario',
    'published',
    'confirmed',
    'lost',
    'still queued',
    'dups',
    'rejected',
    'unsettled',
    'refusal ms',
    'reconnect ms',
  ];
  const rows = results.map((r) => [
    r.label,
    String(r.published),
    String(r.confirmed),
    String(r.lost),
    r.stillQueued === undefined ? '?' : String(r.stillQueued),
    String(r.duplicates),
    String(r.rejected),
    String(r.unsettled),
    String(r.refusalWindowMs),
    r.reconnectMs === undefined ? '-' : String(r.reconnectMs),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
