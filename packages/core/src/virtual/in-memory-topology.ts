/**
 * The simplest topology store: records in process memory, with a revision that moves on every change.
 * Stores whose topology need not be shared between processes reuse it rather than write their own;
 * the snapshot is kept until the next change, so an unchanged topology is never copied or recompiled.
 *
 * @module
 */
import { bindingKey } from '../model/binding-key.js';
import type { BindingSpec, ExchangeSpec, PolicySpec, QueueSpec } from '../transport/spi.js';
import { policyKeyOf, policyRecordKey } from './policy-records.js';
import type { TopologySnapshot, TopologyStore } from './store.js';

/**
 * Topology records held in process memory. Used by the memory store, and by any store whose
 * topology does not need to outlive or cross the process.
 */
export class InMemoryTopology implements TopologyStore {
  readonly #exchanges = new Map<string, ExchangeSpec>();
  readonly #queues = new Map<string, QueueSpec>();
  readonly #bindings = new Map<string, BindingSpec>();
  readonly #policies = new Map<string, PolicySpec>();
  #revision = 0;
  #snapshot: TopologySnapshot | undefined;

  revision(): number {
    return this.#revision;
  }

  async snapshot(): Promise<TopologySnapshot> {
    this.#snapshot ??= Object.freeze({
      revision: this.#revision,
      exchanges: Object.freeze([...this.#exchanges.values()]),
      queues: Object.freeze([...this.#queues.values()]),
      bindings: Object.freeze([...this.#bindings.values()]),
      policies: Object.freeze([...this.#policies.values()]),
    });
    return this.#snapshot;
  }

  async putExchange(spec: ExchangeSpec): Promise<void> {
    this.#exchanges.set(spec.name, plain(spec));
    this.#changed();
  }

  async deleteExchange(name: string): Promise<void> {
    if (this.#exchanges.delete(name)) this.#changed();
  }

  async putQueue(spec: QueueSpec): Promise<void> {
    this.replaceQueue(spec);
  }

  /** {@link InMemoryTopology.putQueue}, synchronously (for a store that changes a queue's messages in the same step). */
  replaceQueue(spec: QueueSpec): void {
    this.#queues.set(spec.name, plain(spec));
    this.#changed();
  }

  async deleteQueue(name: string): Promise<void> {
    if (this.#queues.delete(name)) this.#changed();
  }

  async addBinding(binding: BindingSpec): Promise<boolean> {
    const key = bindingKey(binding);
    if (this.#bindings.has(key)) return false;
    this.#bindings.set(key, plain(binding));
    this.#changed();
    return true;
  }

  async removeBinding(binding: BindingSpec): Promise<boolean> {
    const removed = this.#bindings.delete(bindingKey(binding));
    if (removed) this.#changed();
    return removed;
  }

  async putPolicy(spec: PolicySpec): Promise<void> {
    this.#policies.set(policyKeyOf(spec), plain(spec));
    this.#changed();
  }

  async deletePolicy(operator: boolean, vhost: string, name: string): Promise<void> {
    if (this.#policies.delete(policyRecordKey(operator, vhost, name))) this.#changed();
  }

  #changed(): void {
    this.#revision++;
    this.#snapshot = undefined;
  }
}

/** Stores a detached plain copy, so later mutation of a caller's object cannot change the records. */
function plain<T extends object>(spec: T): T {
  return Object.freeze(JSON.parse(JSON.stringify(spec)) as T);
}
