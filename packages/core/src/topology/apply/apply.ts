/**
 * `apply(plan, admin)`: makes the broker match the plan. Every refusal is decided first, before any
 * change ({@link refusalsOf}); then the changes run phase by phase (the bindings through the admin's
 * `bindMany` when it has one: many per round trip). Deletes are conditional
 * (`ifEmpty`/`ifUnused`) unless `force`: a message that reached a queue after the plan was made
 * stops the apply instead of being lost. Unchanged entities cost nothing (no declaring round-trip),
 * so a second apply is free.
 *
 * @module
 */
import { InvalidOperationError } from '../../errors.js';
import { forEachConcurrently } from '../../internal/concurrency.js';
import { type BrokerEntityKind, describeBrokerEntity } from '../../model/broker-entities.js';
import type { MigrationReport, TopologyAdmin } from '../../transport/spi.js';
import { ApplyFailedError, PlanRefusedError, type Refusal } from '../errors.js';
import { atRisk, type Change, describeBinding, describeEntity, type EntityRef } from '../plan/change.js';
import type { Plan } from '../plan/plan.js';
import { stackMigrationJournal } from './migration-journal.js';

/** Options of {@link applyPlan}. */
export interface ApplyOptions {
  /** Replace exchanges and queues whose immutable properties changed. @defaultValue false */
  readonly allowDestructive?: boolean;
  /**
   * Also drop queues that hold messages or have consumers (replaced or pruned), exchanges with
   * bindings of other owners, and delete without `ifEmpty`/`ifUnused`. @defaultValue false
   */
  readonly force?: boolean;
  /** Delete the stack's entities that the topology no longer declares. @defaultValue false */
  readonly prune?: boolean;
  /** Declarations in flight at once. @defaultValue 16 */
  readonly concurrency?: number;
  /**
   * Carry out `migrate-queue` changes: move each queue to its new settings with every message kept.
   * @defaultValue false
   */
  readonly migrate?: boolean;
  /** The stack whose state record journals migrations (needed for `migrate`). */
  readonly stack?: string;
  /** Called after each change is made. */
  readonly onProgress?: (done: number, total: number, change: Change) => void;
  /** Called as a migration goes (step started, messages moved). */
  readonly onMigration?: (progress: { readonly queue: string; readonly step: string; readonly moved: number }) => void;
  readonly signal?: AbortSignal;
}

/** How long one phase (replacements, creates, binds, prunes…) took. */
export interface PhaseTiming {
  readonly phase: string;
  readonly changes: number;
  readonly durationMs: number;
}

/** What apply did. */
export interface ApplyResult {
  readonly applied: readonly Change[];
  /** Owned entities no longer declared, left in place (no `prune`). */
  readonly kept: readonly Change[];
  readonly phases: readonly PhaseTiming[];
  readonly durationMs: number;
  /** What each queue migration did (messages moved, duplicates dropped). */
  readonly migrations: readonly MigrationReport[];
}

/**
 * Everything that stops `plan` from being applied with `options`, in plan order. Empty when it can
 * go ahead.
 */
