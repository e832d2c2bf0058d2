/**
 * Queue migration on the virtual transport. A virtual store keeps a queue's settings as a record
 * beside its messages, so a change RabbitMQ can only make by moving every message (`maxPriority`)
 * is made in place here: the store swaps the record and re-files the ready messages under their new
 * priorities in one step ({@link VirtualStore.reconfigureQueue}), then the queue's bindings are
 * brought to the migration's list. Nothing is moved out and back, so nothing can be lost or doubled.
 *
 * Resuming: each step is written to the journal before it starts and both steps may run again (the
 * re-filing is a function of the messages' own priorities, the binding step of the live bindings),
 * so a migration interrupted anywhere is finished by running it again.
 *
 * @module
 */
import { InvalidArgumentError, NotFoundError, PreconditionFailedError, UnsupportedFeatureError } from '../errors.js';
import { bindingKey } from '../model/binding-key.js';
import { queueDifferences } from '../model/equivalence.js';
import type { Capabilities, MigrationReport, QueueMigration, QueueSpec } from '../transport/spi.js';
import type { VirtualStore } from './store.js';

/** Runs `migration` against `store` (see the module comment). */
export async function migrateVirtualQueue(
  store: VirtualStore,
  capabilities: Capabilities,
  migration: QueueMigration,
): Promise<MigrationReport> {
  const { from, to, journal } = migration;
  const queue = to.name;
  if (from.name !== queue) {
    throw new InvalidArgumentError(`a migration keeps the queue's name: '${from.name}' cannot become '${queue}'`);
  }
  const reconfigure = store.reconfigureQueue;
  if (!reconfigure) throw new UnsupportedFeatureError('queue migration', store.kind);
  checkTarget(store.kind, capabilities, to);
  const resumed = (await journal.read()) !== undefined;
  const snapshot = await store.topology.snapshot();
  const current = snapshot.queues.find((q) => q.name === queue);
  if (!current) throw new NotFoundError({ kind: 'queue', name: queue });
  // A plan is computed from one live state: a queue changed by someone else since is not ours to move.
  if (queueDifferences(from, current).length > 0 && queueDifferences(to, current).length > 0) {
    throw new PreconditionFailedError(
      `queue '${queue}' changed since the migration was planned: it is neither the planned source nor the target`,
    );
  }
  const step = async (name: string): Promise<void> => {
    migration.signal?.throwIfAborted();
    await journal.write({ queue, step: name });
    migration.onProgress?.({ queue, step: name, moved: 0 });
  };

  await step('reconfigure');
  await reconfigure.call(store, current, to);

  await step('bindings');
  const wanted = new Map(
    migration.bindings
      .filter((b) => b.destinationType === 'queue' && b.destination === queue)
      .map((b) => [bindingKey(b), b]),
  );
  const live = (await store.topology.snapshot()).bindings.filter(
    (b) => b.destinationType === 'queue' && b.destination === queue,
  );
  // Added before any is removed: a message published meanwhile reaches the queue by one binding or the other.
  for (const b of wanted.values()) await store.topology.addBinding(b);
  for (const b of live) if (!wanted.has(bindingKey(b))) await store.topology.removeBinding(b);

  await journal.clear();
  return { queue, inPlace: true, moved: 0, duplicatesDropped: 0, resumed };
}

/** Refuses a target the transport could not declare either. */
function checkTarget(kind: string, capabilities: Capabilities, to: QueueSpec): void {
  const queueType = to.queueType ?? 'classic';
  if (!capabilities.queueTypes.has(queueType)) throw new UnsupportedFeatureError(`${queueType} queues`, kind);
  if (to.maxPriority !== undefined && !capabilities.priority)
    throw new UnsupportedFeatureError('priority queues', kind);
  if (to.maxLengthBytes !== undefined && capabilities.maxLengthBytes === false) {
    throw new UnsupportedFeatureError('queue length limits in bytes (maxLengthBytes; maxLength works)', kind);
  }
}
