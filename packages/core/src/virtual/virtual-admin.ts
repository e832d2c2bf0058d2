/**
 * Declaring, binding and deleting for the virtual transport, under RabbitMQ's rules, so that code
 * developed against a memory or Redis broker behaves the same when pointed at RabbitMQ. It only edits
 * the store's topology records (routing sees the change through the store's revision) and remembers
 * the exclusive queues its connection declared, to delete them when the connection closes.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { NotFoundError, PreconditionFailedError, TopologyConflictError, UnsupportedFeatureError } from '../errors.js';
import { exchangeDifferences, queueDifferences } from '../model/equivalence.js';
import { isReservedName } from '../model/names.js';
import type {
  BindingSpec,
  BrokerEntityAdmin,
  Capabilities,
  ExchangeSpec,
  MigrationReport,
  ObservedTopology,
  QueueDeclareResult,
  QueueMigration,
  QueueSpec,
  StackStateStore,
  TopologyAdmin,
} from '../transport/spi.js';
import type { VirtualStore } from './store.js';
import type { TopologyCache } from './topology-cache.js';
import { VirtualBrokerAdmin } from './virtual-broker-admin.js';
import { migrateVirtualQueue } from './virtual-migration.js';

/** Callbacks into the owning transport. */
export interface AdminHost {
  /** Throws when the transport is not open. */
  isOpen(): void;
  /** A queue was deleted through this admin. */
  queueDeleted(name: string): void;
}

/**
 * {@link TopologyAdmin} over a store's topology records, with RabbitMQ's rules: identical
 * re-declarations are no-ops, different ones fail with {@link TopologyConflictError}, passive
 * declarations only check, deleting a queue or exchange removes its bindings.
 */
export class VirtualAdmin implements TopologyAdmin {
  /** Exclusive queues declared through this admin: deleted when the connection closes. */
  readonly #exclusive = new Set<string>();
  /** Policies and operator policies, where the store keeps them. */
  readonly broker: BrokerEntityAdmin | undefined;

  constructor(
    private readonly store: VirtualStore,
    private readonly cache: TopologyCache,
    private readonly capabilities: Capabilities,
    private readonly host: AdminHost,
    /** The transport's vhost (the URL's): where policies without one apply. */
    vhost = '/',
  ) {
    this.broker = capabilities.brokerEntities?.has('policy')
      ? new VirtualBrokerAdmin(store, vhost, capabilities.policyKeys ?? new Set(), () => host.isOpen())
      : undefined;
  }

