/**
 * Where a task's dead letters end up, read from the topology: the task's own `deadLetter` target (a queue, or an
 * exchange and routing key routed as the broker would), else the worker's dead-letter queue. What
 * `wakame dead-letters --topology … --task …` looks at, and what a dashboard can list.
 *
 * @module
 */
import { UnknownTaskError } from '../errors.js';
import { traceRoute } from '../model/route-trace.js';
import type { DesiredTopology } from '../topology/desired.js';
import { deadLetterTarget } from './outcomes.js';
import { DEFAULT_DEAD_LETTER_QUEUE } from './worker.js';

/**
 * The queues the dead letters of `task` land in, sorted: one for a `deadLetter.queue` (or none set: the worker's
 * `fallbackQueue`), the queues its dead-letter exchange routes the routing key to (the task name unless the
 * target says otherwise), none when that exchange routes it nowhere.
 * @throws {@link UnknownTaskError} when the topology has no such task
 */
export function deadLetterQueuesOf(
  topology: DesiredTopology,
  task: string,
  fallbackQueue: string = DEFAULT_DEAD_LETTER_QUEUE,
): string[] {
  const compiled = topology.tasks.find((t) => t.name === task);
  if (compiled === undefined)
    throw new UnknownTaskError(
      task,
      topology.tasks.map((t) => t.name),
    );
  const target = deadLetterTarget(compiled, fallbackQueue);
  if (target.exchange === '') return [target.routingKey];
  return [...traceRoute(topology, target.exchange, { routingKey: target.routingKey }).queues];
}
