/**
 * The topology file format (what users write in YAML or TypeScript), as TypeScript types. The JSON
 * Schema in `schemas/topology.schema.json` describes exactly this shape; `test/topology` checks the
 * two agree. Durations are milliseconds.
 *
 * @example
 * ```yaml
 * # yaml-language-server: $schema=../../schemas/topology.schema.json
 * version: 1
 * exchanges:
 *   - { name: tasks, type: direct }
 * queues:
 *   - name: hipri
 *     maxPriority: 10
 *     bindings: [{ exchange: tasks, routingKey: hipri }]
 * priorityClasses: { high: hipri, low: lopri }
 * tasks:
 *   - name: media.process
 *     payload: { type: object, required: [url], properties: { url: { type: string } } }
 *     priority: low
 * routes:
 *   - { match: 'media.*', exchange: tasks }
 * ```
 *
 * @module
 */
import type { ExchangeType, PolicyTarget, QueueArguments, QueueType } from '../transport/spi.js';

/** A whole topology document (one file; `include` pulls in others). */
export interface TopologyDocument {
  /** Format version. @defaultValue 1 */
  readonly version?: 1;
  /**
   * The stack that owns what this file declares: `apply` records what it creates under this name,
   * and prune only deletes entities of this stack. @defaultValue `'default'` (or `--stack`)
   */
  readonly name?: string;
  /** Other topology files, relative to this one, merged in (duplicates are errors). */
  readonly include?: readonly string[];
  /** Values applied to every exchange / queue that does not set them. */
  readonly defaults?: DefaultsDocument;
  readonly exchanges?: readonly ExchangeDocument[];
  readonly queues?: readonly QueueDocument[];
  /** Bindings not written inside a queue: exchange-to-exchange, or to queues declared elsewhere. */
  readonly bindings?: readonly BindingDocument[];
  /** Fanout exchanges whose every consumer gets its own auto-delete queue (kombu's Broadcast). */
  readonly broadcasts?: readonly BroadcastDocument[];
  /**
   * Priority class name → the queue that carries it, highest priority first, e.g.
   * `{ high: hipri, mid: midpri, low: lopri }`: a worker consuming these queues serves them in this order.
   */
  readonly priorityClasses?: Readonly<Record<string, string>>;
  readonly tasks?: readonly TaskDocument[];
  /** How task names (globs) map to an exchange and routing key; the first match wins. */
  readonly routes?: readonly RouteDocument[];
  /** Virtual hosts the broker must have. */
  readonly vhosts?: readonly VhostDocument[];
  /** Broker users; a password comes from the environment (`${ORDERS_PASSWORD}`), never from the file. */
  readonly users?: readonly UserDocument[];
  /** What each user may configure, write and read in a vhost. */
  readonly permissions?: readonly PermissionDocument[];
  /** What routing keys each user may publish and bind through a topic exchange. */
  readonly topicPermissions?: readonly TopicPermissionDocument[];
  /**
   * Policies: settings (TTLs, limits, dead-lettering, …) for the queues and exchanges whose names
   * match. Unlike queue arguments, which are fixed once a queue exists, a policy changes in place.
   */
  readonly policies?: readonly PolicyDocument[];
  /** Operator policies: limits that cap what users and their policies set (the lower value wins). */
  readonly operatorPolicies?: readonly PolicyDocument[];
}

export interface DefaultsDocument {
  readonly exchange?: Omit<ExchangeDocument, 'name'>;
  readonly queue?: Omit<QueueDocument, 'name' | 'bindings'>;
  readonly task?: Pick<TaskDocument, 'retry' | 'priority' | 'deadLetter'>;
}

export interface ExchangeDocument {
  readonly name: string;
  /** @defaultValue 'direct' */
  readonly type?: ExchangeType;
  /** @defaultValue true */
  readonly durable?: boolean;
  /** @defaultValue false */
  readonly autoDelete?: boolean;
  /** @defaultValue false */
  readonly internal?: boolean;
  readonly alternateExchange?: string;
  readonly arguments?: Readonly<Record<string, unknown>>;
}

