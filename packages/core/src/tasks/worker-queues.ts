/**
 * Which queues a worker consumes by default, and declaring them (with their exchanges and bindings) before it does.
 *
 * @module
 */
import type { Connection } from '../messaging/connection.js';
import { BUILTIN_EXCHANGES } from '../model/builtin-exchanges.js';
import { Queue } from '../model/queue.js';
import type { DesiredTopology } from '../topology/desired.js';
import { RoutingTable } from '../virtual/routing-table.js';

/** Priority-class queues first (in class order), then the queues handled tasks are routed to. */
export function defaultQueues(topology: DesiredTopology, handled: readonly string[]): string[] {
  const out: string[] = [];
  const add = (q: string): void => {
    if (!out.includes(q)) out.push(q);
  };
  for (const queue of Object.values(topology.priorityClasses)) add(queue);
  // The broker's own exchanges (amq.direct, …) route too, though topologies do not declare them.
  const builtin = [...BUILTIN_EXCHANGES]
    .filter(([name]) => !topology.exchanges.some((e) => e.name === name))
    .map(([name, type]) => ({ name, type, durable: true, autoDelete: false, internal: false, arguments: {} }));
  const table = new RoutingTable({ exchanges: [...topology.exchanges, ...builtin], bindings: topology.bindings });
  const existing = new Set(topology.queues.map((q) => q.name));
  for (const task of topology.tasks) {
    if (!handled.includes(task.name) || !task.route) continue;
    const routed =
      task.route.exchange === ''
        ? [task.route.routingKey]
        : [...table.route(task.route.exchange, task.route.routingKey).queues];
    for (const q of routed) if (existing.has(q)) add(q);
  }
  return out;
}

/** Declares the consumed queues of the topology, the exchanges bound to them, their bindings, and the dead-letter queue. */
export async function declareConsumed(
  connection: Connection,
  topology: DesiredTopology,
  consumed: readonly string[],
  deadLetterQueue: string,
): Promise<void> {
  const wanted = new Set(consumed);
  const queues = topology.queues.filter((q) => wanted.has(q.name));
  const bindings = topology.bindings.filter((b) => b.destinationType === 'queue' && wanted.has(b.destination));
  const sources = new Set(bindings.map((b) => b.source));
  for (const e of topology.exchanges) if (sources.has(e.name)) await connection.admin.declareExchange(e);
  for (const q of queues) await connection.admin.declareQueue(q);
  for (const b of bindings) await connection.admin.bind(b);
  await connection.declare(new Queue(deadLetterQueue, { durable: true }));
}
