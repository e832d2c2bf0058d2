/**
 * The desired state a topology document compiles to: normalised (defaults applied, bindings
 * flattened, sorted) and deterministic, so the same document always gives the same plan.
 *
 * @module
 */
import type { BindingSpec, BrokerEntities, ExchangeSpec, QueueSpec } from '../transport/spi.js';
import type { RetryDocument, RouteDocument } from './document.js';

/** A task, resolved: where it goes and how it retries. */
export interface CompiledTask {
  readonly name: string;
  readonly description?: string;
  readonly payload?: Readonly<Record<string, unknown>>;
  /**
   * The task's message protocol: its own `protocol`, else the document's, else `'wakame'`. A `'celery'`
   * task is sent in Celery's protocol v2 (by a `CeleryClient`), never by a `TaskClient`.
   */
  readonly protocol: 'wakame' | 'celery';
  /** The priority class name, if the task has one (resolved to a queue through `priorityClasses`). */
  readonly priorityClass?: string;
  /** A numeric message priority (0–255), when given as a number. */
  readonly priority?: number;
  /** The route that matched the task (its own, else the first matching `routes` entry). */
  readonly route?: { readonly exchange: string; readonly routingKey: string };
  readonly retry: Required<RetryDocument>;
  readonly deadLetter?: { readonly queue?: string; readonly exchange?: string; readonly routingKey?: string };
  /** At most `max` starts per `perMs`, per worker (a token bucket). */
  readonly rateLimit?: { readonly max: number; readonly perMs: number };
  /** At most this many handlers of the task at once, per worker. */
  readonly concurrency?: number;
}

/** A schedule, with its defaults applied and its durations in milliseconds. */
export interface CompiledSchedule {
  readonly name: string;
  readonly task: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly trigger:
    | { readonly kind: 'cron'; readonly expression: string; readonly timezone: string }
    | { readonly kind: 'every'; readonly everyMs: number };
  /** After a downtime: `skip` the slots that passed, or `runOnce` for all of them. */
  readonly missed: 'skip' | 'runOnce';
  /** How late a slot may still run as on time. */
  readonly graceMs: number;
}

export interface DesiredTopology {
  /** Sorted by name. */
  readonly exchanges: readonly ExchangeSpec[];
  /** Sorted by name. */
  readonly queues: readonly QueueSpec[];
  /** Sorted by source, destination type, destination, routing key, arguments. */
  readonly bindings: readonly BindingSpec[];
  readonly broadcasts: readonly {
    readonly exchange: string;
    readonly queuePrefix: string;
    readonly durable: boolean;
  }[];
  readonly priorityClasses: Readonly<Record<string, string>>;
  readonly routes: readonly RouteDocument[];
  /** Sorted by name. */
  readonly tasks: readonly CompiledTask[];
  /** Sorted by name; absent when the topology declares none. */
  readonly schedules?: readonly CompiledSchedule[];
  /**
   * The broker's own entities the topology declares (vhosts, users, permissions, policies), each
   * list sorted by its key. Absent: none.
   */
  readonly broker?: BrokerEntities;
}