export interface QueueBindingDocument {
  readonly exchange: string;
  /** @defaultValue '' */
  readonly routingKey?: string;
  /** Headers-exchange match values. */
  readonly headers?: Readonly<Record<string, string | number | boolean>>;
  /** @defaultValue 'all' */
  readonly match?: 'all' | 'any';
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/** A queue; its typed arguments (`maxPriority`, `messageTtl`, …) are those of the queue-argument table. */
export interface QueueDocument extends QueueArguments {
  readonly name: string;
  /** @defaultValue true */
  readonly durable?: boolean;
  /** @defaultValue false */
  readonly exclusive?: boolean;
  /** @defaultValue false */
  readonly autoDelete?: boolean;
  readonly arguments?: Readonly<Record<string, unknown>>;
  readonly bindings?: readonly QueueBindingDocument[];
}

export interface BindingDocument extends QueueBindingDocument {
  /** The queue (or exchange, with `destinationType: exchange`) that receives. */
  readonly destination: string;
  /** @defaultValue 'queue' */
  readonly destinationType?: 'queue' | 'exchange';
}

export interface BroadcastDocument {
  /** The fanout exchange. */
  readonly name: string;
  /** Prefix of the per-consumer queue names. @defaultValue 'bcast' */
  readonly queuePrefix?: string;
  /** @defaultValue true */
  readonly durable?: boolean;
}

export interface RetryDocument {
  /** Total attempts including the first. @defaultValue 1 (no retry) */
  readonly maxAttempts?: number;
  /** @defaultValue 1000 */
  readonly initialDelay?: number;
  /** @defaultValue 2 */
  readonly factor?: number;
  /** @defaultValue 60000 */
  readonly maxDelay?: number;
  /** 0..1 share of each delay that is random. @defaultValue 0.2 */
  readonly jitter?: number;
}

export interface TaskDocument {
  /** Dotted task name, e.g. `media.process`. */
  readonly name: string;
  readonly description?: string;
  /** JSON Schema of the payload. */
  readonly payload?: Readonly<Record<string, unknown>>;
  /** A priority class name (see `priorityClasses`) or a number 0–255. */
  readonly priority?: string | number;
  /** Overrides the routes for this task. */
  readonly route?: { readonly exchange: string; readonly routingKey?: string };
  readonly retry?: RetryDocument;
  /** Where the task's messages go after the last attempt. */
  readonly deadLetter?: { readonly queue?: string; readonly exchange?: string; readonly routingKey?: string };
}

export interface RouteDocument {
  /** Task-name glob: `*` matches within one dotted segment, `**` across segments. */
  readonly match: string;
  readonly exchange: string;
  /** @defaultValue the task name */
  readonly routingKey?: string;
}

/** A virtual host. */
export interface VhostDocument {
  readonly name: string;
  readonly description?: string;
  /** @defaultValue [] */
  readonly tags?: readonly string[];
  /** The type of queues declared in it without one (RabbitMQ 3.8+). @defaultValue the broker's (classic) */
  readonly defaultQueueType?: QueueType;
}

/** What a broker user has in common, whatever its credential. */
interface UserDocumentBase {
  readonly name: string;
  /** RabbitMQ user tags (`administrator`, `monitoring`, `management`, `policymaker`, …). @defaultValue [] */
  readonly tags?: readonly string[];
}

/**
 * A user logging in with a password. Write it as `${VAR}` so the file holds no secret: validation,
 * plans and exports show it only as `(sensitive)`. Without a password (and without a hash), the user
 * is created without one and an existing user's password is left as it is.
 */
export interface UserPasswordDocument extends UserDocumentBase {
  readonly password?: string;
}

/** A user given by RabbitMQ's stored form of its password (e.g. from `rabbitmqctl hash_password`). */
export interface UserHashDocument extends UserDocumentBase {
  /** Base64 of salt and digest, as RabbitMQ stores it. */
  readonly passwordHash: string;
  /** The algorithm the hash was made with. @defaultValue 'rabbit_password_hashing_sha256' */
  readonly hashingAlgorithm?: HashingAlgorithm;
}

/** A broker user: at most one of `password` and `passwordHash`. */
export type UserDocument = UserPasswordDocument | UserHashDocument;

/** RabbitMQ's password hashing algorithms. */
export type HashingAlgorithm =
  | 'rabbit_password_hashing_sha256'
  | 'rabbit_password_hashing_sha512'
  | 'rabbit_password_hashing_md5';

/**
 * A user's permissions in a vhost: three regular expressions over the names of the exchanges and
 * queues it may configure (declare, delete), write (publish, bind to) and read (consume, bind from).
 * All three are required, as with `rabbitmqctl set_permissions`: a forgotten one must not grant
 * everything. `''` grants nothing, `'.*'` everything.
 */
export interface PermissionDocument {
  readonly user: string;
  readonly vhost: string;
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

/**
 * A user's topic permissions on one topic exchange: regular expressions over the routing keys it may
 * publish with (write) and bind with (read). Both are required, as with `rabbitmqctl set_topic_permissions`.
 */
export interface TopicPermissionDocument {
  readonly user: string;
  readonly vhost: string;
  readonly exchange: string;
  readonly write: string;
  readonly read: string;
}

/** A policy or operator policy: a `definition` for the entities of a vhost whose names match `pattern`. */
export interface PolicyDocument {
  readonly name: string;
  /** @defaultValue the connection's vhost */
  readonly vhost?: string;
  /** A regular expression over entity names, e.g. `'^lopri$'` for one queue. */
  readonly pattern: string;
  /** What kind of entity it applies to (RabbitMQ's `apply-to`). @defaultValue 'all' */
  readonly applyTo?: PolicyTarget;
  /** Of several matching policies, the highest priority applies. @defaultValue 0 */
  readonly priority?: number;
  /** RabbitMQ policy keys and values: `{ message-ttl: 60000, dead-letter-exchange: dlx }`. */
  readonly definition: Readonly<Record<string, unknown>>;
}

/** The TypeScript entry point: returns its argument, typed, so editors check topology files in TS. */
export function defineTopology<const T extends TopologyDocument>(topology: T): T {
  return topology;
}
