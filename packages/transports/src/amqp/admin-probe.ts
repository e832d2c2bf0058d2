/**
 * Probing and binding many entities per broker round trip (`plan` and `apply` without the
 * management API). Each batch goes out on one admin channel as `nowait` methods (`nowait.ts`) —
 * per entity a passive declare then an identical active declare — and ends with one synchronous
 * call. Because a channel stops at the first failing method:
 *
 * - the batch succeeded: every entity in it exists and is equivalent;
 * - the channel closed: every entity before the failing one is equal, the failing one is named by
 *   the reply text — 404 on its passive declare (missing: its active declare, queued behind, never
 *   ran, so nothing is created) or 406 on its active one (a conflict, with the differing argument) —
 *   and the rest did not run: they go again in the next batch, on a fresh channel.
 *
 * A failure that cannot be pinned on exactly one entity of the batch (another reply code, a name
 * twice in the batch, a lost connection) sends the rest of that batch down the lone path (one
 * passive and one active declare each, awaited), which throws exactly what it throws today; a
 * queue whose node is down (`QueueUnavailableError`) is thrown as it is, so `plan` refuses.
 *
 * After a failure the next batch starts small and doubles while it succeeds, so a broker where most
 * entities are missing costs about one round trip per missing entity (as probing one by one does),
 * not a resent batch each.
 *
 * @module
 */
import type {
  BindingSpec,
  BulkBindResult,
  ExchangeSpec,
  ProbeRequest,
  ProbeResult,
  QueueDeclareResult,
  QueueSpec,
} from '@wakame/core/spi';
import { NotFoundError, QueueUnavailableError, TopologyConflictError } from '@wakame/core/spi';
import type { Channel } from 'amqplib';
import { isConnectionError } from './errors.js';
import { barrier, type NowaitMethod, sendNowait } from './nowait.js';

/** Entities per batch (two methods each): large enough to amortise the round trip, small enough to resend. */
export const PROBE_BATCH = 200;
/** Bindings per batch. */
export const BIND_BATCH = 400;
/** Batches probed at once, each on an admin channel of its own. */
export const PROBE_PARALLEL = 4;

/** What the batching needs from the admin. */
export interface BatchHost {
  /** Runs `op` alone on an idle admin channel (one round trip); errors come back mapped to Wakame errors. */
  onChannel(op: (ch: Channel) => Promise<void>): Promise<void>;
  /** The lone declares (they record what they declare, and map errors with the entity named). */
  declareExchange(spec: ExchangeSpec, options?: { passive?: boolean }): Promise<void>;
  declareQueue(spec: QueueSpec, options?: { passive?: boolean }): Promise<QueueDeclareResult>;
  bind(binding: BindingSpec): Promise<void>;
  /** An entity was found declared equivalently in a batch: record it as a lone active declare would. */
  declared(request: ProbeRequest): void;
  /** A binding was made in a batch: record it. */
  bound(binding: BindingSpec): void;
}