export function refusalsOf(plan: Plan, options: ApplyOptions = {}, admin?: TopologyAdmin): Refusal[] {
  const refusals: Refusal[] = [];
  const unowned = new Set(plan.unowned.map(entityKey));
  const foreignBindings = plan.foreign.flatMap((f) => (f.kind === 'binding' ? [f.binding] : []));
  const refuse = (change: Change, reason: string, lift: Refusal['lift'] = '--force') =>
    refusals.push({ change, reason, lift });
  for (const c of plan.changes) {
    switch (c.kind) {
      case 'replace-exchange':
      case 'replace-queue': {
        const entity: EntityRef =
          c.kind === 'replace-queue'
            ? { kind: 'queue', name: c.queue.name }
            : { kind: 'exchange', name: c.exchange.name };
        if (!options.allowDestructive)
          refuse(c, `${describeEntity(entity)} must be replaced (needs --allow-destructive)`, '--allow-destructive');
        if (unowned.has(entityKey(entity)) && !options.force)
          refuse(c, `${describeEntity(entity)} is not owned by this stack (adopt it first, or --force)`);
        if (c.kind === 'replace-queue' && !options.force && (c.messageCount !== 0 || (c.consumerCount ?? 0) > 0))
          refuse(
            c,
            `queue ${c.queue.name}${load(c.messageCount, c.consumerCount)} would lose them if replaced (needs --force)`,
          );
        if (c.kind === 'replace-exchange' && !options.force) {
          const others = foreignBindings.filter(
            (b) => b.source === c.exchange.name || b.destination === c.exchange.name,
          );
          if (others.length > 0)
            refuse(
              c,
              `exchange ${c.exchange.name} has ${others.length} binding(s) of other owners that a replace would drop (needs --force): ${others.map(describeBinding).join(', ')}`,
            );
        }
        break;
      }
      case 'migrate-queue':
        if (!options.migrate)
          refuse(
            c,
            `queue ${c.queue.name} ${c.resumeFrom !== undefined ? 'has a migration to finish' : 'must be migrated'} (needs --migrate)`,
            '--migrate',
          );
        else if (!admin?.migrateQueue || !admin.stacks || options.stack === undefined)
          refuse(
            c,
            `queue ${c.queue.name} cannot be migrated: this transport cannot move a queue's messages resumably`,
            '',
          );
        if (unowned.has(entityKey({ kind: 'queue', name: c.queue.name })) && !options.force)
          refuse(c, `queue ${c.queue.name} is not owned by this stack (adopt it first, or --force)`);
        break;
      case 'update-entity':
        if (unowned.has(entityKey({ kind: 'broker', entity: c.entity })) && !options.force)
          refuse(c, `${describeBrokerEntity(c.entity)} is not owned by this stack (adopt it first, or --force)`);
        break;
      case 'extraneous-entity':
        if (options.prune && !options.force && c.entity.kind === 'vhost')
          refuse(c, `vhost ${c.entity.spec.name} would be deleted with every queue and message in it (needs --force)`);
        break;
      case 'extraneous-queue':
        if (options.prune && !options.force && (c.messageCount !== 0 || (c.consumerCount ?? 0) > 0))
          refuse(
            c,
            `queue ${c.queue.name}${load(c.messageCount, c.consumerCount)} would lose them if pruned (needs --force)`,
          );
        break;
      case 'extraneous-exchange': {
        const others = foreignBindings.filter((b) => b.source === c.exchange.name);
        if (options.prune && !options.force && others.length > 0)
          refuse(
            c,
            `exchange ${c.exchange.name} still routes to ${others.length} binding(s) of other owners (needs --force): ${others.map(describeBinding).join(', ')}`,
          );
        break;
      }
      default:
        break;
    }
  }
  return refusals;
}

/** @throws {@link PlanRefusedError} listing every {@link refusalsOf} `plan` with `options`. */
export function assertApplicable(plan: Plan, options: ApplyOptions = {}, admin?: TopologyAdmin): void {
  const refusals = refusalsOf(plan, options, admin);
  if (refusals.length > 0) throw new PlanRefusedError(refusals, hintFor(refusals));
}

/**
 * The changes `applyPlan` makes, phase by phase, in order: what a caller shows or counts before
 * applying is exactly what will be done. Owned, undeclared entities are deleted only with `prune`.
 */
