/**
 * The broker entities of a virtual transport: policies and operator policies, kept by the store with
 * its topology records (so every process sharing the store applies them). A virtual broker has one
 * vhost, the URL's, and no users or permissions; those kinds list empty and cannot be written.
 *
 * @module
 */
import { InvalidArgumentError, UnsupportedFeatureError } from '../errors.js';
import { NO_BROKER_ENTITIES } from '../model/broker-entities.js';
import { OPERATOR_POLICY_KEYS } from '../model/policies.js';
import type { BrokerEntities, BrokerEntity, BrokerEntityAdmin, PolicySpec } from '../transport/spi.js';
import type { VirtualStore } from './store.js';

/** {@link BrokerEntityAdmin} over a store's policy records. */
export class VirtualBrokerAdmin implements BrokerEntityAdmin {
  constructor(
    private readonly store: VirtualStore,
    readonly vhost: string,
    private readonly policyKeys: ReadonlySet<string>,
    private readonly isOpen: () => void,
  ) {}

  async list(): Promise<BrokerEntities> {
    this.isOpen();
    const policies = (await this.store.topology.snapshot()).policies ?? [];
    return { ...NO_BROKER_ENTITIES, policies: policies.map((p) => ({ ...p, vhost: p.vhost ?? this.vhost })) };
  }

  async put(entity: BrokerEntity): Promise<void> {
    this.isOpen();
    const put = this.store.topology.putPolicy;
    if ((entity.kind !== 'policy' && entity.kind !== 'operator-policy') || !put) {
      throw new UnsupportedFeatureError(`${entity.kind} entities`, this.store.kind);
    }
    const spec: PolicySpec = {
      ...entity.spec,
      operator: entity.kind === 'operator-policy',
      vhost: entity.spec.vhost ?? this.vhost,
    };
    this.#check(spec);
    await put.call(this.store.topology, spec);
  }

  async delete(entity: BrokerEntity): Promise<void> {
    this.isOpen();
    const remove = this.store.topology.deletePolicy;
    if ((entity.kind !== 'policy' && entity.kind !== 'operator-policy') || !remove) {
      throw new UnsupportedFeatureError(`${entity.kind} entities`, this.store.kind);
    }
    await remove.call(
      this.store.topology,
      entity.kind === 'operator-policy',
      entity.spec.vhost ?? this.vhost,
      entity.spec.name,
    );
  }

  /**
   * Refuses what routing could not apply: a pattern that is no regular expression (it would break
   * every later topology compilation), and keys this store does not honour (a limit accepted but not
   * enforced would be silently lost).
   */
  #check(spec: PolicySpec): void {
    try {
      new RegExp(spec.pattern, 'u');
    } catch (error) {
      throw new InvalidArgumentError(
        `policy '${spec.name}': pattern ${JSON.stringify(spec.pattern)} is not a regular expression`,
        {
          cause: error,
        },
      );
    }
    for (const key of Object.keys(spec.definition)) {
      if (spec.operator && !OPERATOR_POLICY_KEYS.includes(key)) {
        throw new InvalidArgumentError(`operator policy '${spec.name}': '${key}' cannot be set by an operator policy`);
      }
      if (!this.policyKeys.has(key)) {
        throw new UnsupportedFeatureError(`the policy key '${key}'`, this.store.kind);
      }
    }
  }
}
