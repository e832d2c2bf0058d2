/**
 * Celery interop: Celery's task protocol v2, a client that sends tasks to Python Celery workers and
 * reads their results, and a worker that runs tasks Python sent, with the `rpc://` result backend
 * (the Redis result backend is `CeleryRedisResultBackend` in `@wakame/transports/redis`).
 *
 * @module
 */
export {
  type CeleryArgsOf,
  type CeleryCall,
  type CeleryHandler,
  type CeleryHandlers,
  type CeleryKwargsOf,
  CeleryRetry,
  type CeleryRetryOptions,
  DEFAULT_MAX_RETRIES,
  DEFAULT_RETRY_DELAY_SECONDS,
} from './call.js';
export {
  CeleryClient,
  type CeleryClientOptions,
  CeleryGroupResult,
  CeleryResult,
  type CelerySendOptions,
  DEFAULT_CELERY_RESULT_TIMEOUT_MS,
} from './client.js';
export {
  CeleryProtocolError,
  CeleryResultTimeoutError,
  CeleryTaskError,
  CeleryTimeLimitError,
  CeleryUnsupportedError,
} from './errors.js';
export {
  CELERY_EVENT_EXCHANGE,
  CeleryEventDispatcher,
  type CeleryEventOptions,
  DEFAULT_HEARTBEAT_SECONDS as DEFAULT_CELERY_HEARTBEAT_SECONDS,
} from './events.js';
export {
  type CeleryEmbed,
  type CelerySignature,
  type CeleryTask,
  type CeleryTaskSpec,
  celeryTime,
  decodeCeleryTask,
  type EncodedCeleryTask,
  encodeCeleryTask,
} from './protocol.js';
export {
  type CeleryExceptionInfo,
  type CeleryResultBackend,
  type CeleryResultMeta,
  type CeleryResultTarget,
  type CeleryState,
  errorOf,
  exceptionInfo,
  READY_STATES,
  resultMeta,
  tracebackOf,
} from './results.js';
export { CELERY_DEFAULT_QUEUE, type CeleryRoute, CeleryRouter, type CeleryTarget, celeryQueue } from './routing.js';
export { RpcResultBackend, type RpcResultBackendOptions } from './rpc-backend.js';
export { type CeleryArguments, type CeleryTopologyTask, celeryTasksOf } from './topology.js';
export { CeleryWorker, type CeleryWorkerOptions } from './worker.js';