export function applyPhases(
  plan: Plan,
  options: Pick<ApplyOptions, 'prune'> = {},
): readonly (readonly [phase: string, changes: readonly Change[]])[] {
  const byKind = (kinds: readonly Change['kind'][]) => plan.changes.filter((c) => kinds.includes(c.kind));
  const entities = (kind: Change['kind'], ...of: BrokerEntityKind[]) =>
    plan.changes.filter((c) => c.kind === kind && 'entity' in c && 'spec' in c.entity && of.includes(c.entity.kind));
  const writing = (...of: BrokerEntityKind[]) => [
    ...entities('create-entity', ...of),
    ...entities('update-entity', ...of),
  ];
  const phases: [string, Change[]][] = [
    // Vhosts and users before what names them; policies before the queues they shape.
    ['vhosts', writing('vhost')],
    ['users', writing('user')],
    ['permissions', writing('permission', 'topic-permission')],
    ['policies', writing('policy', 'operator-policy')],
    // Replacements first, queues before exchanges: deleting an exchange must not leave a queue bound to nothing.
    ['replace queues', byKind(['replace-queue'])],
    ['replace exchanges', byKind(['replace-exchange'])],
    ['create exchanges', byKind(['create-exchange'])],
    ['create queues', byKind(['create-queue'])],
    // After the exchanges they are bound from exist; one at a time (each moves a whole queue).
    ['migrate queues', byKind(['migrate-queue'])],
    // An unverifiable binding is bound (idempotently); nothing else unverifiable needs doing.
    [
      'bind',
      plan.changes.filter((c) => c.kind === 'bind' || (c.kind === 'unverifiable' && c.entity.kind === 'binding')),
    ],
  ];
  if (options.prune) {
    phases.push(
      ['unbind', byKind(['extraneous-binding'])],
      ['delete queues', byKind(['extraneous-queue'])],
      ['delete exchanges', byKind(['extraneous-exchange'])],
      ['delete policies', entities('extraneous-entity', 'policy', 'operator-policy')],
      ['delete permissions', entities('extraneous-entity', 'permission', 'topic-permission')],
      ['delete users', entities('extraneous-entity', 'user')],
      ['delete vhosts', entities('extraneous-entity', 'vhost')],
    );
  }
  return phases.filter(([, changes]) => changes.length > 0);
}

/** Executes `plan` against `admin`. @throws {@link PlanRefusedError} before touching anything. */
export async function applyPlan(plan: Plan, admin: TopologyAdmin, options: ApplyOptions = {}): Promise<ApplyResult> {
  const started = performance.now();
  assertApplicable(plan, options, admin);

  const phases = applyPhases(plan, options);
  const extraneous = plan.changes.filter((c) => c.kind.startsWith('extraneous'));
  const migrations: MigrationReport[] = [];

  const total = phases.reduce((n, [, changes]) => n + changes.length, 0);
  const applied: Change[] = [];
  const timings: PhaseTiming[] = [];
  const force = options.force ?? false;
  for (const [phase, changes] of phases) {
    const phaseStarted = performance.now();
    // The helper lets the changes in flight finish after a failure, so `applied` is exact.
    let failed: Change | undefined;
    const concurrency = phase === 'migrate queues' ? 1 : (options.concurrency ?? 16);
    if (phase === 'bind' && admin.bindMany) {
      const failure = await bindAll(changes, admin.bindMany.bind(admin), (change) => {
        applied.push(change);
        options.onProgress?.(applied.length, total, change);
      });
      if (failure) throw new ApplyFailedError(applied, failure.change, failure.error);
      timings.push({ phase, changes: changes.length, durationMs: performance.now() - phaseStarted });
      continue;
    }
    await forEachConcurrently(changes, concurrency, async (change) => {
      try {
        if (change.kind === 'migrate-queue') migrations.push(await migrate(change, admin, options));
        else await execute(change, admin, force);
        applied.push(change);
        options.onProgress?.(applied.length, total, change);
      } catch (error) {
        failed ??= change;
        throw error;
      }
    }).catch((error: unknown) => {
      throw new ApplyFailedError(applied, failed as Change, error);
    });
    timings.push({ phase, changes: changes.length, durationMs: performance.now() - phaseStarted });
  }
  return {
    applied,
    kept: options.prune ? [] : extraneous,
    phases: timings,
    durationMs: performance.now() - started,
    migrations,
  };
}

/** The binding {@link bindAll} stopped at, and why. */
interface BindFailure {
  readonly change: Change;
  readonly error: unknown;
}

/**
 * The bind phase through the admin's `bindMany` (few round trips): it reports how many bindings,
 * in order, were made, so `applied` stays exact when one fails.
 */
