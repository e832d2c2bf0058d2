/**
 * The planner and apply for the broker's own entities and for queue migrations, over a memory
 * broker whose admin is given a recording broker-entity admin and migrator (the real ones are tested
 * against RabbitMQ, file and Redis in their own suites).
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import {
  type BrokerEntities,
  type BrokerEntity,
  brokerEntityKey,
  type PolicySpec,
  Sensitive,
  type UserSpec,
} from '../../src/model/broker-entities.js';
import { applyPlan } from '../../src/topology/apply/apply.js';
import { stackMigrationJournal } from '../../src/topology/apply/migration-journal.js';
import type { DesiredTopology } from '../../src/topology/desired.js';
import { PlanRefusedError } from '../../src/topology/errors.js';
import { describeChange } from '../../src/topology/plan/change.js';
import { formatPlan } from '../../src/topology/plan/plan.js';
import { parseSavedPlan, savePlan } from '../../src/topology/plan/saved-plan.js';
import { planStack, readStackState, recordStack } from '../../src/topology/plan/stack.js';
import type { BrokerEntityAdmin, MigrationReport, QueueMigration, TopologyAdmin } from '../../src/transport/spi.js';
import { binding, exchange, queue } from './specs.js';

const NONE: BrokerEntities = { vhosts: [], users: [], permissions: [], topicPermissions: [], policies: [] };

/** A broker-entity admin keeping entities in a map; a "hash" is `plain:<password>`. */
class RecordingBrokerAdmin implements BrokerEntityAdmin {
  readonly vhost = '/';
  readonly entities = new Map<string, BrokerEntity>();
  readonly writes: BrokerEntity[] = [];
  readonly passwordMatches = (password: string, stored: NonNullable<UserSpec['credential']>) =>
    stored.kind === 'hash' && stored.hash === `plain:${password}`;
  async list(): Promise<BrokerEntities> {
    const all = [...this.entities.values()];
    const specs = <K extends BrokerEntity['kind']>(...kinds: K[]) =>
      all.filter((e) => (kinds as string[]).includes(e.kind)).map((e) => e.spec);
    return {
      vhosts: specs('vhost') as BrokerEntities['vhosts'],
      users: specs('user') as BrokerEntities['users'],
      permissions: specs('permission') as BrokerEntities['permissions'],
      topicPermissions: specs('topic-permission') as BrokerEntities['topicPermissions'],
      policies: (specs('policy', 'operator-policy') as PolicySpec[]).map((p) => ({ ...p, vhost: p.vhost ?? '/' })),
    };
  }
  async put(entity: BrokerEntity): Promise<void> {
    this.writes.push(entity);
    if (entity.kind === 'user' && entity.spec.credential?.kind === 'password') {
      const hash = `plain:${entity.spec.credential.password.reveal()}`;
      entity = { kind: 'user', spec: { ...entity.spec, credential: { kind: 'hash', hash, algorithm: 'plain' } } };
    }
    this.entities.set(brokerEntityKey(entity, this.vhost), entity);
  }
  async delete(entity: BrokerEntity): Promise<void> {
    this.entities.delete(brokerEntityKey(entity, this.vhost));
  }
}

const policy = (name: string, definition: PolicySpec['definition'], extra: Partial<PolicySpec> = {}): PolicySpec => ({
  name,
  operator: false,
  pattern: `^${name}$`,
  applyTo: 'queues',
  priority: 0,
  definition,
  ...extra,
});

function topology(broker: Partial<BrokerEntities> = {}, extra: Partial<DesiredTopology> = {}): DesiredTopology {
  return {
    exchanges: [exchange('tasks')],
    queues: [queue('lopri')],
    bindings: [binding('tasks', 'lopri')],
    broadcasts: [],
    priorityClasses: {},
    routes: [],
    tasks: [],
    broker: { ...NONE, ...broker },
    ...extra,
  };
}

