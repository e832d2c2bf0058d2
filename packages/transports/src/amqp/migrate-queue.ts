/**
 * Migrating a RabbitMQ queue to settings it cannot change in place (`x-max-priority`,
 * `x-queue-type`, durability, …) without losing or duplicating a message while publishers keep
 * publishing. Names (`migrationNames`): exchange A (`.hold`, fanout) feeding queue T, exchange M
 * (`.route`, fanout, alternate exchange A), queue H (`.backlog`). The steps, each journaled before it
 * starts and each idempotent, so a killed process resumes where it was:
 *
 * 1. `hold`: declare A, T (bound to A), M, H.
 * 2. `handover-in`: bind every source of Q's live bindings to M (e2e, same key and arguments); M has
 *    no queue, so its messages go to A → T. Unbind Q. Then publish a fence (header
 *    `x-wakame-fence: <id>`) to T, confirmed. T's messages before the fence (S) were routed while
 *    both routes existed: each has a twin in Q, except those routed between the unbind and the fence.
 * 3. `drain`: read S from T up to the fence (kept unacked), then move Q to H with the transactional
 *    mover, dropping each Q message whose identity S holds (one per copy). Closing the reader puts S
 *    and the fence back in T, in place.
 * 4. `swap`: delete Q if empty (else drain again), declare Q with the new settings, bind Q to M. From
 *    then on M routes to Q instead of to A: T stops growing, nothing falls between the two.
 * 5. `handover-out`: bind Q to the desired bindings (a message reachable by two routes still lands
 *    once), then unbind M from the sources and delete it.
 * 6. `restore`: move H, then T (fences dropped), into Q; delete H, T and A.
 *
 * Changes from the design brief: the fence stays in T until `restore` (a drain resumed after a crash
 * must find it again, so it is never acked in `drain`); A and M are `internal` (no client can
 * publish into them by mistake); `swap` on a quorum Q checks emptiness itself (RabbitMQ 3.x answers
 * `if-empty` on a quorum queue with a connection error); a drain repeated inside `swap` drops no
 * duplicates (the first drain already removed every twin; only publishes by the queue's name come in).
 *
 * @module
 */
import type { MigrationReport, QueueMigration } from '@wakame/core/spi';
import { PreconditionFailedError } from '@wakame/core/spi';
import type { ChannelModel, GetMessage } from 'amqplib';
import type { ManagementEndpoint } from './management.js';
import { toAssertQueue } from './mapping.js';
import { FENCE_HEADER, IdentityMultiset, isFence, messageIdentity } from './message-identity.js';
import { MessageMover, type MoveOptions, type MoveTotals } from './message-mover.js';
import { MigrationChannel, MigrationManagement } from './migration-broker.js';
import {
  checkMigration,
  journalState,
  MIGRATION_STEPS,
  type MigrationState,
  type MigrationStep,
  migrationNames,
  preflight,
} from './migration-state.js';

export { MIGRATION_STEPS, type MigrationStep, migrationNames } from './migration-state.js';

/** How many times `swap` and `restore` go round when messages keep arriving by the queue's name. */
const ROUNDS = 5;

/** What the migrator needs from the AMQP transport. */
export interface AmqpMigrationHost {
  /** The live connection (waits through a recovery, bounded). */
  connection(): Promise<ChannelModel>;
  /** The management API (`managementEndpoint(url, options.managementUrl)`). */
  readonly management: ManagementEndpoint;
  /** The connection's vhost. */
  readonly vhost: string;
}

/** {@link MigrationReport}, plus what only RabbitMQ can say. */
export interface AmqpMigrationReport extends MigrationReport {
  /** The migration's id (its fence and its journal record carry it). */
  readonly id: string;
  /**
   * Consumers on the queue when the migration started. They may have consumed a message whose twin
   * waited in the holding queue (delivered twice), and messages they held unacked when the old
   * queue was deleted are gone unless they ack them (a requeue finds no queue).
   */
  readonly consumers: number;
}

