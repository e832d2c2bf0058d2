import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import { applyPlan } from '../../src/topology/apply/apply.js';
import type { DesiredTopology } from '../../src/topology/desired.js';
import { PlanRefusedError } from '../../src/topology/errors.js';
import { describeChange } from '../../src/topology/plan/change.js';
import { diff } from '../../src/topology/plan/diff.js';
import { observe } from '../../src/topology/plan/observe.js';
import { planStack, recordStack } from '../../src/topology/plan/stack.js';
import type { QueueSpec, TopologyAdmin } from '../../src/transport/spi.js';
import { binding, exchange, queue } from './specs.js';

function topology(queues: QueueSpec[] = [queue('hipri', { maxPriority: 10 }), queue('lopri')]): DesiredTopology {
  return {
    exchanges: [exchange('tasks')],
    queues,
    bindings: queues.map((q) => binding('tasks', q.name, q.name)),
    broadcasts: [],
    priorityClasses: {},
    routes: [],
    tasks: [],
  };
}

/** The same admin, but unable to list: forces the AMQP-style probing path. */
function unlisted(admin: TopologyAdmin): TopologyAdmin {
  return { ...admin, inspect: async () => ({ exchanges: [], queues: [], bindings: [], complete: false }) };
}

describe('plan and apply', () => {
  const opened: Connection[] = [];
  const open = async () => {
    const c = await Connection.open(`memory://${randomUUID()}`);
    opened.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
  });

  it('creates everything on an empty broker, then reports no changes on the second run', async () => {
    const c = await open();
    const desired = topology();
    const first = diff(desired, await observe(c.admin, desired));
    expect(first.changes.map(describeChange)).toEqual([
      '+ exchange tasks (direct, durable)',
      '+ queue hipri (max priority 10)',
      '+ queue lopri',
      '+ bind tasks → hipri [hipri]',
      '+ bind tasks → lopri [lopri]',
    ]);
    await applyPlan(first, c.admin);
    const second = diff(desired, await observe(c.admin, desired));
    expect(second.noChanges).toBe(true);
    expect(second.counts).toEqual({ unchanged: 5 });
  });

  it('makes no declaring round-trip for unchanged entities', async () => {
    const c = await open();
    const desired = topology();
    await applyPlan(diff(desired, await observe(c.admin, desired)), c.admin);
    const calls: string[] = [];
    const counting = new Proxy(c.admin, {
      get: (target, prop) => {
        const value = Reflect.get(target, prop);
        return typeof value === 'function'
          ? (...args: unknown[]) => {
              calls.push(String(prop));
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            }
          : value;
      },
    });
    const plan = diff(desired, await observe(counting, desired));
    await applyPlan(plan, counting);
    expect(calls).toEqual(['inspect']);
  });

  it('refuses a destructive replacement before any change, and performs it when allowed', async () => {
    const c = await open();
    await applyPlan(diff(topology(), await observe(c.admin, topology())), c.admin);
    const changed = topology([queue('hipri', { maxPriority: 5 }), queue('lopri'), queue('new')]);
    const plan = diff(changed, await observe(c.admin, changed));
    expect(plan.destructive).toBe(true);
    expect(plan.changes.map(describeChange)).toContain(
      '~ queue hipri must be REPLACED (destructive): arguments.x-max-priority: declared 5, exists as 10',
    );
    await expect(applyPlan(plan, c.admin)).rejects.toBeInstanceOf(PlanRefusedError);
    // Nothing happened: the new queue was not created.
    expect((await c.admin.inspect()).queues.map((q) => q.name).sort()).toEqual(['hipri', 'lopri']);
    await applyPlan(plan, c.admin, { allowDestructive: true });
    expect(diff(changed, await observe(c.admin, changed)).noChanges).toBe(true);
  });

  it('does not drop a queue holding messages without force', async () => {
    const c = await open();
    await applyPlan(diff(topology(), await observe(c.admin, topology())), c.admin);
    await c.producer().publish({ keep: 'me' }, { exchange: 'tasks', routingKey: 'hipri' });
    const changed = topology([queue('hipri', { maxPriority: 5 }), queue('lopri')]);
    const plan = diff(changed, await observe(c.admin, changed));
    await expect(applyPlan(plan, c.admin, { allowDestructive: true })).rejects.toMatchObject({
      code: 'ERR_PLAN_REFUSED',
      message: expect.stringContaining('queue hipri holding 1 message(s) would lose them if replaced'),
    });
    await applyPlan(plan, c.admin, { allowDestructive: true, force: true });
    expect(diff(changed, await observe(c.admin, changed)).noChanges).toBe(true);
  });

  it('reports owned entities no longer declared as drift, and deletes them only with prune', async () => {
    const c = await open();
    const first = await planStack(c.admin, topology(), 'app');
    await recordStack(c.admin, first, await applyPlan(first.plan, c.admin));
    const smaller = topology([queue('hipri', { maxPriority: 10 })]);
    const { plan } = await planStack(c.admin, smaller, 'app');
    expect(plan.noChanges).toBe(false);
    expect(plan.changes.filter((x) => x.kind.startsWith('extraneous')).map(describeChange)).toEqual([
      '- bind tasks → lopri [lopri] (owned, no longer declared; removed with --prune)',
      '- queue lopri (owned, no longer declared; deleted with --prune)',
    ]);
    const kept = await applyPlan(plan, c.admin);
    expect(kept.kept).toHaveLength(2);
    expect((await c.admin.inspect()).queues.map((q) => q.name)).toContain('lopri');
    await applyPlan(plan, c.admin, { prune: true });
    expect((await c.admin.inspect()).queues.map((q) => q.name)).toEqual(['hipri']);
  });

  it('probes entity by entity when the transport cannot list, never creating anything while planning', async () => {
    const c = await open();
    const admin = unlisted(c.admin);
    const desired = topology();
    const plan = diff(desired, await observe(admin, desired));
    expect(plan.complete).toBe(false);
    expect((await c.admin.inspect()).queues).toEqual([]);
    await applyPlan(plan, admin);
    const again = diff(desired, await observe(admin, desired));
    expect(again.counts).toEqual({ unchanged: 3, unverifiable: 2 });
    const changed = topology([queue('hipri', { maxPriority: 5 }), queue('lopri')]);
    const conflict = diff(changed, await observe(admin, changed));
    expect(conflict.changes.find((x) => x.kind === 'replace-queue')).toMatchObject({
      queue: { name: 'hipri' },
      differences: [{ property: 'arguments.x-max-priority', expected: 5, actual: 10 }],
    });
  });

  it('applies a large topology concurrently with progress', async () => {
    const c = await open();
    const queues = Array.from({ length: 300 }, (_, i) => queue(`q${String(i).padStart(3, '0')}`));
    const desired = topology(queues);
    const progress: number[] = [];
    const result = await applyPlan(diff(desired, await observe(c.admin, desired)), c.admin, {
      onProgress: (done) => progress.push(done),
    });
    expect(result.applied).toHaveLength(1 + 300 + 300);
    expect(progress.at(-1)).toBe(601);
    expect(diff(desired, await observe(c.admin, desired)).noChanges).toBe(true);
  });
});
