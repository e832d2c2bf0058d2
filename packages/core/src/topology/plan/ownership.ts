/**
 * Who owns what on a shared broker. `apply` records, per named *stack*, the exchanges, queues and
 * bindings it created (or was told to adopt) in a state document kept on the broker itself
 * ({@link StackStateStore}); `plan` then tells three groups apart:
 *
 * - this stack's entities (declared, or owned and no longer declared: prune candidates),
 * - entities Wakame makes at run time (dead letters, delay and reply queues, broadcast consumers'
 *   queues, locks): never extraneous, never pruned,
 * - everything else: *foreign* (other applications, Celery's queues, …), shown on request, never touched.
 *
 * @module
 */
import { InvalidArgumentError } from '../../errors.js';
import { bindingKey } from '../../model/binding-key.js';
import type { BindingSpec } from '../../transport/spi.js';
import { STACK_NAME_PATTERN } from '../../transport/stack-lock.js';
import type { DesiredTopology } from '../desired.js';

/** The stack used when neither the topology file (`name:`) nor the caller names one. */
export const DEFAULT_STACK = 'default';

/** What a stack owns, by name (bindings by their full identity). */
export interface OwnedEntities {
  readonly exchanges: readonly string[];
  readonly queues: readonly string[];
  readonly bindings: readonly BindingSpec[];
  /** Vhosts, users, permissions and policies, by `brokerEntityKey` (absent in records of older versions). */
  readonly broker?: readonly string[];
}

/** The state document of one stack, as kept on the broker. */
export interface StackState {
  readonly format: 'wakame-stack';
  readonly version: 1;
  readonly stack: string;
  /** Grows by one with every write: a saved plan made at serial N applies only at serial N. */
  readonly serial: number;
  readonly updatedAt: string;
  readonly owned: OwnedEntities;
  /**
   * Queue migrations under way, by queue name: each migration's own journal (the step it reached),
   * so an interrupted `apply --migrate` resumes where it stopped.
   */
  readonly migrations?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** Lookup form of {@link OwnedEntities}. */
export interface Ownership {
  readonly exchanges: ReadonlySet<string>;
  readonly queues: ReadonlySet<string>;
  /** Keys of {@link bindingKey}. */
  readonly bindings: ReadonlySet<string>;
  /** Keys of `brokerEntityKey`. */
  readonly broker: ReadonlySet<string>;
}

/** Throws a usage-grade error for a stack name that cannot become a key, file or parameter name. */
export function checkStackName(name: string): string {
  if (!STACK_NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `invalid stack name '${name}': use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

/** A stack that owns nothing yet (serial 0). */
export function emptyStackState(stack: string): StackState {
  return {
    format: 'wakame-stack',
    version: 1,
    stack,
    serial: 0,
    updatedAt: new Date(0).toISOString(),
    owned: { exchanges: [], queues: [], bindings: [] },
  };
}

/**
 * Reads a state document found on the broker. A document that is not one (a foreign record under
 * our name, a newer format) is refused rather than treated as "owns nothing", which would make
 * every owned entity foreign and silently stop pruning.
 */
export function parseStackState(stack: string, raw: Readonly<Record<string, unknown>> | undefined): StackState {
  if (raw === undefined) return emptyStackState(stack);
  const owned = raw.owned as Partial<OwnedEntities> | undefined;
  const valid =
    raw.format === 'wakame-stack' &&
    raw.version === 1 &&
    typeof raw.serial === 'number' &&
    owned !== undefined &&
    Array.isArray(owned.exchanges) &&
    Array.isArray(owned.queues) &&
    Array.isArray(owned.bindings);
  if (!valid) {
    throw new InvalidArgumentError(
      `the state record of stack '${stack}' is not a Wakame stack record of version 1; it was left as it is`,
    );
  }
  return raw as unknown as StackState;
}

/** Lookup sets of a state's owned entities. */
export function ownershipOf(state: StackState): Ownership {
  return {
    exchanges: new Set(state.owned.exchanges),
    queues: new Set(state.owned.queues),
    bindings: new Set(state.owned.bindings.map(bindingKey)),
    broker: new Set(state.owned.broker ?? []),
  };
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** Queues Wakame itself makes while running (see tasks/ and messaging/), whatever the stack. */
const RUNTIME_QUEUE = new RegExp(
  `^(wakame\\.(dead-letter|delay\\..+|reply\\.${UUID}|lock\\..+|quickstart\\..+|migrate\\..+)|amq\\.gen-.+|bcast\\.${UUID})$`,
);

/**
 * Whether a live entity is one Wakame creates at run time (never extraneous, never pruned): the
 * worker's dead-letter queue, delay and reply queues, apply locks, queue migrations' holding
 * entities, server-named queues, and the
 * per-consumer queues of the topology's broadcasts (`<queuePrefix>.<uuid>`).
 */
export function isRuntimeEntity(kind: 'exchange' | 'queue', name: string, desired: DesiredTopology): boolean {
  if (name === '' || name.startsWith('amq.')) return true;
  // A queue migration's holding exchanges and queues live only while it runs (or until it resumes).
  if (kind === 'exchange') return name.startsWith('wakame.migrate.');
  if (RUNTIME_QUEUE.test(name)) return true;
  return desired.broadcasts.some(
    (b) => name.startsWith(`${b.queuePrefix}.`) && isUuid(name.slice(b.queuePrefix.length + 1)),
  );
}

function isUuid(text: string): boolean {
  return new RegExp(`^${UUID}$`).test(text);
}

/** A binding is runtime when its queue is (a broadcast consumer's binding, a reply queue's). */
export function isRuntimeBinding(b: BindingSpec, desired: DesiredTopology): boolean {
  return b.source === '' || (b.destinationType === 'queue' && isRuntimeEntity('queue', b.destination, desired));
}

/**
 * The state to record after an apply: what the stack owned and still exists, plus what it
 * created or adopted now, minus what it deleted.
 */
export function nextStackState(
  previous: StackState,
  update: {
    /** Entities that exist after the apply and belong to the stack. */
    readonly owned: OwnedEntities;
    /** Migrations still under way (their journals), kept as they are. */
    readonly migrations?: StackState['migrations'];
  },
): StackState {
  const sortedNames = (names: readonly string[]) => [...new Set(names)].sort();
  const bindings = new Map(update.owned.bindings.map((b) => [bindingKey(b), b]));
  return {
    format: 'wakame-stack',
    version: 1,
    stack: previous.stack,
    serial: previous.serial + 1,
    updatedAt: new Date().toISOString(),
    owned: {
      exchanges: sortedNames(update.owned.exchanges),
      queues: sortedNames(update.owned.queues),
      bindings: [...bindings.keys()].sort().map((k) => bindings.get(k) as BindingSpec),
      ...(update.owned.broker && update.owned.broker.length > 0 ? { broker: sortedNames(update.owned.broker) } : {}),
    },
    ...(update.migrations && Object.keys(update.migrations).length > 0 ? { migrations: update.migrations } : {}),
  };
}