async function bindAll(
  changes: readonly Change[],
  bindMany: NonNullable<TopologyAdmin['bindMany']>,
  done: (change: Change) => void,
): Promise<BindFailure | undefined> {
  const bindings = changes.flatMap((c) =>
    c.kind === 'bind'
      ? [c.binding]
      : c.kind === 'unverifiable' && c.entity.kind === 'binding'
        ? [c.entity.binding]
        : [],
  );
  // The bind phase holds nothing else (applyPhases), but keep the pairing honest.
  if (bindings.length !== changes.length)
    throw new InvalidOperationError('the bind phase holds a change that is no binding');
  const { bound, error } = await bindMany(bindings);
  for (const change of changes.slice(0, bound)) done(change);
  if (error === undefined && bound >= changes.length) return undefined;
  return {
    change: changes[bound] as Change,
    error: error ?? new InvalidOperationError(`bindMany stopped after ${bound} of ${changes.length} bindings`),
  };
}

async function migrate(
  change: Extract<Change, { kind: 'migrate-queue' }>,
  admin: TopologyAdmin,
  options: ApplyOptions,
): Promise<MigrationReport> {
  // refusalsOf made sure all three are there.
  const stacks = admin.stacks as NonNullable<TopologyAdmin['stacks']>;
  const run = admin.migrateQueue?.bind(admin) as NonNullable<TopologyAdmin['migrateQueue']>;
  return run({
    from: change.from,
    to: change.queue,
    bindings: change.bindings,
    journal: stackMigrationJournal(stacks, options.stack as string, change.queue.name),
    allowConsumers: options.force ?? false,
    ...(options.onMigration ? { onProgress: options.onMigration } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

async function execute(change: Change, admin: TopologyAdmin, force: boolean): Promise<void> {
  // Conditional deletes: what arrived after the plan was made makes the broker refuse, not lose it.
  const queueGuard = force ? {} : { ifEmpty: true, ifUnused: true };
  switch (change.kind) {
    case 'create-exchange':
      return admin.declareExchange(change.exchange);
    case 'create-queue':
      await admin.declareQueue(change.queue);
      return;
    case 'bind':
      return admin.bind(change.binding);
    case 'replace-exchange':
      await admin.deleteExchange(change.exchange.name);
      return admin.declareExchange(change.exchange);
    case 'replace-queue':
      await admin.deleteQueue(change.queue.name, queueGuard);
      await admin.declareQueue(change.queue);
      return;
    case 'unverifiable':
      // Declaring is idempotent: an existing equal entity is left as it is.
      if (change.entity.kind === 'binding') return admin.bind(change.entity.binding);
      return;
    case 'extraneous-binding':
      return admin.unbind(change.binding);
    case 'extraneous-queue':
      await admin.deleteQueue(change.queue.name, queueGuard);
      return;
    case 'extraneous-exchange':
      return admin.deleteExchange(change.exchange.name, force ? {} : { ifUnused: true });
    case 'create-entity':
    case 'update-entity':
      return brokerAdmin(admin).put(change.entity);
    case 'extraneous-entity':
      return brokerAdmin(admin).delete(change.entity);
    case 'migrate-queue':
    case 'unchanged':
      return;
  }
}

function brokerAdmin(admin: TopologyAdmin): NonNullable<TopologyAdmin['broker']> {
  if (!admin.broker) throw new InvalidOperationError('this transport keeps no vhosts, users, permissions or policies');
  return admin.broker;
}

function hintFor(refusals: readonly Refusal[]): string {
  const flags = [...new Set(refusals.map((r) => r.lift))].filter((f) => f !== '').sort();
  if (flags.length === 0) return 'Nothing was changed. Resolve the problems named above, then plan again.';
  if (flags.length === 1 && flags[0] === '--migrate')
    return 'Nothing was changed. Re-run with --migrate to move the queues to their new settings, keeping every message.';
  return `Nothing was changed. Review the entities named above; if losing what they hold is intended, re-run with ${flags.join(' ')}.`;
}

function load(messages: number | undefined, consumers: number | undefined): string {
  const text = atRisk(messages, consumers);
  return text ? ` holding ${text}` : '';
}

function entityKey(e: EntityRef): string {
  if (e.kind === 'broker') return `broker\u0000${describeBrokerEntity(e.entity)}`;
  return e.kind === 'binding' ? `binding\u0000${describeBinding(e.binding)}` : `${e.kind}\u0000${e.name}`;
}
