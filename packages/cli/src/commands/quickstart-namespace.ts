/**
 * Where `wakame quickstart` runs, so that it never touches what a user has on a broker: on the example's own
 * names only on an embedded broker that holds nothing else, anywhere else in its own namespace
 * ({@link NAMESPACE}), whose entities it deletes again at the end.
 *
 * @module
 */
import {
  type Connection,
  DEFAULT_DEAD_LETTER_QUEUE,
  type DesiredTopology,
  type LiveState,
  NotFoundError,
  type TopologyDocument,
} from '@wakame/core';

/** The prefix of quickstart's own entities on a broker that is not its own. */
export const NAMESPACE = 'wakame.quickstart.';

/** The worker's dead-letter queue when namespaced (the default one is not quickstart's to create). */
export const OWN_DEAD_LETTER_QUEUE = `${NAMESPACE}dead-letter`;

/** What quickstart declares on a broker that is not its own, and deletes again at the end. */
export interface OwnEntities {
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
}

/** Broker-owned names: the default exchange and `amq.*`. */
function isBrokerOwned(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}

/**
 * Whether quickstart may use the example's own names: an embedded broker (file://, memory://) whose
 * listing holds nothing but the example's entities (and the worker's dead-letter queue), every queue
 * empty and without consumers. Anything else may be a user's, so quickstart goes namespaced.
 */
export function isOwnEmbeddedBroker(live: LiveState, example: DesiredTopology): boolean {
  if (live.kind !== 'listed') return false;
  const exchanges = new Set(example.exchanges.map((e) => e.name));
  const queues = new Set([...example.queues.map((q) => q.name), DEFAULT_DEAD_LETTER_QUEUE]);
  return (
    live.observed.exchanges.every((e) => isBrokerOwned(e.name) || exchanges.has(e.name)) &&
    live.observed.queues.every((q) => queues.has(q.name) && q.messageCount === 0 && (q.consumerCount ?? 0) === 0)
  );
}

/** The example renamed into {@link NAMESPACE}: every queue and exchange it declares or names; routing keys stay. */
export function namespacedDocument(document: TopologyDocument): TopologyDocument {
  const exchange = (name: string): string => (isBrokerOwned(name) ? name : `${NAMESPACE}${name}`);
  const queue = (name: string): string => `${NAMESPACE}${name}`;
  const { include: _merged, ...rest } = document;
  return {
    ...rest,
    ...(document.exchanges
      ? {
          exchanges: document.exchanges.map((e) => ({
            ...e,
            name: exchange(e.name),
            ...(e.alternateExchange !== undefined ? { alternateExchange: exchange(e.alternateExchange) } : {}),
          })),
        }
      : {}),
    ...(document.queues
      ? {
          queues: document.queues.map((q) => ({
            ...q,
            name: queue(q.name),
            ...(q.deadLetter ? { deadLetter: { ...q.deadLetter, exchange: exchange(q.deadLetter.exchange) } } : {}),
            ...(q.bindings ? { bindings: q.bindings.map((b) => ({ ...b, exchange: exchange(b.exchange) })) } : {}),
          })),
        }
      : {}),
    ...(document.bindings
      ? {
          bindings: document.bindings.map((b) => ({
            ...b,
            exchange: exchange(b.exchange),
            destination: b.destinationType === 'exchange' ? exchange(b.destination) : queue(b.destination),
          })),
        }
      : {}),
    ...(document.broadcasts
      ? {
          broadcasts: document.broadcasts.map((b) => ({
            ...b,
            name: exchange(b.name),
            queuePrefix: queue(b.queuePrefix ?? 'bcast'),
          })),
        }
      : {}),
    ...(document.priorityClasses
      ? {
          priorityClasses: Object.fromEntries(
            Object.entries(document.priorityClasses).map(([name, q]) => [name, queue(q)]),
          ),
        }
      : {}),
    ...(document.tasks
      ? {
          tasks: document.tasks.map((t) => ({
            ...t,
            ...(t.route ? { route: { ...t.route, exchange: exchange(t.route.exchange) } } : {}),
            ...(t.deadLetter
              ? {
                  deadLetter: {
                    ...t.deadLetter,
                    ...(t.deadLetter.queue !== undefined ? { queue: queue(t.deadLetter.queue) } : {}),
                    ...(t.deadLetter.exchange !== undefined ? { exchange: exchange(t.deadLetter.exchange) } : {}),
                  },
                }
              : {}),
          })),
        }
      : {}),
    ...(document.routes ? { routes: document.routes.map((r) => ({ ...r, exchange: exchange(r.exchange) })) } : {}),
  };
}

/** Deletes quickstart's own queues, then its exchanges; what is already gone is fine. */
export async function removeOwn(admin: Connection['admin'], own: OwnEntities): Promise<void> {
  const gone = (error: unknown): void => {
    if (!(error instanceof NotFoundError)) throw error;
  };
  for (const queue of own.queues) await admin.deleteQueue(queue).then(() => undefined, gone);
  for (const exchange of own.exchanges) await admin.deleteExchange(exchange).catch(gone);
}

/** `queues a, b and exchange c`, for messages. */
export function describeOwn(own: OwnEntities): string {
  return `queues ${own.queues.join(', ')} and exchange${own.exchanges.length === 1 ? '' : 's'} ${own.exchanges.join(', ')}`;
}
