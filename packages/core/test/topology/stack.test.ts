import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { StackLockedError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import { applyPlan } from '../../src/topology/apply/apply.js';
import type { DesiredTopology } from '../../src/topology/desired.js';
import { ApplyFailedError, PlanRefusedError, StalePlanError } from '../../src/topology/errors.js';
import { parseSavedPlan, savePlan, verifySavedPlan } from '../../src/topology/plan/saved-plan.js';
import { lockHolder, lockStack, planStack, readStackState, recordStack } from '../../src/topology/plan/stack.js';
import { binding, exchange, queue } from './specs.js';

/** Exchange `tasks` with one bound queue per name. */
function topology(names: string[], extra: Partial<DesiredTopology> = {}): DesiredTopology {
  return {
    exchanges: [exchange('tasks')],
    queues: names.map((n) => queue(n)),
    bindings: names.map((n) => binding('tasks', n)),
    broadcasts: [],
    priorityClasses: {},
    routes: [],
    tasks: [],
    ...extra,
  };
}

describe('stacks: ownership, safe prune, drift, saved plans, locks', () => {
  const opened: Connection[] = [];
  const open = async (name = randomUUID()) => {
    const c = await Connection.open(`memory://${name}`);
    opened.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
  });

  /** Plans, applies (with `options`) and records, as `wakame apply` does. */
  async function deploy(c: Connection, desired: DesiredTopology, options: Parameters<typeof applyPlan>[2] = {}) {
    const planned = await planStack(c.admin, desired, 'app');
    const result = await applyPlan(planned.plan, c.admin, options);
    await recordStack(c.admin, planned, result);
    return result;
  }

  /** A foreign application's queue (Celery-like), holding messages, on the same broker. */
  async function foreignCeleryQueue(c: Connection): Promise<void> {
    await c.admin.declareExchange({ ...exchange('celery') });
    await c.admin.declareQueue(queue('celery'));
    await c.admin.bind(binding('celery', 'celery'));
    await c.producer().publish({ task: 'proj.add' }, { exchange: 'celery', routingKey: 'celery' });
  }

  it('records what apply created, and never lists or prunes entities of other owners', async () => {
    const c = await open();
    await foreignCeleryQueue(c);
    await deploy(c, topology(['a', 'b']));
    const state = await readStackState(c.admin, 'app');
    expect(state.owned).toEqual({
      exchanges: ['tasks'],
      queues: ['a', 'b'],
      bindings: [binding('tasks', 'a'), binding('tasks', 'b')],
    });
    const { plan } = await planStack(c.admin, topology(['a', 'b']), 'app');
    expect(plan.noChanges).toBe(true);
    expect(plan.changes.some((x) => x.kind.startsWith('extraneous'))).toBe(false);
    expect(
      plan.foreign.map((f) =>
        f.kind === 'binding'
          ? `bind ${f.binding.source}`
          : f.kind === 'queue'
            ? `queue ${f.queue.name}`
            : `exchange ${f.exchange.name}`,
      ),
    ).toEqual(['bind celery', 'queue celery', 'exchange celery']);
    await applyPlan(plan, c.admin, { prune: true, force: true });
    expect((await c.admin.declareQueue(queue('celery'), { passive: true })).messageCount).toBe(1);
  });

  it('never counts the queues Wakame makes at run time as extraneous', async () => {
    const c = await open();
    const desired = topology(['a'], { broadcasts: [{ exchange: 'news', queuePrefix: 'news', durable: true }] });
    await deploy(c, desired);
    const runtime = [
      'wakame.dead-letter',
      'wakame.delay.1000ms.tasks.a',
      `wakame.reply.${randomUUID()}`,
      `news.${randomUUID()}`,
      `bcast.${randomUUID()}`,
    ];
    for (const name of runtime) await c.admin.declareQueue(queue(name));
    const { plan } = await planStack(c.admin, desired, 'app');
    expect(plan.noChanges).toBe(true);
    expect(plan.foreign).toEqual([]);
  });

  it('refuses to prune an owned queue holding messages before making any change, and names it', async () => {
    const c = await open();
    await deploy(c, topology(['keep', 'drop']));
    await c.producer().publish('x', { exchange: 'tasks', routingKey: 'drop' });
    const planned = await planStack(c.admin, topology(['keep', 'new']), 'app');
    const refused = await applyPlan(planned.plan, c.admin, { prune: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PlanRefusedError);
    expect((refused as PlanRefusedError).message).toContain(
      'queue drop holding 1 message(s) would lose them if pruned (needs --force)',
    );
    // Refused before the first change: 'new' was not created either.
    expect((await c.admin.inspect()).queues.map((q) => q.name).sort()).toEqual(['drop', 'keep']);
    await applyPlan(planned.plan, c.admin, { prune: true, force: true });
    expect((await c.admin.inspect()).queues.map((q) => q.name).sort()).toEqual(['keep', 'new']);
  });

  it('loses no message that arrives between plan and apply (prune and replace delete with ifEmpty)', async () => {
    const c = await open();
    await deploy(c, topology(['keep', 'drop', 'changed']));
    const next: DesiredTopology = {
      ...topology(['keep']),
      queues: [queue('changed', { maxPriority: 5 }), queue('keep')],
      bindings: [binding('tasks', 'changed'), binding('tasks', 'keep')],
    };
    const planned = await planStack(c.admin, next, 'app');
    // Both arrive after the plan counted the queues empty.
    await c.producer().publish('late', { exchange: 'tasks', routingKey: 'drop' });
    await c.producer().publish('late', { exchange: 'tasks', routingKey: 'changed' });
    const failure = await applyPlan(planned.plan, c.admin, { prune: true, allowDestructive: true }).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(ApplyFailedError);
    expect((failure as ApplyFailedError).code).toBe('ERR_APPLY_FAILED');
    expect((await c.admin.declareQueue(queue('changed'), { passive: true })).messageCount).toBe(1);
    expect((await c.admin.declareQueue(queue('drop'), { passive: true })).messageCount).toBe(1);
  });

  it('counts drift as a change: an owned entity deleted by hand, or no longer declared', async () => {
    const c = await open();
    await deploy(c, topology(['a', 'b']));
    await c.admin.deleteQueue('a');
    const deleted = await planStack(c.admin, topology(['a', 'b']), 'app');
    expect(deleted.plan.noChanges).toBe(false);
    expect(deleted.plan.counts['create-queue']).toBe(1);
    await deploy(c, topology(['a', 'b']));
    const undeclared = await planStack(c.admin, topology(['a']), 'app');
    expect(undeclared.plan.noChanges).toBe(false);
    expect(undeclared.plan.counts).toMatchObject({ 'extraneous-queue': 1, 'extraneous-binding': 1 });
  });

  it('takes over existing declared entities only when adopted, and refuses to replace one it does not own', async () => {
    const c = await open();
    await c.admin.declareExchange(exchange('tasks'));
    await c.admin.declareQueue(queue('legacy'));
    const planned = await planStack(c.admin, topology(['legacy']), 'app');
    expect(planned.plan.unowned.map((e) => e.kind)).toEqual(['exchange', 'queue']);
    const changed: DesiredTopology = { ...topology(['legacy']), queues: [queue('legacy', { maxPriority: 3 })] };
    const replace = await planStack(c.admin, changed, 'app');
    await expect(applyPlan(replace.plan, c.admin, { allowDestructive: true })).rejects.toThrow(
      'queue legacy is not owned by this stack (adopt it first, or --force)',
    );
    // Adopt: record the declared entities that exist as owned.
    const applied = await applyPlan(planned.plan, c.admin);
    await recordStack(c.admin, planned, applied, { adopt: true });
    expect((await readStackState(c.admin, 'app')).owned.queues).toEqual(['legacy']);
    const after = await planStack(c.admin, topology([]), 'app');
    expect(after.plan.counts['extraneous-queue']).toBe(1);
  });

  it('applies a saved plan only while the live state it was made from still holds', async () => {
    const c = await open();
    const target = { url: 'memory://x', transport: 'memory' };
    await deploy(c, topology(['a']));
    const desired = topology(['a', 'b']);
    const saved = parseSavedPlan(
      JSON.parse(JSON.stringify(savePlan(await planStack(c.admin, desired, 'app'), desired, target))),
      'plan.json',
    );
    // Unchanged broker (a message arriving does not count): it applies.
    await c.producer().publish('m', { exchange: 'tasks', routingKey: 'a' });
    verifySavedPlan(saved, await planStack(c.admin, saved.desired, 'app'), target);
    expect(() => verifySavedPlan(saved, { ...saved, stack: 'app' } as never, { url: 'memory://y' })).toThrow(
      StalePlanError,
    );
    // An owned entity changed by hand: stale.
    await c.admin.unbind(binding('tasks', 'a'));
    await expect(async () =>
      verifySavedPlan(saved, await planStack(c.admin, saved.desired, 'app'), target),
    ).rejects.toThrow("the live state of stack 'app' changed since the plan was made");
    // Another apply in between (one that changed what the stack owns): stale, by serial.
    await deploy(c, topology(['a', 'c']));
    await expect(async () =>
      verifySavedPlan(saved, await planStack(c.admin, saved.desired, 'app'), target),
    ).rejects.toMatchObject({
      code: 'ERR_PLAN_STALE',
      message: expect.stringContaining('state serial 1 → 2'),
    });
  });

  it('lets one apply hold a stack at a time, waiting or failing clearly', async () => {
    const name = randomUUID();
    const [one, two] = [await open(name), await open(name)];
    const held = await lockStack(one.admin, 'app', { timeoutMs: 0, operation: 'apply' });
    const refused = await lockStack(two.admin, 'app', { timeoutMs: 0, operation: 'apply' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StackLockedError);
    expect((refused as StackLockedError).message).toMatch(/stack 'app' is locked by wakame apply by .+ \(pid \d+\)/);
    // Another stack is independent.
    await (await lockStack(two.admin, 'other', { timeoutMs: 0, operation: 'apply' }))?.release();
    const waiting = lockStack(two.admin, 'app', { timeoutMs: 60_000, operation: 'apply' });
    await held?.release();
    await (await waiting)?.release();
  });

  it('writes the record only when ownership changed, so a no-op apply keeps saved plans valid', async () => {
    const c = await open();
    await deploy(c, topology(['a']));
    expect((await readStackState(c.admin, 'app')).serial).toBe(1);
    await deploy(c, topology(['a']));
    expect((await readStackState(c.admin, 'app')).serial).toBe(1);
    await deploy(c, topology(['a', 'b']));
    expect((await readStackState(c.admin, 'app')).serial).toBe(2);
  });

  it('refuses an invalid stack name', async () => {
    const c = await open();
    await expect(readStackState(c.admin, '../etc')).rejects.toThrow("invalid stack name '../etc'");
    expect(lockHolder('apply').description).toMatch(/^wakame apply by /);
  });
});
