/**
 * The broker-entity half of the planner: declared vhosts, users, permissions, topic permissions
 * and policies against the listed ones. Everything here changes in place — a policy's definition,
 * a user's tags or password, a permission's patterns — so no change is destructive; a deletion
 * (owned, no longer declared) happens only with prune. Entities of other owners (the broker's own
 * `guest`, `/`, another team's policies) are never planned, counted or shown: the broker holds many
 * and they are nobody's business here.
 *
 * @module
 */
import {
  type BrokerEntities,
  type BrokerEntity,
  brokerEntityDifferences,
  brokerEntityKey,
  brokerEntityList,
  NO_BROKER_ENTITIES,
  type PasswordCheck,
} from '../../model/broker-entities.js';
import type { Change, EntityRef } from './change.js';

/** The broker entities as listed, and the connection's vhost (where vhost-less policies live). */
export interface LiveBroker {
  readonly vhost: string;
  readonly entities: BrokerEntities;
  readonly passwordMatches?: PasswordCheck;
}

/** What {@link diffBroker} found. */
export interface BrokerDiff {
  readonly changes: readonly Change[];
  /** Declared entities that exist without being the stack's. */
  readonly unowned: readonly EntityRef[];
}

/**
 * Compares declared broker entities with listed ones. `owned` holds the stack's entity keys;
 * undefined means ownership is not known (nothing is extraneous then).
 */
export function diffBroker(
  declared: BrokerEntities | undefined,
  live: LiveBroker,
  owned: ReadonlySet<string> | undefined,
): BrokerDiff {
  const changes: Change[] = [];
  const unowned: EntityRef[] = [];
  const key = (e: BrokerEntity) => brokerEntityKey(e, live.vhost);
  const listed = new Map(brokerEntityList(live.entities).map((e) => [key(e), e]));
  const wanted = new Set<string>();
  for (const entity of brokerEntityList(declared ?? NO_BROKER_ENTITIES)) {
    const k = key(entity);
    wanted.add(k);
    const actual = listed.get(k);
    if (!actual) {
      changes.push({ kind: 'create-entity', entity });
      continue;
    }
    if (owned && !owned.has(k)) unowned.push({ kind: 'broker', entity });
    const differences = brokerEntityDifferences(entity, actual, {
      vhost: live.vhost,
      ...(live.passwordMatches ? { passwordMatches: live.passwordMatches } : {}),
    });
    changes.push(
      differences.length === 0
        ? { kind: 'unchanged', entity: { kind: 'broker', entity } }
        : { kind: 'update-entity', entity, differences },
    );
  }
  if (owned) {
    // Reverse dependency order: policies and permissions go before the users and vhosts they name.
    for (const entity of brokerEntityList(live.entities).reverse()) {
      const k = key(entity);
      if (!wanted.has(k) && owned.has(k)) changes.push({ kind: 'extraneous-entity', entity: withoutSecrets(entity) });
    }
  }
  return { changes, unowned };
}

/** A listed entity as plans may show it: a user's stored hash is dropped (plans and `--json` never hold one). */
export function withoutSecrets(entity: BrokerEntity): BrokerEntity {
  if (entity.kind !== 'user' || entity.spec.credential === undefined) return entity;
  const { credential: _dropped, ...spec } = entity.spec;
  return { kind: 'user', spec };
}

/** The key of a broker entity change's entity, with `vhost` resolving vhost-less policies. */
export function brokerChangeKey(change: Change, vhost: string): string | undefined {
  switch (change.kind) {
    case 'create-entity':
    case 'update-entity':
    case 'extraneous-entity':
      return brokerEntityKey(change.entity, vhost);
    case 'unchanged':
      return change.entity.kind === 'broker' ? brokerEntityKey(change.entity.entity, vhost) : undefined;
    default:
      return undefined;
  }
}
