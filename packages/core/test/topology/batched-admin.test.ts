/**
 * `observe` and `applyPlan` with an admin that batches (`probeEntities`, `bindMany`, as the AMQP
 * admin has): the batched calls are used instead of one call per entity, their results plan
 * exactly what the lone path plans, and a bind that fails mid-batch leaves `applied` exact.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import { applyPlan } from '../../src/topology/apply/apply.js';
import type { DesiredTopology } from '../../src/topology/desired.js';
import { ApplyFailedError } from '../../src/topology/errors.js';
import { diff } from '../../src/topology/plan/diff.js';
import { observe } from '../../src/topology/plan/observe.js';
import type { BindingSpec, ProbeRequest, TopologyAdmin } from '../../src/transport/spi.js';
import { binding, exchange, queue } from './specs.js';

const desired = (n: number): DesiredTopology => ({
  exchanges: [exchange('tasks')],
  queues: Array.from({ length: n }, (_, i) => queue(`q${i}`)),
  bindings: Array.from({ length: n }, (_, i) => binding('tasks', `q${i}`)),
  broadcasts: [],
  priorityClasses: {},
  routes: [],
  tasks: [],
});

/** `admin` unable to list, with batch calls built from its lone calls (counted). */
function batching(admin: TopologyAdmin, calls: string[], failBindAt?: number): TopologyAdmin {
  const lone = { ...admin, inspect: async () => ({ exchanges: [], queues: [], bindings: [], complete: false }) };
  return {
    ...lone,
    // Only apply's creates declare alone; a probe would be passive.
    declareQueue: (spec, options) =>
      options?.passive ? Promise.reject(new Error('a lone probe while batching')) : admin.declareQueue(spec),
    probeEntities: async (requests: readonly ProbeRequest[]) => {
      calls.push(`probe ${requests.length}`);
      const live = await observe(lone, { ...desired(0), ...split(requests) });
      if (live.kind !== 'probed') throw new Error('expected probing');
      return requests.map((r) => (r.kind === 'exchange' ? live.exchanges : live.queues).get(r.spec.name) as never);
    },
    bindMany: async (bindings: readonly BindingSpec[]) => {
      calls.push(`bind ${bindings.length}`);
      for (const [i, b] of bindings.entries()) {
        if (i === failBindAt) return { bound: i, error: new NotFoundError({ kind: 'exchange', name: b.source }) };
        await admin.bind(b);
      }
      return { bound: bindings.length };
    },
  };
}

function split(requests: readonly ProbeRequest[]) {
  return {
    exchanges: requests.flatMap((r) => (r.kind === 'exchange' ? [r.spec] : [])),
    queues: requests.flatMap((r) => (r.kind === 'queue' ? [r.spec] : [])),
  };
}

describe('an admin that batches', () => {
  const opened: Connection[] = [];
  const open = async () => {
    const c = await Connection.open(`memory://${randomUUID()}`);
    opened.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
  });

  it('is probed and bound in one call each, planning what the lone path plans', async () => {
    const c = await open();
    const topology = desired(5);
    await applyPlan(diff(topology, await observe(c.admin, topology)), c.admin);
    await c.admin.deleteQueue('q3');
    const calls: string[] = [];
    const admin = batching(c.admin, calls);
    const lonePlan = diff(topology, await observe({ ...c.admin, inspect: admin.inspect }, topology));
    const plan = diff(topology, await observe(admin, topology));
    expect(plan).toEqual(lonePlan);
    const result = await applyPlan(plan, admin);
    expect(calls).toEqual(['probe 6', 'bind 5']);
    expect(result.applied.filter((ch) => ch.kind !== 'create-queue')).toHaveLength(5);
  });

  it('reports exactly the bindings made before the one that failed', async () => {
    const c = await open();
    const topology = desired(4);
    await applyPlan(diff(topology, await observe(c.admin, topology)), c.admin);
    const admin = batching(c.admin, [], 2);
    const plan = diff(topology, await observe(admin, topology));
    const error = await applyPlan(plan, admin).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyFailedError);
    const failed = error as ApplyFailedError;
    expect(failed.applied).toHaveLength(2);
    expect(failed.failed).toMatchObject({ entity: { kind: 'binding', binding: { destination: 'q2' } } });
    expect(failed.cause).toBeInstanceOf(NotFoundError);
  });
});
