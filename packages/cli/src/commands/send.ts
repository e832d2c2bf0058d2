/**
 * `wakame send <task> <json>`: sends one task through the topology's routes and priority classes,
 * validating the payload against the task's schema first. `--priority` takes a class or a number
 * (a number on a task that goes by class picks the class whose range holds it);
 * `--message-priority` orders within the class.
 *
 * A task the topology marks `protocol: celery` goes in Celery's protocol instead, its JSON being
 * `{ "args": [...], "kwargs": {...} }` (see `send-celery.ts`).
 *
 * @module
 */
import { InvalidArgumentError, TaskClient } from '@wakame/core';
import type { CommandContext } from '../context.js';
import { type BrokerOptions, openBroker, readTopology } from '../topology-input.js';
import { sendCelery } from './send-celery.js';

/** Options of {@link send}; numbers arrive parsed and range-checked (see `options.ts`). */
export interface SendCommandOptions extends BrokerOptions {
  readonly topology?: string;
  /**
   * A priority class name, or a priority 0–255 (on a task that goes by class, it also picks the
   * class whose range holds it: see `priorityClassRanges`).
   */
  readonly priority?: string | number;
  /** The message priority 0–255 within the class (`--priority high --message-priority 9`). */
  readonly messagePriority?: number;
  /** Milliseconds before delivery. */
  readonly delay?: number;
  /** Milliseconds within which the task must start, or it is discarded. */
  readonly expires?: number;
  /**
   * Wait for the handler's result (RPC), up to this many seconds. A Celery task's result comes from Celery's
   * result backend: `rpc://` on AMQP, Redis's on Redis (other brokers refuse it).
   */
  readonly wait?: number;
}

export async function send(
  ctx: CommandContext,
  task: string,
  json: string,
  options: SendCommandOptions,
): Promise<void> {
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    throw new InvalidArgumentError(`the payload must be JSON, got ${JSON.stringify(json.slice(0, 60))}`);
  }
  const connection = await openBroker(ctx, options);
  try {
    const { desired, checked } = await readTopology(ctx, options.topology ?? 'topology.yaml');
    if (checked.document && desired.tasks.find((t) => t.name === task)?.protocol === 'celery') {
      await sendCelery(ctx, connection, checked.document, task, payload, options);
      return;
    }
    const client = new TaskClient(connection, { compiled: desired });
    const sendOptions = {
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      ...(options.messagePriority !== undefined ? { messagePriority: options.messagePriority } : {}),
      ...(options.delay !== undefined ? { delay: options.delay } : {}),
      ...(options.expires !== undefined ? { expires: options.expires } : {}),
    };
    if (options.wait !== undefined) {
      const result = await client.call(task, payload, { ...sendOptions, timeout: options.wait * 1000 });
      if (ctx.jsonMode) ctx.json({ task, result });
      else ctx.out(JSON.stringify(result, null, 2));
      await client.close();
      return;
    }
    const { id } = await client.send(task, payload, sendOptions);
    const where = chosenPriority(client, task, sendOptions);
    if (ctx.jsonMode) ctx.json({ task, id, ...where });
    else if (!ctx.quiet) ctx.out(`sent ${task} (id ${id})${describe(where)}`);
  } finally {
    await connection.close();
  }
}

/** The class and message priority a send went with, when it named a priority (empty otherwise). */
function chosenPriority(
  client: TaskClient,
  task: string,
  options: { readonly priority?: string | number; readonly messagePriority?: number },
): { priorityClass?: string; messagePriority?: number } {
  if (options.priority === undefined && options.messagePriority === undefined) return {};
  const { priorityClass, messagePriority } = client.destination(task, options);
  return {
    ...(priorityClass !== undefined ? { priorityClass } : {}),
    ...(messagePriority !== undefined ? { messagePriority } : {}),
  };
}

/** ` to class 'mid' at priority 5`, or the part of it that applies. */
function describe(where: { priorityClass?: string; messagePriority?: number }): string {
  const parts = [
    ...(where.priorityClass !== undefined ? [`to class '${where.priorityClass}'`] : []),
    ...(where.messagePriority !== undefined ? [`at priority ${where.messagePriority}`] : []),
  ];
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}