/** Probes `requests` in batches; one result per request, in order. */
export async function probeInBatches(
  host: BatchHost,
  requests: readonly ProbeRequest[],
  onProgress?: (done: number) => void,
): Promise<ProbeResult[]> {
  const results: ProbeResult[] = new Array(requests.length);
  let done = 0;
  const settle = (index: number, result: ProbeResult): void => {
    results[index] = result;
    onProgress?.(++done);
  };
  const chunks: number[][] = [];
  for (let i = 0; i < requests.length; i += PROBE_BATCH)
    chunks.push(Array.from({ length: Math.min(PROBE_BATCH, requests.length - i) }, (_, k) => i + k));
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < chunks.length && !failure) {
      const chunk = chunks[next++] as number[];
      try {
        await probeChunk(host, requests, chunk, settle);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROBE_PARALLEL, chunks.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

/** Probes the requests at `indices`, batch after batch on fresh channels, adapting the batch size. */
async function probeChunk(
  host: BatchHost,
  requests: readonly ProbeRequest[],
  indices: readonly number[],
  settle: (index: number, result: ProbeResult) => void,
): Promise<void> {
  let offset = 0;
  let size = indices.length;
  while (offset < indices.length) {
    const batch = indices.slice(offset, offset + size);
    // Names the broker cannot take as a declare of its own go the lone way (the default exchange, server-named queues).
    const lone = batch.findIndex((i) => (requests[i] as ProbeRequest).spec.name === '');
    if (lone === 0) {
      const index = batch[0] as number;
      settle(index, await probeOne(host, requests[index] as ProbeRequest));
      offset++;
      continue;
    }
    const sent = lone > 0 ? batch.slice(0, lone) : batch;
    try {
      await host.onChannel(async (ch) => {
        sendNowait(
          ch,
          sent.flatMap((i) => probeMethods(requests[i] as ProbeRequest)),
        );
        await barrier(ch);
      });
      for (const i of sent) equal(host, requests, i, settle);
      offset += sent.length;
      size = Math.min(indices.length, size * 2);
    } catch (error) {
      if (error instanceof QueueUnavailableError) throw error;
      const at = failedAt(requests, sent, error);
      if (at === undefined) {
        // Not attributable to one entity: the lone path for the rest, which fails (or not) exactly as it always did.
        for (const i of indices.slice(offset)) settle(i, await probeOne(host, requests[i] as ProbeRequest));
        return;
      }
      for (const i of sent.slice(0, at)) equal(host, requests, i, settle);
      const index = sent[at] as number;
      settle(index, await failedResult(host, requests[index] as ProbeRequest, error));
      offset += at + 1;
      // Where one entity failed, the next may too: start small again, grow while batches succeed.
      size = Math.max(1, Math.min(indices.length, at * 2));
    }
  }
}

function probeMethods(r: ProbeRequest): NowaitMethod[] {
  return r.kind === 'exchange'
    ? [
        { method: 'exchange.declare', spec: r.spec, passive: true },
        { method: 'exchange.declare', spec: r.spec, passive: false },
      ]
    : [
        { method: 'queue.declare', spec: r.spec, passive: true },
        { method: 'queue.declare', spec: r.spec, passive: false },
      ];
}

function equal(
  host: BatchHost,
  requests: readonly ProbeRequest[],
  index: number,
  settle: (index: number, result: ProbeResult) => void,
): void {
  const request = requests[index] as ProbeRequest;
  host.declared(request);
  // A nowait declare has no declare-ok, so no message count: `plan` does not use it for an equal queue.
  settle(index, { state: 'equal' });
}

/**
 * Which entity of the batch (position in `sent`) the broker refused: the one its reply text names.
 * `undefined` when the error is not a 404/406 naming exactly one entity of the batch.
 */
function failedAt(requests: readonly ProbeRequest[], sent: readonly number[], error: unknown): number | undefined {
  if (isConnectionError(error)) return undefined;
  if (!(error instanceof NotFoundError) && !(error instanceof TopologyConflictError)) return undefined;
  const { kind, name } = error.entity;
  const matches = sent.flatMap((i, at) => {
    const r = requests[i] as ProbeRequest;
    return r.kind === kind && r.spec.name === name ? [at] : [];
  });
  return matches.length === 1 ? matches[0] : undefined;
}

/** The result for the entity the broker refused in a batch. */
async function failedResult(host: BatchHost, request: ProbeRequest, error: unknown): Promise<ProbeResult> {
  if (error instanceof NotFoundError) return { state: 'missing' };
  const differences = (error as TopologyConflictError).differences;
  if (request.kind === 'exchange') return { state: 'conflict', differences };
  // A conflict is rare and its counts decide whether a replace is refused: ask for them alone.
  const { messageCount, consumerCount } = await host.declareQueue(request.spec, { passive: true });
  return { state: 'conflict', differences, messageCount, consumerCount };
}

/** One entity the lone way: a passive declare, then (when it exists) an identical active one. */
export async function probeOne(host: BatchHost, request: ProbeRequest): Promise<ProbeResult> {
  let counts: QueueDeclareResult | undefined;
  try {
    if (request.kind === 'exchange') await host.declareExchange(request.spec, { passive: true });
    else counts = await host.declareQueue(request.spec, { passive: true });
  } catch (error) {
    if (error instanceof NotFoundError) return { state: 'missing' };
    throw error;
  }
  try {
    if (request.kind === 'exchange') await host.declareExchange(request.spec);
    else await host.declareQueue(request.spec);
    return counts ? { state: 'equal', messageCount: counts.messageCount } : { state: 'equal' };
  } catch (error) {
    if (!(error instanceof TopologyConflictError)) throw error;
    return counts
      ? {
          state: 'conflict',
          differences: error.differences,
          messageCount: counts.messageCount,
          consumerCount: counts.consumerCount,
        }
      : { state: 'conflict', differences: error.differences };
  }
}

/**
 * Binds in order, batch after batch. A batch that fails is bound again binding by binding (binding
 * is idempotent), which stops at exactly the binding that fails, with the error a lone bind gives.
 */
export async function bindInBatches(host: BatchHost, bindings: readonly BindingSpec[]): Promise<BulkBindResult> {
  for (let start = 0; start < bindings.length; start += BIND_BATCH) {
    const batch = bindings.slice(start, start + BIND_BATCH);
    try {
      await host.onChannel(async (ch) => {
        sendNowait(
          ch,
          batch.map((binding) => ({ method: 'bind', binding })),
        );
        await barrier(ch);
      });
      for (const b of batch) host.bound(b);
    } catch {
      for (const [k, b] of batch.entries()) {
        try {
          await host.bind(b);
        } catch (error) {
          return { bound: start + k, error: error instanceof Error ? error : new Error(String(error)) };
        }
      }
    }
  }
  return { bound: bindings.length };
}
