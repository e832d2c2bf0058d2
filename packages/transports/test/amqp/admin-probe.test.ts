/**
 * The batching decisions of `admin-probe.ts` without a broker: a fake batch host plays the broker
 * (the entities that exist, conflict or are unavailable) and fails a batch the way a channel close
 * does, at the first refused entity. The real broker's behaviour is in `admin-probe.int.test.ts`.
 */
import type { BindingSpec, ExchangeSpec, ProbeRequest, QueueSpec } from '@wakame/core/spi';
import { NotFoundError, PreconditionFailedError, QueueUnavailableError, TopologyConflictError } from '@wakame/core/spi';
import { describe, expect, it } from 'vitest';
import { type BatchHost, probeInBatches } from '../../src/amqp/admin-probe.js';

const queue = (name: string): QueueSpec => ({
  name,
  durable: true,
  exclusive: false,
  autoDelete: false,
  arguments: {},
});
const q = (name: string): ProbeRequest => ({ kind: 'queue', spec: queue(name) });

type State = 'missing' | 'conflict' | 'unavailable' | 'locked';

/** A broker in a map: names absent from it are equal; the batch fails at the first refused one. */
function fakeHost(states: Record<string, State>) {
  const batches: string[][] = [];
  const refusal = (name: string): Error | undefined => {
    const entity = { kind: 'queue' as const, name };
    switch (states[name]) {
      case 'missing':
        return new NotFoundError(entity);
      case 'conflict':
        return new TopologyConflictError(entity, [{ property: 'arguments.x-message-ttl', expected: 1, actual: 2 }]);
      case 'unavailable':
        return new QueueUnavailableError(name, 'down');
      case 'locked':
        return new PreconditionFailedError(`queue '${name}' is exclusive to another connection`);
      default:
        return undefined;
    }
  };
  const host: BatchHost = {
    onChannel: async (op) => {
      const sent: string[] = [];
      const ch = {
        reply: null,
        pending: [],
        sendImmediately: (_method: number, fields: { queue: string; passive: boolean }) => {
          if (fields.passive) sent.push(fields.queue);
        },
        prefetch: async () => {
          const failed = sent.map(refusal).find((e) => e !== undefined);
          if (failed) throw failed;
        },
      };
      await op(ch as never);
      batches.push(sent);
    },
    declareExchange: async (_spec: ExchangeSpec) => {},
    declareQueue: async (spec, options) => {
      const error = refusal(spec.name);
      if (error && !(options?.passive && states[spec.name] === 'conflict')) throw error;
      return { name: spec.name, messageCount: 7, consumerCount: 1 };
    },
    bind: async (_b: BindingSpec) => {},
    declared: () => {},
    bound: () => {},
  };
  return { host, batches };
}

describe('batched probes (decisions)', () => {
  it('pins each refusal on its entity and goes on after it', async () => {
    const { host } = fakeHost({ b: 'missing', d: 'conflict' });
    const results = await probeInBatches(host, ['a', 'b', 'c', 'd', 'e'].map(q));
    expect(results).toEqual([
      { state: 'equal' },
      { state: 'missing' },
      { state: 'equal' },
      {
        state: 'conflict',
        differences: [{ property: 'arguments.x-message-ttl', expected: 1, actual: 2 }],
        messageCount: 7,
        consumerCount: 1,
      },
      { state: 'equal' },
    ]);
  });

  it('throws QueueUnavailableError as it is, so plan refuses instead of calling the queue missing', async () => {
    const { host } = fakeHost({ c: 'unavailable' });
    await expect(probeInBatches(host, ['a', 'b', 'c', 'd'].map(q))).rejects.toBeInstanceOf(QueueUnavailableError);
  });

  it('probes alone from a refusal it cannot pin on one entity, and throws what the lone probe throws', async () => {
    const { host } = fakeHost({ c: 'locked' });
    await expect(probeInBatches(host, ['a', 'b', 'c', 'd'].map(q))).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  it('does not pin a refusal on a name the batch holds twice', async () => {
    const { host, batches } = fakeHost({ b: 'missing' });
    const results = await probeInBatches(host, ['b', 'a', 'b'].map(q));
    expect(results.map((r) => r.state)).toEqual(['missing', 'equal', 'missing']);
    expect(batches).toEqual([]);
  });

  it('restarts small after a refusal and grows again while batches succeed', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `n${i}`);
    const { host, batches } = fakeHost({ n0: 'missing' });
    const results = await probeInBatches(host, names.map(q));
    expect(results.map((r) => r.state)).toEqual(names.map((n) => (n === 'n0' ? 'missing' : 'equal')));
    expect(batches.map((b) => b.length)).toEqual([1, 2, 4, 8, 16, 8]);
  });
});
