/**
 * The journal record of a RabbitMQ queue migration, its names, and the checks made before anything
 * changes (`migrate-queue.ts` runs the steps). A migration refuses to start, with a typed error and
 * what to do, whenever it could not prove its steps safe.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { BindingSpec, QueueMigration, QueueSpec } from '@wakame/core/spi';
import { InvalidArgumentError, InvalidOperationError, PreconditionFailedError } from '@wakame/core/spi';
import type { MigrationManagement } from './migration-broker.js';

/** The steps, in order; the journal names the one that was starting. */
export const MIGRATION_STEPS = ['hold', 'handover-in', 'drain', 'swap', 'handover-out', 'restore'] as const;
export type MigrationStep = (typeof MIGRATION_STEPS)[number];

/** What the journal holds (JSON; a type alias, so that it is a `Record<string, unknown>`). */
export type MigrationState = {
  readonly kind: typeof JOURNAL_KIND;
  /** Short random id; the fence message carries it. */
  readonly id: string;
  readonly queue: string;
  readonly step: MigrationStep;
  readonly from: QueueSpec;
  readonly to: QueueSpec;
  readonly bindings: readonly BindingSpec[];
  /** The queue's bindings when the migration started: handed over to the route exchange and back. */
  readonly liveBindings: readonly BindingSpec[];
  /** Consumers on the queue when the migration started. */
  readonly consumers: number;
  /** Counters as of the step's start (a crashed step's own counts are not known). */
  readonly moved: number;
  readonly duplicatesDropped: number;
  readonly transfers: number;
};

const JOURNAL_KIND = 'wakame.amqp.queue-migration';
/** RabbitMQ's limit on exchange and queue names (bytes). */
const MAX_NAME_BYTES = 255;

/** The migration's temporary entities for queue `q`. */
export function migrationNames(q: string): {
  readonly hold: string;
  readonly holding: string;
  readonly route: string;
  readonly backlog: string;
} {
  return {
    /** Fanout exchange: the route exchange's alternate exchange, feeding the holding queue. */
    hold: `wakame.migrate.${q}.hold`,
    /** Classic queue bound to `hold`: where new messages wait while the queue is replaced. */
    holding: `wakame.migrate.${q}`,
    /** Fanout exchange bound (e2e) from the queue's sources; routes to the new queue once it is bound. */
    route: `wakame.migrate.${q}.route`,
    /** Classic queue without bindings: the old queue's messages while it is replaced. */
    backlog: `wakame.migrate.${q}.backlog`,
  };
}

/** Argument checks that need no broker. @throws InvalidArgumentError */
export function checkMigration(m: QueueMigration): void {
  const q = m.from.name;
  const refuse = (why: string) => new InvalidArgumentError(`cannot migrate queue '${q}': ${why}`);
  if (q === '') throw refuse('a server-named queue cannot be migrated (its name is not stable)');
  if (m.to.name !== q) throw refuse(`the target is named '${m.to.name}'; a migration keeps the queue's name`);
  if (Buffer.byteLength(migrationNames(q).backlog) > MAX_NAME_BYTES) {
    throw refuse(`the migration's temporary names (wakame.migrate.${q}.backlog) would exceed ${MAX_NAME_BYTES} bytes`);
  }
  if (m.to.exclusive)
    throw refuse('an exclusive queue belongs to one connection: it cannot be the target of a migration');
  if (m.from.queueType === 'stream' || m.to.queueType === 'stream') {
    throw refuse('streams cannot be migrated by moving messages (a stream is read by offset, not consumed)');
  }
  if (m.to.queueType === 'quorum' && (!m.to.durable || m.to.autoDelete)) {
    throw refuse('a quorum queue must be durable and not auto-delete');
  }
  for (const b of m.bindings) {
    if (b.destinationType !== 'queue' || b.destination !== q) {
      throw refuse(`binding ${b.source} → ${b.destination} does not lead to the queue; pass only the queue's bindings`);
    }
  }
}

/**
 * The journal's record, when it is one of ours. Another queue's pending migration, or the same
 * queue's towards other settings, is refused: a half-done migration must finish first.
 * @throws InvalidOperationError
 */
export function journalState(
  raw: Readonly<Record<string, unknown>> | undefined,
  m: QueueMigration,
): MigrationState | undefined {
  if (raw === undefined) return undefined;
  if (raw.kind !== JOURNAL_KIND || typeof raw.queue !== 'string') {
    throw new InvalidOperationError(
      'the migration journal holds a record this migrator did not write; clear it only if no migration is under way',
    );
  }
  const state = raw as unknown as MigrationState;
  if (state.queue !== m.from.name) {
    throw new InvalidOperationError(
      `the migration of queue '${state.queue}' is not finished (it reached step '${state.step}'): ` +
        'run it again to complete it before migrating another queue',
    );
  }
  if (canonical(state.to) !== canonical(m.to) || !MIGRATION_STEPS.includes(state.step)) {
    throw new InvalidOperationError(
      `queue '${state.queue}' is half-way through a migration to other settings (step '${state.step}'): ` +
        'finish that migration with its original target first, then migrate again',
    );
  }
  return state;
}

/**
 * Looks at the broker and writes nothing: refuses when a step could not be proven safe, else the
 * initial state (the live bindings to hand over, the consumers to report).
 * @throws PreconditionFailedError
 */
export async function preflight(m: QueueMigration, management: MigrationManagement): Promise<MigrationState> {
  const q = m.from.name;
  const refuse = (why: string, hint: string) =>
    new PreconditionFailedError(`cannot migrate queue '${q}': ${why}; ${hint}`);
  const live = await management.queue(q);
  if (live === undefined) {
    throw refuse('it does not exist and the journal records no migration of it', 'declare it instead of migrating it');
  }
  if (live.exclusive) {
    throw refuse(
      'it is exclusive to another connection',
      'only its owner can use it; let that connection declare it anew',
    );
  }
  if (live.type === 'stream') throw refuse('it is a stream', 'streams are read by offset and cannot be drained');
  const names = migrationNames(q);
  const leftovers = [
    ...(await Promise.all([names.holding, names.backlog].map(async (n) => ((await management.queue(n)) ? n : '')))),
    ...(await Promise.all([names.hold, names.route].map(async (n) => ((await management.exchangeExists(n)) ? n : '')))),
  ].filter((n) => n !== '');
  if (leftovers.length > 0) {
    throw refuse(
      `${leftovers.join(', ')} exist but the journal records no migration`,
      'they are left from an interrupted migration whose journal was lost and may hold messages: ' +
        `move their messages back into '${q}', delete them, then run the migration again`,
    );
  }
  return {
    kind: JOURNAL_KIND,
    id: randomBytes(6).toString('hex'),
    queue: q,
    step: 'hold',
    from: m.from,
    to: m.to,
    bindings: m.bindings.filter((b) => b.source !== ''),
    liveBindings: await management.bindingsOf(q),
    consumers: live.consumers,
    moved: 0,
    duplicatesDropped: 0,
    transfers: 0,
  };
}

/** JSON with object keys sorted: two specs compare equal whatever order their keys were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
