/**
 * What exists on the broker, for `plan`. A transport that can list its state (virtual stores, or
 * RabbitMQ with the management API) is simply listed. Otherwise each desired entity is probed
 * through AMQP: a passive declare says whether it exists, and an identical active declare says
 * whether it is equivalent (a conflict fails with 406 and changes nothing; an identical declaration
 * of an existing entity creates nothing). Probing never declares what does not exist. An admin
 * with `probeEntities` (AMQP) does the same for many entities per round trip; one without (the
 * local transports, where a call is cheap) is probed entity by entity.
 *
 * @module
 */
import { InvalidOperationError, NotFoundError, TopologyConflictError } from '../../errors.js';
import { forEachConcurrently } from '../../internal/concurrency.js';
import { brokerEntityList, NO_BROKER_ENTITIES } from '../../model/broker-entities.js';
import type {
  ExchangeSpec,
  ObservedTopology,
  ProbeRequest,
  ProbeResult,
  QueueSpec,
  TopologyAdmin,
} from '../../transport/spi.js';
import type { DesiredTopology } from '../desired.js';
import type { LiveBroker } from './diff-broker.js';

/** The outcome of probing one entity (the SPI's type; see {@link TopologyAdmin.probeEntities}). */
export type { ProbeResult } from '../../transport/spi.js';

/** Live state: listed in full, or probed entity by entity. */
export type LiveState =
  | { readonly kind: 'listed'; readonly observed: ObservedTopology }
  | {
      readonly kind: 'probed';
      readonly exchanges: ReadonlyMap<string, ProbeResult>;
      readonly queues: ReadonlyMap<string, ProbeResult>;
    };

/** Options of {@link observe}. */
export interface ObserveOptions {
  /**
   * Probes run at most this many at once. (A conflicting probe closes the AMQP channel it ran on;
   * the AMQP admin gives each operation a channel of its own, so parallel probes stay separate.)
   * @defaultValue 8
   */
  readonly concurrency?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Reads the live state relevant to `desired`. */
export async function observe(
  admin: TopologyAdmin,
  desired: DesiredTopology,
  options: ObserveOptions = {},
): Promise<LiveState> {
  const listed = await admin.inspect();
  if (listed.complete) return { kind: 'listed', observed: listed };
  const exchanges = new Map<string, ProbeResult>();
  const queues = new Map<string, ProbeResult>();
  if (admin.probeEntities) {
    // Many entities per round trip (the transport batches them), each result as a lone probe finds it.
    const requests: ProbeRequest[] = [
      ...desired.exchanges.map((spec) => ({ kind: 'exchange' as const, spec })),
      ...desired.queues.map((spec) => ({ kind: 'queue' as const, spec })),
    ];
    const results = await admin.probeEntities(requests, (done) => options.onProgress?.(done, requests.length));
    requests.forEach((request, i) => {
      const result = results[i];
      if (!result)
        throw new InvalidOperationError(`probeEntities gave no result for ${request.kind} ${request.spec.name}`);
      (request.kind === 'exchange' ? exchanges : queues).set(request.spec.name, result);
    });
    return { kind: 'probed', exchanges, queues };
  }
  const jobs: (() => Promise<void>)[] = [
    ...desired.exchanges.map((e) => async () => {
      exchanges.set(e.name, await probeExchange(admin, e));
    }),
    ...desired.queues.map((q) => async () => {
      queues.set(q.name, await probeQueue(admin, q));
    }),
  ];
  let done = 0;
  await forEachConcurrently(jobs, options.concurrency ?? 8, async (job) => {
    await job();
    done++;
    options.onProgress?.(done, jobs.length);
  });
  return { kind: 'probed', exchanges, queues };
}

async function probeExchange(admin: TopologyAdmin, spec: ExchangeSpec): Promise<ProbeResult> {
  try {
    await admin.declareExchange(spec, { passive: true });
  } catch (error) {
    if (error instanceof NotFoundError) return { state: 'missing' };
    throw error;
  }
  try {
    await admin.declareExchange(spec);
    return { state: 'equal' };
  } catch (error) {
    if (error instanceof TopologyConflictError) return { state: 'conflict', differences: error.differences };
    throw error;
  }
}

async function probeQueue(admin: TopologyAdmin, spec: QueueSpec): Promise<ProbeResult> {
  let messageCount: number;
  let consumerCount: number;
  try {
    ({ messageCount, consumerCount } = await admin.declareQueue(spec, { passive: true }));
  } catch (error) {
    if (error instanceof NotFoundError) return { state: 'missing' };
    throw error;
  }
  try {
    await admin.declareQueue(spec);
    return { state: 'equal', messageCount };
  } catch (error) {
    if (error instanceof TopologyConflictError)
      return { state: 'conflict', differences: error.differences, messageCount, consumerCount };
    throw error;
  }
}

/**
 * Lists the broker's own entities when they matter to this plan: the topology declares some, or
 * the stack owns some (to be pruned). `undefined` when the transport keeps none.
 */
export async function observeBroker(
  admin: TopologyAdmin,
  desired: DesiredTopology,
  ownsSome: boolean,
): Promise<LiveBroker | undefined> {
  const broker = admin.broker;
  if (!broker) return undefined;
  const declares = brokerEntityList(desired.broker ?? NO_BROKER_ENTITIES).length > 0;
  if (!declares && !ownsSome) return undefined;
  return {
    vhost: broker.vhost,
    entities: await broker.list(),
    ...(broker.passwordMatches ? { passwordMatches: broker.passwordMatches } : {}),
  };
}
