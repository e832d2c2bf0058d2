/**
 * Where Celery tasks go, by Celery's conventions: the `celery` queue unless a route says otherwise,
 * `task_routes`-style routes by exact name or glob (`proj.*`), and a queue declared the way Celery
 * declares one it was only given by name (durable, on a direct exchange of the same name and key),
 * so both sides' declarations agree. A route may give a full {@link Queue} instead (e.g. one with
 * `maxPriority`, like Celery's `task_queues` with `x-max-priority`).
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Exchange } from '../model/exchange.js';
import { Queue } from '../model/queue.js';

/** Celery's default queue (and exchange and routing key). */
export const CELERY_DEFAULT_QUEUE = 'celery';

/** Where one task (or tasks matching a glob) go: a queue, or an exchange and routing key. */
export type CeleryRoute =
  | {
      /** The queue: a name (declared as Celery would) or a full declaration. */
      readonly queue: string | Queue;
      /** The default priority of these tasks (0–255 on RabbitMQ priority queues; Celery uses 0–9). */
      readonly priority?: number;
    }
  | {
      /** An exchange declared elsewhere (e.g. by the topology), as Celery's `task_routes` `exchange`. */
      readonly exchange: string;
      readonly routingKey: string;
      readonly priority?: number;
    };

/** Where a publish goes. */
export type CeleryTarget = { readonly queue: Queue } | { readonly exchange: string; readonly routingKey: string };

/** Celery's declaration of a queue known only by name. */
export function celeryQueue(name: string): Queue {
  return new Queue(name, { durable: true, exchange: new Exchange(name, { type: 'direct' }), routingKey: name });
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** Resolves task names to routes: exact names first, then globs in the order given, then the default queue. */
export class CeleryRouter {
  readonly #exact = new Map<string, CeleryRoute>();
  readonly #globs: { readonly pattern: RegExp; readonly route: CeleryRoute }[] = [];
  readonly #default: CeleryRoute;

  constructor(routes: Readonly<Record<string, CeleryRoute | string>> = {}, defaultQueue = CELERY_DEFAULT_QUEUE) {
    this.#default = { queue: defaultQueue };
    for (const [name, value] of Object.entries(routes)) {
      const route = typeof value === 'string' ? { queue: value } : value;
      if (route === null || typeof route !== 'object' || !('queue' in route || 'exchange' in route)) {
        throw new InvalidArgumentError(`route ${name}: a route needs a queue, or an exchange and a routing key`);
      }
      if (name.includes('*')) this.#globs.push({ pattern: globToRegExp(name), route });
      else this.#exact.set(name, route);
    }
  }

  route(task: string): CeleryRoute {
    return this.#exact.get(task) ?? this.#globs.find((g) => g.pattern.test(task))?.route ?? this.#default;
  }

  /** Where a route publishes: its queue's declaration, or its exchange and routing key. */
  static targetOf(route: CeleryRoute): CeleryTarget {
    if ('exchange' in route) return { exchange: route.exchange, routingKey: route.routingKey };
    return { queue: typeof route.queue === 'string' ? celeryQueue(route.queue) : route.queue };
  }
}