  /**
   * Changes a queue's settings in place, messages kept (see `virtual-migration.ts`); present only
   * where the store can re-file messages ({@link VirtualStore.reconfigureQueue}).
   */
  migrateQueue(migration: QueueMigration): Promise<MigrationReport> {
    try {
      this.host.isOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return migrateVirtualQueue(this.store, this.capabilities, migration);
  }

  /** The store's ownership records and apply lock, when it keeps them. */
  get stacks(): StackStateStore | undefined {
    return this.store.stacks;
  }

  async declareExchange(spec: ExchangeSpec, options: { passive?: boolean } = {}): Promise<void> {
    this.host.isOpen();
    if (spec.name === '') return;
    const compiled = await this.cache.current();
    const existing = compiled.table.exchange(spec.name);
    if (options.passive) {
      if (!existing) throw new NotFoundError({ kind: 'exchange', name: spec.name });
      return;
    }
    if (!this.capabilities.exchangeTypes.has(spec.type)) {
      throw new UnsupportedFeatureError(`${spec.type} exchanges`, this.store.kind);
    }
    if (existing && !compiled.inferred.exchanges.has(spec.name)) {
      const differences = exchangeDifferences(spec, existing);
      if (differences.length > 0) throw new TopologyConflictError({ kind: 'exchange', name: spec.name }, differences);
      return;
    }
    if (!existing && isReservedName(spec.name)) {
      throw new PreconditionFailedError(
        `exchange name '${spec.name}' is reserved: the 'amq.' prefix belongs to the broker`,
      );
    }
    await this.store.topology.putExchange(spec);
  }

  async declareQueue(spec: QueueSpec, options: { passive?: boolean } = {}): Promise<QueueDeclareResult> {
    this.host.isOpen();
    if (spec.name === '' && !options.passive) spec = { ...spec, name: `amq.gen-${randomUUID()}` };
    const compiled = await this.cache.current();
    const existing = compiled.queues.get(spec.name);
    if (options.passive) {
      if (!existing) throw new NotFoundError({ kind: 'queue', name: spec.name });
      return this.#result(spec.name);
    }
    if (existing && !compiled.inferred.queues.has(spec.name)) {
      const differences = queueDifferences(spec, existing);
      if (differences.length > 0) throw new TopologyConflictError({ kind: 'queue', name: spec.name }, differences);
      // A redeclaration counts as use (RabbitMQ renews `x-expires` on it).
      this.store.touch?.(spec.name);
      return this.#result(spec.name);
    }
    const queueType = spec.queueType ?? 'classic';
    if (!this.capabilities.queueTypes.has(queueType)) {
      throw new UnsupportedFeatureError(`${queueType} queues`, this.store.kind);
    }
    if (spec.maxPriority !== undefined && !this.capabilities.priority) {
      throw new UnsupportedFeatureError('priority queues', this.store.kind);
    }
    // A limit that could not be enforced must not be accepted silently.
    if (spec.maxLengthBytes !== undefined && this.capabilities.maxLengthBytes === false) {
      throw new UnsupportedFeatureError(
        'queue length limits in bytes (maxLengthBytes; maxLength works)',
        this.store.kind,
      );
    }
    await this.store.createQueue(spec.name);
    await this.store.topology.putQueue(spec);
    if (spec.exclusive) this.#exclusive.add(spec.name);
    return { name: spec.name, messageCount: 0, consumerCount: 0 };
  }

  async bind(binding: BindingSpec): Promise<void> {
    this.host.isOpen();
    const topology = await this.cache.current();
    if (binding.source === '') {
      throw new PreconditionFailedError('the default exchange cannot be bound: it routes by queue name already');
    }
    if (!topology.table.hasExchange(binding.source))
      throw new NotFoundError({ kind: 'exchange', name: binding.source });
    const found =
      binding.destinationType === 'queue'
        ? topology.queues.has(binding.destination)
        : topology.table.hasExchange(binding.destination);
    if (!found) throw new NotFoundError({ kind: binding.destinationType, name: binding.destination });
    await this.store.topology.addBinding(binding);
  }

  async unbind(binding: BindingSpec): Promise<void> {
    this.host.isOpen();
    await this.store.topology.removeBinding(binding);
  }

  async deleteExchange(name: string, options: { ifUnused?: boolean } = {}): Promise<void> {
    this.host.isOpen();
    if (name === '' || isReservedName(name)) {
      throw new PreconditionFailedError(
        `exchange '${name || '(default)'}' belongs to the broker and cannot be deleted`,
      );
    }
    const snapshot = await this.store.topology.snapshot();
    if (!snapshot.exchanges.some((e) => e.name === name)) return;
    const asSource = snapshot.bindings.filter((b) => b.source === name);
    if (options.ifUnused && asSource.length > 0) {
      throw new PreconditionFailedError(`exchange '${name}' is in use: it has ${asSource.length} binding(s)`);
    }
    for (const b of snapshot.bindings) {
      if (b.source === name || (b.destinationType === 'exchange' && b.destination === name)) {
        await this.store.topology.removeBinding(b);
      }
    }
    await this.store.topology.deleteExchange(name);
  }

  async deleteQueue(name: string, options: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<number> {
    this.host.isOpen();
    return this.#deleteQueue(name, options);
  }

  async #deleteQueue(name: string, options: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<number> {
    const snapshot = await this.store.topology.snapshot();
    if (!snapshot.queues.some((q) => q.name === name)) return 0;
    if (options.ifEmpty) {
      const size = await this.store.size(name);
      if (size > 0) throw new PreconditionFailedError(`queue '${name}' is not empty: it holds ${size} message(s)`);
    }
    if (options.ifUnused && this.store.consumerCount) {
      const consumers = await this.store.consumerCount(name);
      if (consumers > 0) throw new PreconditionFailedError(`queue '${name}' is in use by ${consumers} consumer(s)`);
    }
    for (const b of snapshot.bindings) {
      if (b.destinationType === 'queue' && b.destination === name) await this.store.topology.removeBinding(b);
    }
    await this.store.topology.deleteQueue(name);
    const deleted = await this.store.deleteQueue(name);
    this.#exclusive.delete(name);
    this.host.queueDeleted(name);
    return deleted;
  }

  async purgeQueue(name: string): Promise<number> {
    this.host.isOpen();
    if (!(await this.cache.current()).queues.has(name)) throw new NotFoundError({ kind: 'queue', name });
    return this.store.purge(name);
  }

  async inspect(): Promise<ObservedTopology> {
    this.host.isOpen();
    const snapshot = await this.store.topology.snapshot();
    const queues = [];
    for (const q of snapshot.queues) {
      const consumerCount = await this.store.consumerCount?.(q.name);
      queues.push({
        ...q,
        messageCount: await this.store.size(q.name),
        ...(consumerCount !== undefined ? { consumerCount } : {}),
      });
    }
    return { exchanges: snapshot.exchanges, queues, bindings: snapshot.bindings, complete: true };
  }

  /** Deletes auto-delete queues among `queues` that no longer have consumers. */
  async autoDeleteUnused(queues: readonly string[]): Promise<void> {
    if (!this.store.consumerCount) return;
    const topology = await this.cache.current();
    for (const name of queues) {
      if (topology.queues.get(name)?.autoDelete && (await this.store.consumerCount(name)) === 0) {
        await this.#deleteQueue(name, {});
      }
    }
  }

  /** Deletes the exclusive queues this connection declared (on close). */
  async dropExclusive(): Promise<void> {
    for (const name of [...this.#exclusive]) {
      await this.#deleteQueue(name, {}).catch(() => undefined);
    }
    this.#exclusive.clear();
  }

  async #result(name: string): Promise<QueueDeclareResult> {
    return {
      name,
      messageCount: await this.store.size(name),
      consumerCount: (await this.store.consumerCount?.(name)) ?? 0,
    };
  }
}
