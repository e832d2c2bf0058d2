/**
 * Topology operations on RabbitMQ. They run on a dedicated channel: an AMQP error (a 406 on a
 * conflicting redeclare, a 404 on a passive check) closes the channel it happened on, so it must
 * not be the channel that publishes or consumes. A closed admin channel is replaced on next use.
 *
 * Everything declared is recorded, so recovery after a connection loss can declare it again.
 */
import type {
  BindingSpec,
  BrokerEntityAdmin,
  BulkBindResult,
  ExchangeSpec,
  MigrationReport,
  ObservedTopology,
  ProbeRequest,
  ProbeResult,
  QueueDeclareResult,
  QueueMigration,
  QueueSpec,
  StackStateStore,
  TopologyAdmin,
} from '@wakame/core/spi';
import { bindingKey, QueueUnavailableError, UnsupportedFeatureError } from '@wakame/core/spi';
import type { Channel, ChannelModel } from 'amqplib';
import { type BatchHost, bindInBatches, probeInBatches } from './admin-probe.js';
import { fromAmqpError } from './errors.js';
import { toAssertExchange, toAssertQueue } from './mapping.js';
import { type AmqpMigrationHost, migrateQueue } from './migrate-queue.js';

/** What was declared through this connection, in order, for replay after a reconnect. */
export class TopologyRecord {
  readonly exchanges = new Map<string, ExchangeSpec>();
  /** Server-named queues are kept under the name the broker gave them. */
  readonly queues = new Map<string, QueueSpec & { readonly serverNamed: boolean }>();
  readonly bindings = new Map<string, BindingSpec>();

  forgetExchange(name: string): void {
    this.exchanges.delete(name);
    for (const [key, b] of this.bindings) {
      if (b.source === name || (b.destinationType === 'exchange' && b.destination === name)) this.bindings.delete(key);
    }
  }

  forgetQueue(name: string): void {
    this.queues.delete(name);
    for (const [key, b] of this.bindings) {
      if (b.destinationType === 'queue' && b.destination === name) this.bindings.delete(key);
    }
  }
}

/** The spec of a passive declare: only the name is sent. */
export const PASSIVE_PROBE = (name: string): QueueSpec => ({
  name,
  durable: true,
  exclusive: false,
  autoDelete: false,
  arguments: {},
});

/** What {@link AmqpAdmin.replay} did. */
export interface ReplayResult {
  /** Server-named queues: old name → the name the broker gave this time. */
  readonly renamed: ReadonlyMap<string, string>;
  /** Recorded queues the broker could not declare because their node is down, with its words. */
  readonly unavailable: ReadonlyMap<string, QueueUnavailableError>;
}

/** Admin channels open at most at once (independent declarations run in parallel on them). */
export const ADMIN_CHANNELS = 8;

/** The connection pieces the admin needs from its transport. */
export interface AdminHost {
  /** The live connection; waits through a recovery (bounded), throws when closed. */
  connection(): Promise<ChannelModel>;
  /** Exchanges known to exist (publishing to an unknown one is checked first). */
  readonly knownExchanges: Set<string>;
  /** Looks up live state through the management API. */
  inspect(): Promise<ObservedTopology>;
  /** Ownership records and the apply lock of `wakame apply`. */
  readonly stacks?: StackStateStore;
  /** Vhosts, users, permissions and policies, through the management API (`broker-admin.ts`). */
  readonly broker?: BrokerEntityAdmin;
  /** What a queue migration needs (`migrate-queue.ts`): its own channels and the management API. */
  readonly migration?: AmqpMigrationHost;
}

/** An operation waiting for an admin channel. */
interface Waiter {
  readonly resolve: (ch: Channel) => void;
  readonly reject: (error: Error) => void;
}

/** {@link TopologyAdmin} for RabbitMQ. */
export class AmqpAdmin implements TopologyAdmin {
  readonly record = new TopologyRecord();
  /**
   * What this admin asked of the broker, for benchmarks and tests: `roundTrips` counts operations
   * that waited for the broker once each (a lone RPC, or a whole batch of `nowait` methods);
   * `channelsOpened` the admin channels opened (one round trip more each; a failure closes one).
   */
  readonly stats = { roundTrips: 0, channelsOpened: 0 };
  #idle: Channel[] = [];
  #open = 0;
  #generation = 0;
  /** Operations waiting for a channel while all {@link ADMIN_CHANNELS} are busy. */
  readonly #waiting: Waiter[] = [];
  readonly #closed = new WeakSet<Channel>();

  constructor(private readonly host: AdminHost) {}

  /** State documents (global parameters) and apply locks (exclusive queues); see `stacks.ts`. */
  get stacks(): StackStateStore | undefined {
    return this.host.stacks;
  }

