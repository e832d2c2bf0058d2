/**
 * Celery tasks declared in a topology document: a task with `protocol: celery` (or every task of a
 * topology with `protocol: celery` that sets no protocol of its own). Its `payload` schema describes
 * `{ args, kwargs }`, which types and checks what a {@link CeleryClient} sends; its `route` gives the
 * exchange and routing key (Celery's own convention is the `celery` exchange and key).
 *
 * @module
 */

import type { TaskName, TaskPayloads } from '../tasks/types.js';
import type { TopologyDocument } from '../topology/document.js';
import type { CeleryRoute } from './routing.js';

/** A task of the topology, as the Celery client uses it. */
export interface CeleryTopologyTask {
  readonly name: string;
  /** Whether the topology marks it as Celery's (otherwise it is a Wakame task, not for this client). */
  readonly celery: boolean;
  /** JSON Schema of `{ args, kwargs }`. */
  readonly payload: Readonly<Record<string, unknown>> | undefined;
  readonly route: CeleryRoute | undefined;
}

/** The `{ args, kwargs }` type of task `K` in topology `T` (unknown, so unconstrained, for untyped ones). */
export type CeleryArguments<T extends TopologyDocument, K extends string> =
  K extends TaskName<T> ? TaskPayloads<T>[K] : unknown;

/** The tasks of `document` by name, each saying whether it speaks Celery's protocol. */
export function celeryTasksOf(document: TopologyDocument): ReadonlyMap<string, CeleryTopologyTask> {
  const tasks = new Map<string, CeleryTopologyTask>();
  for (const task of document.tasks ?? []) {
    const protocol = task.protocol ?? document.protocol ?? 'wakame';
    const route = task.route
      ? { exchange: task.route.exchange, routingKey: task.route.routingKey ?? task.name }
      : undefined;
    tasks.set(task.name, {
      name: task.name,
      celery: protocol === 'celery',
      payload: task.payload as Readonly<Record<string, unknown>> | undefined,
      route,
    });
  }
  return tasks;
}
