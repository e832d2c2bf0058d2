/**
 * The error of a {@link TaskClient} asked to send a task the topology marks `protocol: celery`.
 *
 * @module
 */
import { InvalidOperationError } from '../errors.js';

/**
 * A task the topology marks `protocol: celery` (on the task or the whole document) was given to a
 * `TaskClient`, which only sends Wakame's format: a Celery worker could not run it. Nothing was sent.
 * Send it with a `CeleryClient` (or `wakame send`, which picks the protocol by the topology).
 */
export class TaskProtocolError extends InvalidOperationError {
  override readonly name = 'TaskProtocolError';
  override readonly code = 'ERR_TASK_PROTOCOL';
  constructor(
    readonly task: string,
    /** The protocol the topology gives the task. */
    readonly protocol: string,
  ) {
    super(
      `task '${task}' uses the ${protocol === 'celery' ? 'Celery' : protocol} protocol (protocol: ${protocol} in the topology), ` +
        "which a TaskClient does not send: nothing was sent. Send it with a CeleryClient (its payload as { args, kwargs }), or with 'wakame send', which does so",
    );
  }
}