  /** The broker's own entities (vhosts, users, permissions, policies); see `broker-admin.ts`. */
  get broker(): BrokerEntityAdmin | undefined {
    return this.host.broker;
  }

  /** Moves a queue to settings it cannot change in place, every message kept (see `migrate-queue.ts`). */
  readonly migrateQueue = (migration: QueueMigration): Promise<MigrationReport> => {
    if (!this.host.migration) throw new UnsupportedFeatureError('queue migration', 'amqp');
    return migrateQueue(this.host.migration, migration);
  };

  /** Many exchanges and queues probed per round trip (`admin-probe.ts`); never creates a missing one. */
  readonly probeEntities = (
    requests: readonly ProbeRequest[],
    onProgress?: (done: number) => void,
  ): Promise<readonly ProbeResult[]> => probeInBatches(this.#batchHost, requests, onProgress);

  /** Many bindings per round trip, in order, stopping at the first that fails (`admin-probe.ts`). */
  readonly bindMany = (bindings: readonly BindingSpec[]): Promise<BulkBindResult> =>
    bindInBatches(this.#batchHost, bindings);

  readonly #batchHost: BatchHost = {
    onChannel: (op) => this.#run(op),
    declareExchange: (spec, options) => this.declareExchange(spec, options),
    declareQueue: (spec, options) => this.declareQueue(spec, options),
    bind: (binding) => this.bind(binding),
    // What the lone active declares and binds record, so a reconnect declares them again all the same.
    declared: (request) => {
      if (request.kind === 'queue') this.record.queues.set(request.spec.name, { ...request.spec, serverNamed: false });
      else {
        this.record.exchanges.set(request.spec.name, request.spec);
        this.host.knownExchanges.add(request.spec.name);
      }
    },
    bound: (binding) => this.record.bindings.set(bindingKey(binding), binding),
  };

  async declareExchange(spec: ExchangeSpec, options: { passive?: boolean } = {}): Promise<void> {
    if (spec.name === '') return;
    const entity = { kind: 'exchange' as const, name: spec.name };
    if (options.passive) {
      await this.#run((ch) => ch.checkExchange(spec.name), entity);
    } else {
      await this.#run((ch) => ch.assertExchange(spec.name, spec.type, toAssertExchange(spec)), entity);
      this.record.exchanges.set(spec.name, spec);
    }
    this.host.knownExchanges.add(spec.name);
  }

  async declareQueue(spec: QueueSpec, options: { passive?: boolean } = {}): Promise<QueueDeclareResult> {
    const entity = { kind: 'queue' as const, name: spec.name };
    const reply = options.passive
      ? await this.#run((ch) => ch.checkQueue(spec.name), entity)
      : await this.#run((ch) => ch.assertQueue(spec.name, toAssertQueue(spec)), entity);
    if (!options.passive)
      this.record.queues.set(reply.queue, { ...spec, name: reply.queue, serverNamed: spec.name === '' });
    return { name: reply.queue, messageCount: reply.messageCount, consumerCount: reply.consumerCount };
  }

  async bind(b: BindingSpec): Promise<void> {
    await this.#run(
      (ch) =>
        b.destinationType === 'queue'
          ? ch.bindQueue(b.destination, b.source, b.routingKey, b.arguments)
          : ch.bindExchange(b.destination, b.source, b.routingKey, b.arguments),
      { kind: 'binding', name: `${b.source} → ${b.destination}` },
    );
    this.record.bindings.set(bindingKey(b), b);
  }