/**
 * Migrates `migration.from` to `migration.to` (see the module description); resumes from the
 * journal when an earlier run was interrupted. Refuses before changing anything when a step could
 * not be proven safe.
 *
 * @throws InvalidArgumentError for a migration that can never work (other name, a stream, …)
 * @throws InvalidOperationError when the journal records another unfinished migration
 * @throws PreconditionFailedError when the broker's state does not allow a safe migration
 */
export async function migrateQueue(host: AmqpMigrationHost, migration: QueueMigration): Promise<AmqpMigrationReport> {
  checkMigration(migration);
  migration.signal?.throwIfAborted();
  const management = new MigrationManagement(host.management, host.vhost);
  const saved = journalState(await migration.journal.read(), migration);
  if (saved === undefined && !migration.allowConsumers)
    await refuseConsumers(await host.connection(), migration.from.name);
  const state = saved ?? (await preflight(migration, management));
  const run = new MigrationRun(await host.connection(), management, migration, state);
  const final = await run.execute();
  await migration.journal.clear();
  return {
    queue: final.queue,
    inPlace: false,
    moved: final.moved,
    duplicatesDropped: final.duplicatesDropped,
    resumed: saved !== undefined,
    id: final.id,
    consumers: final.consumers,
  };
}

/**
 * A queue with consumers is not migrated without `allowConsumers`: re-declaring it drops what they
 * hold unacknowledged, and a message published during the hand-over could reach them twice. The
 * count comes from the broker itself (the management API's lags by its statistics interval).
 */
async function refuseConsumers(connection: ChannelModel, queue: string): Promise<void> {
  const channel = await connection.createChannel();
  // A missing queue closes the channel with a 404: without a listener amqplib would raise it on the connection.
  channel.on('error', () => undefined);
  let consumers: number;
  try {
    ({ consumerCount: consumers } = await channel.checkQueue(queue));
  } catch {
    return; // Gone or unreachable: the preflight says which, with its own refusal.
  } finally {
    await channel.close().catch(() => undefined);
  }
  if (consumers > 0) {
    throw new PreconditionFailedError(
      `cannot migrate queue '${queue}': it has ${consumers} consumer(s), which would lose the messages they hold unacknowledged when it is declared again; stop them (or scale the workers to zero) and apply again, or --force to go ahead`,
    );
  }
}

/** One process's run of a migration, from the journaled step to the end. */
class MigrationRun {
  readonly #names: ReturnType<typeof migrationNames>;
  readonly #ops: MigrationChannel;
  #state: MigrationState;

  constructor(
    private readonly connection: ChannelModel,
    private readonly management: MigrationManagement,
    private readonly migration: QueueMigration,
    state: MigrationState,
  ) {
    this.#state = state;
    this.#names = migrationNames(state.queue);
    this.#ops = new MigrationChannel(connection);
  }

  async execute(): Promise<MigrationState> {
    const steps: Record<MigrationStep, () => Promise<void>> = {
      hold: () => this.#hold(),
      'handover-in': () => this.#handoverIn(),
      drain: () => this.#drain(true),
      swap: () => this.#swap(),
      'handover-out': () => this.#handoverOut(),
      restore: () => this.#restore(),
    };
    try {
      for (const step of MIGRATION_STEPS.slice(MIGRATION_STEPS.indexOf(this.#state.step))) {
        this.migration.signal?.throwIfAborted();
        this.#state = { ...this.#state, step };
        await this.migration.journal.write(this.#state);
        this.#progress();
        await steps[step]();
      }
      return this.#state;
    } finally {
      await this.#ops.close();
    }
  }

  async #hold(): Promise<void> {
    const { hold, holding, route, backlog } = this.#names;
    const queue = { durable: true, exclusive: false, autoDelete: false, arguments: { 'x-queue-type': 'classic' } };
    await this.#ops.run('declaring the migration entities', async (ch) => {
      await ch.assertExchange(hold, 'fanout', { durable: true, autoDelete: false, internal: true });
      await ch.assertQueue(holding, queue);
      await ch.bindQueue(holding, hold, '');
      await ch.assertExchange(route, 'fanout', {
        durable: true,
        autoDelete: false,
        internal: true,
        arguments: { 'alternate-exchange': hold },
      });
      await ch.assertQueue(backlog, queue);
    });
  }

