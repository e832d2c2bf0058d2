/**
 * The error of a {@link TaskClient} asked to send, or a {@link Worker} to run, a task the topology marks
 * `protocol: celery`.
 *
 * @module
 */
import { InvalidOperationError } from '../errors.js';

/**
 * A task the topology marks `protocol: celery` (on the task or the whole document) was given to a
 * `TaskClient` to send, or to a `Worker` to run: both speak only Wakame's format, so a Celery worker could
 * not run what the client sent, and the worker could not read what Celery sends. Nothing was sent or
 * started. Send it with a `CeleryClient` (or `wakame send`, which picks the protocol by the topology);
 * run it with a `CeleryWorker`.
 */
export class TaskProtocolError extends InvalidOperationError {
  override readonly name = 'TaskProtocolError';
  override readonly code = 'ERR_TASK_PROTOCOL';
  constructor(
    readonly task: string,
    /** The protocol the topology gives the task. */
    readonly protocol: string,
    /** Whether a client was to send it or a worker to run it. */
    readonly role: 'send' | 'run' = 'send',
  ) {
    const what = `task '${task}' uses the ${protocol === 'celery' ? 'Celery' : protocol} protocol (protocol: ${protocol} in the topology)`;
    super(
      role === 'send'
        ? `${what}, which a TaskClient does not send: nothing was sent. Send it with a CeleryClient (its payload as { args, kwargs }), or with 'wakame send', which does so`
        : `${what}, which a Worker does not run: it would refuse Celery's messages. Run it with a CeleryWorker (its handler gets { args, kwargs })`,
    );
  }
}
