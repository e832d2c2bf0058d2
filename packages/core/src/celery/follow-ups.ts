/**
 * The messages a finished Celery task sends on: the next step of its chain and its callbacks (each
 * a serialized signature, given the result as first argument unless immutable), its errbacks after a
 * failure, and its own retry.
 * The ids, reply queues and routes come from the signatures' options, as Celery froze them.
 *
 * @module
 */
import type { Queue } from '../model/queue.js';
import type { CeleryRetryOptions } from './call.js';
import { DEFAULT_RETRY_DELAY_SECONDS } from './call.js';
import { CeleryUnsupportedError } from './errors.js';
import { type CelerySignature, type CeleryTask, type EncodedCeleryTask, encodeCeleryTask } from './protocol.js';
import { CeleryRouter, type CeleryTarget } from './routing.js';

/** One message to send: where, what, and at which priority. */
export interface FollowUp {
  readonly target: CeleryTarget;
  readonly task: EncodedCeleryTask;
  readonly priority: number | undefined;
}

function optionString(options: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = options[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function signatureMessage(
  signature: CelerySignature,
  parent: CeleryTask,
  result: unknown,
  chain: readonly CelerySignature[] | null,
  router: CeleryRouter,
  group?: { readonly id: string | undefined; readonly index: number },
): FollowUp {
  const options = signature.options ?? {};
  const args = signature.immutable ? [...(signature.args ?? [])] : [result, ...(signature.args ?? [])];
  const queueName = optionString(options, 'queue') ?? optionString(options, 'routing_key');
  const route = queueName !== undefined ? { queue: queueName } : router.route(signature.task);
  const countdown = typeof options.countdown === 'number' ? options.countdown : undefined;
  const priority = typeof options.priority === 'number' ? options.priority : route.priority;
  const id = optionString(options, 'task_id');
  const replyTo = optionString(options, 'reply_to');
  const task = encodeCeleryTask({
    name: signature.task,
    args,
    kwargs: signature.kwargs ?? {},
    rootId: parent.rootId,
    parentId: parent.id,
    ...(id !== undefined ? { id } : {}),
    ...(replyTo !== undefined ? { replyTo } : {}),
    ...(countdown !== undefined ? { countdown } : {}),
    ...(group ? { group: group.id ?? null, groupIndex: group.index } : {}),
    // encodeCeleryTask takes steps in running order; Celery keeps them last first.
    chain: chain ? [...chain].reverse() : null,
  });
  return { target: CeleryRouter.targetOf(route), task, priority };
}

/**
 * A chain step: one task, or a group's tasks, each given the result (Celery expands a group on the
 * sending side; its id and its tasks' ids were fixed when the chain was frozen). A group followed by
 * more steps is a chord, which needs a result backend's chord support: refused.
 */
function stepMessages(
  step: CelerySignature,
  parent: CeleryTask,
  result: unknown,
  rest: readonly CelerySignature[],
  router: CeleryRouter,
): FollowUp[] {
  const kind = step.subtask_type ?? (step.task === 'celery.group' ? 'group' : null);
  if (kind === 'chord' || (kind === 'group' && rest.length > 0)) {
    throw new CeleryUnsupportedError(
      `task ${parent.name} ${parent.id}: its chain continues with a chord, which is not supported yet`,
    );
  }
  if (kind !== 'group') return [signatureMessage(step, parent, result, rest, router)];
  const tasks = (step.kwargs?.tasks ?? []) as readonly CelerySignature[];
  const id = optionString(step.options ?? {}, 'task_id');
  return tasks.map((member, index) => signatureMessage(member, parent, result, null, router, { id, index }));
}

/** The next step of the chain and the callbacks, after a success with `result`. */
export function successFollowUps(task: CeleryTask, result: unknown, router: CeleryRouter): FollowUp[] {
  const next: FollowUp[] = [];
  const chain = task.embed.chain ?? [];
  const step = chain.at(-1);
  if (step !== undefined) next.push(...stepMessages(step, task, result, chain.slice(0, -1), router));
  for (const callback of task.embed.callbacks ?? []) next.push(signatureMessage(callback, task, result, null, router));
  return next;
}

/**
 * The errbacks after a failure. A Wakame worker cannot run Python's errbacks in process, so it sends
 * them as Celery does for errbacks it has no code for: with the failed task's id as first argument.
 */
export function failureFollowUps(task: CeleryTask, router: CeleryRouter): FollowUp[] {
  return (task.embed.errbacks ?? []).map((errback) => signatureMessage(errback, task, task.id, null, router));
}

/** The same task again: same id and arguments, one more retry, not before the eta. */
export function retryMessage(task: CeleryTask, options: CeleryRetryOptions, queue: Queue, priority?: number): FollowUp {
  const chain = task.embed.chain;
  const encoded = encodeCeleryTask({
    name: task.name,
    id: task.id,
    args: task.args,
    kwargs: task.kwargs,
    retries: task.retries + 1,
    rootId: task.rootId,
    parentId: task.parentId,
    group: task.group,
    replyTo: task.replyTo,
    ...(task.expires ? { expires: task.expires } : {}),
    ...(options.eta ? { eta: options.eta } : { countdown: options.countdown ?? DEFAULT_RETRY_DELAY_SECONDS }),
    callbacks: task.embed.callbacks,
    errbacks: task.embed.errbacks,
    chain: chain ? [...chain].reverse() : null,
  });
  return { target: { queue }, task: encoded, priority };
}