describe('planning and applying broker entities and queue migrations', () => {
  const opened: Connection[] = [];
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
  });

  async function broker() {
    const c = await Connection.open(`memory://${randomUUID()}`);
    opened.push(c);
    const entities = new RecordingBrokerAdmin();
    const migrations: QueueMigration[] = [];
    const admin = new Proxy(c.admin, {
      get(target, property) {
        if (property === 'broker') return entities;
        if (property === 'migrateQueue')
          return async (m: QueueMigration): Promise<MigrationReport> => {
            migrations.push(m);
            await m.journal.write({ step: 'hold', to: m.to });
            await target.deleteQueue(m.to.name);
            await target.declareQueue(m.to);
            for (const b of m.bindings) await target.bind(b);
            await m.journal.clear();
            return { queue: m.to.name, inPlace: false, moved: 0, duplicatesDropped: 0, resumed: false };
          };
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as TopologyAdmin;
    return { c, admin, entities, migrations };
  }

  async function deploy(admin: TopologyAdmin, desired: DesiredTopology, options: Parameters<typeof applyPlan>[2] = {}) {
    const planned = await planStack(admin, desired, 'app', { migrate: options.migrate ?? false });
    const result = await applyPlan(planned.plan, admin, { stack: 'app', ...options });
    await recordStack(admin, planned, result);
    return { planned, result };
  }

  it('creates broker entities, re-plans clean, changes a policy in place and prunes only what it owns', async () => {
    const { admin, entities } = await broker();
    await entities.put({ kind: 'user', spec: { name: 'guest', tags: ['administrator'] } }); // the broker's own
    const first = topology({
      vhosts: [{ name: 'orders', tags: [] }],
      permissions: [{ user: 'svc', vhost: 'orders', configure: '^orders\\.', write: '.*', read: '.*' }],
      policies: [policy('lopri', { 'message-ttl': 60_000 })],
    });
    const { planned } = await deploy(admin, first);
    expect(planned.plan.changes.filter((c) => c.kind === 'create-entity')).toHaveLength(3);
    expect((await planStack(admin, first, 'app')).plan.noChanges).toBe(true);

    const changed = topology({ ...first.broker, policies: [policy('lopri', { 'message-ttl': 5_000 })] });
    const again = await planStack(admin, changed, 'app');
    const update = again.plan.changes.find((c) => c.kind === 'update-entity');
    expect(update && describeChange(update)).toBe(
      '~ policy lopri updated in place: definition: declared {"message-ttl":5000}, exists as {"message-ttl":60000}',
    );
    await deploy(admin, changed);
    expect(entities.entities.get(brokerEntityKey({ kind: 'policy', spec: policy('lopri', {}) }, '/'))).toMatchObject({
      spec: { definition: { 'message-ttl': 5_000 } },
    });

    const without = topology({ vhosts: first.broker?.vhosts ?? [] });
    const drift = await planStack(admin, without, 'app');
    expect(drift.plan.changes.filter((c) => c.kind === 'extraneous-entity').map(describeChange)).toEqual([
      '- policy lopri (vhost /) (owned, no longer declared; deleted with --prune)',
      '- permission svc on vhost orders (owned, no longer declared; deleted with --prune)',
    ]);
    await deploy(admin, without, { prune: true });
    expect([...entities.entities.keys()].sort()).toEqual(['user\u0000guest', 'vhost\u0000orders']);
    expect((await readStackState(admin, 'app')).owned.broker).toEqual(['vhost\u0000orders']);
  });

  it('refuses to prune a vhost without --force, and names it', async () => {
    const { admin } = await broker();
    await deploy(admin, topology({ vhosts: [{ name: 'scratch', tags: [] }] }));
    const planned = await planStack(admin, topology(), 'app');
    await expect(applyPlan(planned.plan, admin, { prune: true })).rejects.toThrow(
      /vhost scratch would be deleted with every queue and message in it \(needs --force\)/,
    );
  });

  it('compares passwords by hash and never shows one, in plans, JSON or saved plans', async () => {
    const { admin } = await broker();
    const user = (password: string): UserSpec => ({
      name: 'svc',
      tags: [],
      credential: { kind: 'password', password: new Sensitive(password) },
    });
    await deploy(admin, topology({ users: [user('s3cret-one')] }));
    expect((await planStack(admin, topology({ users: [user('s3cret-one')] }), 'app')).plan.noChanges).toBe(true);

    const planned = await planStack(admin, topology({ users: [user('s3cret-two')] }), 'app');
    const update = planned.plan.changes.find((c) => c.kind === 'update-entity');
    expect(update && describeChange(update)).toBe(
      '~ user svc updated in place: password: declared "(sensitive)", exists as "(sensitive)"',
    );
    const shown = [
      JSON.stringify(planned.plan),
      inspect(planned.plan, { depth: 10 }),
      formatPlan(planned.plan, { target: 'memory://', stack: 'app', recorded: true, verbose: true }).join('\n'),
    ].join('\n');
    expect(shown).not.toMatch(/s3cret|plain:/);

    const saved = JSON.parse(JSON.stringify(savePlan(planned, topology(), { url: 'memory://', transport: 'memory' })));
    expect(JSON.stringify(saved)).not.toMatch(/s3cret|plain:/);
    expect(() => parseSavedPlan(saved, 'plan.json')).toThrow(/sets a user's password, which a saved plan never holds/);
  });

  it('plans an immutable queue change as a migration only when asked, and carries it out with a journal', async () => {
    const { admin, migrations } = await broker();
    await deploy(admin, topology({}, { queues: [queue('lopri', { maxPriority: 5 })] }));
    const next = topology({}, { queues: [queue('lopri', { maxPriority: 10 })] });

    expect((await planStack(admin, next, 'app')).plan.changes.map((c) => c.kind)).toContain('replace-queue');
    const planned = await planStack(admin, next, 'app', { migrate: true });
    const change = planned.plan.changes.find((c) => c.kind === 'migrate-queue');
    expect(change && describeChange(change)).toBe(
      '» queue lopri will be MIGRATED, every message kept: arguments.x-max-priority: declared 10, exists as 5',
    );
    expect(planned.plan.destructive).toBe(false);

    const refused = await applyPlan(planned.plan, admin, { stack: 'app' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PlanRefusedError);
    expect((refused as PlanRefusedError).refusals.map((r) => r.lift)).toEqual(['--migrate']);

    const { result } = await deploy(admin, next, { migrate: true });
    expect(migrations).toHaveLength(1);
    expect(migrations[0]).toMatchObject({ from: { maxPriority: 5 }, to: { maxPriority: 10 } });
    expect(migrations[0]?.bindings).toEqual([binding('tasks', 'lopri')]);
    expect(result.migrations).toEqual([
      { queue: 'lopri', inPlace: false, moved: 0, duplicatesDropped: 0, resumed: false },
    ]);
    const state = await readStackState(admin, 'app');
    expect(state.migrations).toBeUndefined();
    expect((await planStack(admin, next, 'app')).plan.noChanges).toBe(true);
  });

  it('shows an interrupted migration as one to resume, even when the queue already has its new settings', async () => {
    const { admin } = await broker();
    const next = topology({}, { queues: [queue('lopri', { maxPriority: 10 })] });
    await deploy(admin, next);
    const stacks = admin.stacks;
    if (!stacks) throw new Error('memory keeps stack records');
    await stackMigrationJournal(stacks, 'app', 'lopri').write({
      step: 'restore',
      from: queue('lopri', { maxPriority: 5 }),
    });

    const planned = await planStack(admin, next, 'app');
    const change = planned.plan.changes.find((c) => c.kind === 'migrate-queue');
    expect(change && describeChange(change)).toBe(
      "» queue lopri migration resumes from step 'restore' (an earlier apply was interrupted; no message is lost)",
    );
    expect(planned.plan.noChanges).toBe(false);
    expect(refusalLifts(await applyPlan(planned.plan, admin).catch((e: unknown) => e))).toEqual(['--migrate']);
  });
});

function refusalLifts(error: unknown): string[] {
  return error instanceof PlanRefusedError ? error.refusals.map((r) => r.lift) : [];
}
