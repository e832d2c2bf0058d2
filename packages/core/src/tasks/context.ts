/**
 * The task being handled right now, carried through async calls, so that a task sent from inside
 * a handler inherits its trace context without the handler passing it along.
 *
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { TaskContext } from './types.js';

const storage = new AsyncLocalStorage<TaskContext>();

/** Runs `fn` with `context` as the current task. */
export function runInTaskContext<R>(context: TaskContext, fn: () => R): R {
  return storage.run(context, fn);
}

/** The task whose handler is running, if any. */
export function currentTaskContext(): TaskContext | undefined {
  return storage.getStore();
}