  async #handoverIn(): Promise<void> {
    const { queue, liveBindings, id } = this.#state;
    const { route, holding } = this.#names;
    // A source deleted meanwhile routes nothing any more: there is nothing to hand over from it.
    for (const b of liveBindings) {
      await this.#ops.runIdempotent(`binding ${b.source} → ${route}`, (ch) =>
        ch.bindExchange(route, b.source, b.routingKey, b.arguments),
      );
    }
    for (const b of liveBindings) {
      await this.#ops.runIdempotent(`unbinding ${b.source} → ${queue}`, (ch) =>
        ch.unbindQueue(queue, b.source, b.routingKey, b.arguments),
      );
    }
    // Published after the last unbind-ok, on the same channel; confirmed before the journal moves on,
    // so a resumed drain always finds it. Published again on a resumed handover: only the first counts.
    await this.#ops.run('publishing the migration fence', (ch) => {
      const options = { persistent: true, headers: { [FENCE_HEADER]: id } };
      return new Promise<void>((resolve, reject) =>
        ch.sendToQueue(holding, Buffer.alloc(0), options, (error: unknown) => (error ? reject(error) : resolve())),
      );
    });
  }

  /**
   * Moves Q into H. With `dedup`, each Q message whose twin sits in T before the fence is dropped
   * (the twin stays, and reaches the new queue in `restore`).
   */
  async #drain(dedup: boolean): Promise<void> {
    const { queue, id } = this.#state;
    const overlap = new IdentityMultiset();
    // The overlap is held unacked on a channel of its own; closing it puts it back in T in place
    // (a crash does the same), so a resumed drain reads it again.
    const reader = dedup ? await this.connection.createChannel() : undefined;
    reader?.on('error', () => {});
    try {
      if (reader) {
        for (;;) {
          const m: GetMessage | false = await reader.get(this.#names.holding, { noAck: false });
          if (m === false) {
            throw new PreconditionFailedError(
              `the fence of migration ${id} is missing from '${this.#names.holding}' (was the queue purged?): ` +
                `it cannot tell which messages of '${queue}' arrived twice; inspect the queues before going on`,
            );
          }
          if (isFence(m, id)) break;
          overlap.add(messageIdentity(m));
        }
      }
      const totals = await this.#move(queue, this.#names.backlog, {
        verdict: (m) => (overlap.take(messageIdentity(m)) ? 'drop' : 'move'),
      });
      this.#count({ duplicatesDropped: totals.dropped });
    } finally {
      await reader?.close().catch(() => undefined);
    }
  }

  async #swap(): Promise<void> {
    const { queue, to } = this.#state;
    const { route } = this.#names;
    for (let round = 0; round < ROUNDS; round++) {
      // Already bound to M: an earlier run finished this step before the journal said so.
      if ((await this.management.bindingsOf(queue)).some((b) => b.source === route)) return;
      const live = await this.management.queue(queue);
      if (live !== undefined) {
        await this.#drain(false);
        if (!(await this.#deleteIfEmpty(queue, live.type))) continue;
      }
      // Someone declared the queue between the delete and here (with the old settings): go round.
      if (await this.#ops.attempt(`declaring '${queue}'`, (ch) => ch.assertQueue(queue, toAssertQueue(to)))) continue;
      await this.#ops.run(`binding ${route} → ${queue}`, (ch) => ch.bindQueue(queue, route, ''));
      return;
    }
    throw new PreconditionFailedError(
      `queue '${queue}' kept receiving messages by its name (default exchange or dead-lettering) through ${ROUNDS} ` +
        'attempts to replace it: stop those publishers for a moment and run the migration again to resume it',
    );
  }

  /**
   * Deletes `queue` when it has no ready message; whether it did. Quorum queues refuse `if-empty`
   * (a connection error on RabbitMQ 3.x): for them the count is checked first, which leaves the
   * round trip between the check and the delete exposed to a publish by the queue's name.
   */
  async #deleteIfEmpty(queue: string, type: string): Promise<boolean> {
    if (type === 'classic') {
      return !(await this.#ops.attempt(`deleting '${queue}'`, (ch) => ch.deleteQueue(queue, { ifEmpty: true })));
    }
    const { messageCount } = await this.#ops.run(`checking '${queue}'`, (ch) => ch.checkQueue(queue));
    if (messageCount > 0) return false;
    await this.#ops.run(`deleting '${queue}'`, (ch) => ch.deleteQueue(queue));
    return true;
  }

  async #handoverOut(): Promise<void> {
    const { queue, bindings, liveBindings } = this.#state;
    const { route } = this.#names;
    // Bound by both routes for a moment: RabbitMQ delivers one copy per queue however many routes match.
    for (const b of bindings) {
      await this.#ops.run(`binding ${b.source} → ${queue}`, (ch) =>
        ch.bindQueue(queue, b.source, b.routingKey, b.arguments),
      );
    }
    for (const b of liveBindings) {
      await this.#ops.runIdempotent(`unbinding ${b.source} → ${route}`, (ch) =>
        ch.unbindExchange(route, b.source, b.routingKey, b.arguments),
      );
    }
    await this.#ops.runIdempotent(`deleting '${route}'`, (ch) => ch.deleteExchange(route));
  }

  async #restore(): Promise<void> {
    const { queue, id } = this.#state;
    const { backlog, holding, hold } = this.#names;
    for (const source of [backlog, holding]) {
      for (let round = 0; ; round++) {
        if ((await this.management.queue(source)) === undefined) break;
        const totals = await this.#move(source, queue, { verdict: (m) => (isFence(m, id) ? 'drop' : 'move') });
        this.#count({ moved: totals.moved });
        // Nothing publishes into H or T any more (M is gone); if-empty guards against a stray message.
        const refusal = await this.#ops.attempt(`deleting '${source}'`, (ch) =>
          ch.deleteQueue(source, { ifEmpty: true }),
        );
        if (!refusal) break;
        if (round + 1 >= ROUNDS) throw refusal;
      }
    }
    await this.#ops.runIdempotent(`deleting '${hold}'`, (ch) => ch.deleteExchange(hold));
  }

  /**
   * One move on a channel of its own, closed afterwards. Not reused across steps: RabbitMQ 3.10's
   * channel caches a queue's type by name, and a channel that had used the old classic queue
   * crashes (taking the connection with it) when it publishes to the new quorum queue of that name.
   */
  async #move(source: string, destination: string, options: Pick<MoveOptions, 'verdict'>): Promise<MoveTotals> {
    const mover = await MessageMover.open(this.connection);
    const base = this.#state.transfers;
    try {
      return await mover.move(source, destination, {
        ...options,
        signal: this.migration.signal,
        onBatch: (totals) => {
          this.#state = { ...this.#state, transfers: base + totals.moved };
          this.#progress();
        },
      });
    } finally {
      await mover.close();
    }
  }

  #count(add: { moved?: number; duplicatesDropped?: number }): void {
    this.#state = {
      ...this.#state,
      moved: this.#state.moved + (add.moved ?? 0),
      duplicatesDropped: this.#state.duplicatesDropped + (add.duplicatesDropped ?? 0),
    };
  }

  #progress(): void {
    this.migration.onProgress?.({ queue: this.#state.queue, step: this.#state.step, moved: this.#state.transfers });
  }
}