  async unbind(b: BindingSpec): Promise<void> {
    await this.#run(
      (ch) =>
        b.destinationType === 'queue'
          ? ch.unbindQueue(b.destination, b.source, b.routingKey, b.arguments)
          : ch.unbindExchange(b.destination, b.source, b.routingKey, b.arguments),
      { kind: 'binding', name: `${b.source} → ${b.destination}` },
    );
    this.record.bindings.delete(bindingKey(b));
  }

  async deleteExchange(name: string, options: { ifUnused?: boolean } = {}): Promise<void> {
    await this.#run((ch) => ch.deleteExchange(name, { ifUnused: options.ifUnused ?? false }), {
      kind: 'exchange',
      name,
    });
    this.record.forgetExchange(name);
    this.host.knownExchanges.delete(name);
  }

  async deleteQueue(name: string, options: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<number> {
    const reply = await this.#run(
      (ch) => ch.deleteQueue(name, { ifUnused: options.ifUnused ?? false, ifEmpty: options.ifEmpty ?? false }),
      { kind: 'queue', name },
    );
    this.record.forgetQueue(name);
    return reply.messageCount;
  }

  async purgeQueue(name: string): Promise<number> {
    return (await this.#run((ch) => ch.purgeQueue(name), { kind: 'queue', name })).messageCount;
  }

  inspect(): Promise<ObservedTopology> {
    return this.host.inspect();
  }

  /**
   * Declares again everything recorded (after a reconnect), in dependency order, each stage in
   * parallel over the admin channels. Server-named queues get new names from the broker (`renamed`
   * says which old name became which). A queue whose node is down is not a reason to fail the
   * reconnect: it is returned in `unavailable` (its bindings wait with it) and
   * {@link AmqpAdmin.redeclare} brings it back later; every other failure fails the replay.
   */
  async replay(): Promise<ReplayResult> {
    const renamed = new Map<string, string>();
    const unavailable = new Map<string, QueueUnavailableError>();
    await Promise.all([...this.record.exchanges.values()].map((spec) => this.declareExchange(spec)));
    await Promise.all(
      [...this.record.queues].map(async ([name, spec]) => {
        try {
          if (!spec.serverNamed) {
            await this.declareQueue(spec);
            return;
          }
          this.record.queues.delete(name);
          renamed.set(name, (await this.declareQueue({ ...spec, name: '' })).name);
        } catch (error) {
          if (!(error instanceof QueueUnavailableError)) throw error;
          unavailable.set(name, error);
        }
      }),
    );
    await Promise.all(
      [...this.record.bindings].map(async ([key, b]) => {
        if (b.destinationType === 'queue' && unavailable.has(b.destination)) return;
        const destination =
          b.destinationType === 'queue' ? (renamed.get(b.destination) ?? b.destination) : b.destination;
        if (destination !== b.destination) this.record.bindings.delete(key);
        try {
          await this.bind({ ...b, destination });
        } catch (error) {
          if (!(error instanceof QueueUnavailableError)) throw error;
          unavailable.set(destination, error);
        }
      }),
    );
    return { renamed, unavailable };
  }

  /**
   * Declares a recorded queue and its bindings again (one that {@link AmqpAdmin.replay} found
   * unavailable). @throws QueueUnavailableError while its node is still down.
   */
  async redeclare(queue: string): Promise<void> {
    const spec = this.record.queues.get(queue);
    // A queue declared by someone else (found unavailable through a return or a cancel) is only checked.
    if (spec) await this.declareQueue(spec);
    else await this.declareQueue(PASSIVE_PROBE(queue), { passive: true });
    const bindings = [...this.record.bindings.values()].filter(
      (b) => b.destinationType === 'queue' && b.destination === queue,
    );
    await Promise.all(bindings.map((b) => this.bind(b)));
  }

  /** The connection was replaced: its channels are gone with it. */
  reset(): void {
    this.#generation++;
    this.#idle = [];
    this.#open = 0;
    // The old channels will not be released to them: let each waiter open one on the new connection.
    for (const waiter of this.#waiting.splice(0)) this.#handOver(waiter);
  }

  /**
   * Runs one operation on a channel of its own: channels are pooled (up to {@link ADMIN_CHANNELS}),
   * each runs one RPC at a time, so a failing operation closes only its channel and is the only
   * one to see the error — and independent declarations proceed in parallel.
   */
  async #run<T>(
    op: (ch: Channel) => Promise<T>,
    entity?: { kind: 'exchange' | 'queue' | 'binding'; name: string },
  ): Promise<T> {
    const generation = this.#generation;
    const channel = await this.#acquire();
    this.stats.roundTrips++;
    try {
      return await op(channel);
    } catch (error) {
      // A batch names no entity: the error is mapped from the reply text alone.
      throw fromAmqpError(error, entity ? { entity } : {});
    } finally {
      this.#release(channel, generation);
    }
  }

  async #acquire(): Promise<Channel> {
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#open >= ADMIN_CHANNELS) return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
    this.#open++;
    try {
      const conn = await this.host.connection();
      const ch = await conn.createChannel();
      this.stats.channelsOpened++;
      // The error reaches the failing operation; without a listener it would crash the process.
      ch.on('error', () => {});
      ch.on('close', () => this.#closed.add(ch));
      return ch;
    } catch (error) {
      this.#open--;
      throw fromAmqpError(error);
    }
  }

  #release(ch: Channel, generation: number): void {
    if (generation !== this.#generation) return;
    if (this.#closed.has(ch)) {
      this.#open--;
      // Someone waits for a channel: let it open a fresh one.
      const next = this.#waiting.shift();
      if (next) this.#handOver(next);
      return;
    }
    const next = this.#waiting.shift();
    if (next) next.resolve(ch);
    else this.#idle.push(ch);
  }

  /** Opens a channel for a waiter; a failure (connection down) reaches the waiting operation instead of stalling it. */
  #handOver(waiter: Waiter): void {
    this.#acquire().then(waiter.resolve, waiter.reject);
  }
}
