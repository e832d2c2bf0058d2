/**
 * Running a topology's schedules from every worker while exactly one of them sends the runs.
 *
 * The lease is the broker's own stack lock (the one `wakame apply` takes: RabbitMQ's exclusive queue
 * `wakame.lock.<name>` that dies with its connection; a lease file or key that its holder renews on
 * the other transports), named `schedules.<group>`. Every worker tries it every `leaseCheckMs`; the
 * one that holds it leads. The schedules' state — the last slot handled per schedule, and a *term*
 * — is the stack state document of the same name, which every transport replaces atomically.
 *
 * A new leader reads the state and writes it back with the next term and itself as leader. At each
 * slot it reads the state again and steps down if another term began (it lost its lease without
 * noticing: a freeze longer than the lease); otherwise it **records** the slot, and only then sends
 * the run, with the slot id as the task id. Recording first makes a crash lose at most the run being
 * sent, never send one twice: a leader that takes over starts after the recorded slot.
 *
 * Why not a token message held unacknowledged by the leader: queues offer no create-if-absent, so two
 * workers starting on an empty queue would both publish a first token (and a crash between publishing
 * the next token and acknowledging the previous one leaves two), and two holders of equal tokens both
 * send every slot. The stack lock is exclusive on every transport (the conformance suite checks it),
 * and the state document is replaced atomically, so there is never a second lease to reconcile.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type LockHolder, SchedulerError, StackLockedError } from '../../errors.js';
import type { Connection } from '../../messaging/connection.js';
import type { Logger } from '../../messaging/events.js';
import type { CompiledSchedule, DesiredTopology } from '../../topology/desired.js';
import type { StackLock, StackStateStore } from '../../transport/spi.js';
import { TaskClient } from '../client.js';
import { payloadIssues } from '../payload-validator.js';
import { SYSTEM_TIMERS, type Timers } from './clock.js';
import { decide, type Slots, slotId, slotsOf } from './slots.js';

/** Headers of a scheduled run. */
export const SCHEDULE_HEADERS = {
  schedule: 'x-wakame-schedule',
  /** The slot's instant, ISO 8601 UTC. */
  slot: 'x-wakame-slot',
  /** Slots that passed without their own run before this one (a `runOnce` after a downtime). */
  missed: 'x-wakame-missed',
} as const;

/** How often a worker that does not lead tries the lease. @defaultValue 5 s */
export const DEFAULT_LEASE_CHECK_MS = 5_000;
/** A leader that has no slot sooner still checks its term this often. */
const MAX_SLEEP_MS = 60_000;

/** What the scheduler of a worker is doing, for logs and tests. */
export type ScheduleEvent =
  | { readonly type: 'leader'; readonly term: number }
  | { readonly type: 'follower'; readonly reason: string }
  | {
      readonly type: 'fired';
      readonly schedule: string;
      readonly slot: string;
      readonly id: string;
      readonly missed: number;
    }
  | { readonly type: 'skipped'; readonly schedule: string; readonly slot: string; readonly missed: number }
  | { readonly type: 'error'; readonly error: Error; readonly schedule?: string; readonly slot?: string };

/** Options of the worker's schedules (`WorkerOptions.scheduler`). */
export interface SchedulerOptions {
  /** Workers of one group share one lease and one state: give two deployments of one topology different groups. @defaultValue 'default' */
  readonly group?: string;
  /** How often a worker that does not lead tries the lease (also how soon one takes over). @defaultValue 5000 */
  readonly leaseCheckMs?: number;
}

/** The schedules' state document on the broker (the stack state `schedules.<group>`). */
export interface ScheduleState {
  /** Bumped by each new leader. */
  readonly term: number;
  /** The id of the leader of this term. */
  readonly leader?: string;
  /** Who that is, for people (`worker host-1 (pid 4242)`), and since when it leads (ISO 8601). */
  readonly leaderDescription?: string;
  readonly leaderSince?: string;
  /** Schedule name → the last slot handled (epoch ms). */
  readonly fired: Readonly<Record<string, number>>;
}

/** The stack name of a schedule group's lease and state. */
export function scheduleStackName(group = 'default'): string {
  return `schedules.${group}`;
}

/** The schedules of one worker; see the module description. */
export class Scheduler {
  readonly #schedules: readonly { readonly schedule: CompiledSchedule; readonly slots: Slots }[];
  readonly #topology: DesiredTopology;
  readonly #name: string;
  readonly #holder: LockHolder;
  readonly #timers: Timers;
  readonly #leaseCheckMs: number;
  readonly #logger: Logger;
  readonly #emit: (event: ScheduleEvent) => void;
  #connection: Connection | undefined;
  /** Sends the runs; made again when the worker's connection is another one. */
  #client: TaskClient | undefined;
  #lock: StackLock | undefined;
  /** The connection the lock was taken through (on RabbitMQ the lock lives as long as it does). */
  #lockConnection: Connection | undefined;
  #term = 0;
  #timer: unknown;
  /** Bumped by every start, pause and stop: work begun under an older generation stops at its next step. */
  #generation = 0;
  /** One step at a time: a lease attempt or a tick. */
  #busy: Promise<void> = Promise.resolve();

  constructor(
    topology: DesiredTopology,
    options: SchedulerOptions & {
      readonly logger: Logger;
      readonly timers?: Timers;
      readonly onEvent?: (event: ScheduleEvent) => void;
    },
  ) {
    this.#topology = topology;
    this.#schedules = (topology.schedules ?? []).map((schedule) => ({ schedule, slots: slotsOf(schedule) }));
    for (const { schedule } of this.#schedules) checkPayload(schedule, topology);
    this.#name = scheduleStackName(options.group);
    this.#timers = options.timers ?? SYSTEM_TIMERS;
    this.#leaseCheckMs = options.leaseCheckMs ?? DEFAULT_LEASE_CHECK_MS;
    this.#logger = options.logger;
    const id = randomUUID();
    this.#holder = { id, description: `worker ${hostname()} (pid ${process.pid})`, since: new Date().toISOString() };
    const hook = options.onEvent;
    this.#emit = (event) => {
      try {
        hook?.(event);
      } catch (error) {
        this.#logger.error('a schedule event listener threw', { error: String(error) });
      }
    };
  }

  /** Whether this worker leads now. */
  get isLeader(): boolean {
    return this.#lock !== undefined;
  }

  /** Starts (or resumes after a reconnect) on `connection`: tries the lease now, then every `leaseCheckMs`. */
  start(connection: Connection): void {
    if (this.#connection === connection && this.#timer !== undefined) return;
    this.#connection = connection;
    const generation = ++this.#generation;
    this.#clearTimer();
    this.#step(generation, () => this.#tryLease(generation));
  }

  /** The connection was lost: stop leading (the broker's lease goes with the connection, or lapses). */
  pause(): Promise<void> {
    this.#generation++;
    this.#clearTimer();
    return this.#stepDown('the connection was lost');
  }

  /** Stops for good, giving the lease back. */
  stop(): Promise<void> {
    this.#generation++;
    this.#clearTimer();
    this.#connection = undefined;
    return this.#busy.then(() => this.#stepDown('the worker is stopping'));
  }

  #step(generation: number, work: () => Promise<void>): void {
    this.#busy = this.#busy.then(async () => {
      if (generation !== this.#generation) return;
      try {
        await work();
      } catch (error) {
        this.#emit({ type: 'error', error: error as Error });
        if (error instanceof SchedulerError) {
          // Trying again cannot help (the transport keeps no lease): said once, and the worker runs on without.
          this.#logger.error('schedules: not run by this worker', { error: error.message });
          return;
        }
        this.#logger.warn('schedules: a lease step failed; trying again', { error: String(error) });
        if (generation === this.#generation) {
          await this.#stepDown(`a step failed: ${(error as Error).message}`);
          this.#later(generation, this.#leaseCheckMs, () => this.#tryLease(generation));
        }
      }
    });
  }

  #later(generation: number, ms: number, work: () => Promise<void>): void {
    if (generation !== this.#generation) return;
    this.#clearTimer();
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#step(generation, work);
    }, ms);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  get #stacks(): StackStateStore {
    const stacks = this.#connection?.admin.stacks;
    if (!stacks) {
      throw new SchedulerError(
        'this transport keeps no stack records (the lease and state of schedules, as wakame apply keeps its own), so this worker cannot run schedules',
      );
    }
    return stacks;
  }

  async #tryLease(generation: number): Promise<void> {
    // Started again while leading on the same connection (consuming resumed without a loss): the lease is still ours.
    // On another connection it may not be (RabbitMQ's went with the old one): give it back and take it again.
    if (this.#lock && this.#lockConnection === this.#connection) return this.#tick(generation);
    if (this.#lock) await this.#stepDown('the worker is on another connection');
    const stacks = this.#stacks;
    let lock: StackLock;
    try {
      lock = await stacks.lock(this.#name, { holder: this.#holder, timeoutMs: 0 });
    } catch (error) {
      if (!(error instanceof StackLockedError)) throw error;
      this.#later(generation, this.#leaseCheckMs, () => this.#tryLease(generation));
      return;
    }
    if (generation !== this.#generation) {
      await lock.release().catch(() => undefined);
      return;
    }
    this.#lock = lock;
    this.#lockConnection = this.#connection;
    const state = stateOf(await stacks.read(this.#name));
    this.#term = state.term + 1;
    await stacks.write(this.#name, {
      ...state,
      term: this.#term,
      leader: this.#holder.id,
      leaderDescription: this.#holder.description,
      leaderSince: new Date(this.#timers.now()).toISOString(),
    });
    this.#emit({ type: 'leader', term: this.#term });
    await this.#tick(generation);
  }

  /** Sends what is due, then sleeps until the next slot. */
  async #tick(generation: number): Promise<void> {
    const stacks = this.#stacks;
    const state = stateOf(await stacks.read(this.#name));
    if (state.term !== this.#term || state.leader !== this.#holder.id) {
      await this.#stepDown(`term ${state.term} of another worker began`);
      this.#later(generation, this.#leaseCheckMs, () => this.#tryLease(generation));
      return;
    }
    const now = this.#timers.now();
    const fired: Record<string, number> = { ...state.fired };
    const runs: { readonly schedule: CompiledSchedule; readonly slot: number; readonly missed: number }[] = [];
    for (const { schedule, slots } of this.#schedules) {
      const decision = decide(schedule, slots, fired[schedule.name], now);
      if (decision.record !== undefined) fired[schedule.name] = decision.record;
      if (decision.fire !== undefined) runs.push({ schedule, slot: decision.fire, missed: decision.missed });
      else if (decision.missed > 0 && decision.record !== undefined) {
        const slot = new Date(decision.record).toISOString();
        this.#emit({ type: 'skipped', schedule: schedule.name, slot, missed: decision.missed });
      }
    }
    // Paused meanwhile (the connection was lost: the lease may be another's by now): nothing more from this tick. A
    // stop lets the tick finish: it gives the lease back only after it.
    if (!this.#lock) return;
    // Recorded before sending: a crash from here on loses these runs, it never sends them twice.
    if (Object.keys(fired).some((name) => fired[name] !== state.fired[name])) {
      await stacks.write(this.#name, { ...state, fired });
    }
    for (const run of runs) {
      if (!this.#lock) return;
      await this.#send(run.schedule, run.slot, run.missed);
    }
    this.#later(generation, this.#sleepMs(now), () => this.#tick(generation));
  }

  async #send(schedule: CompiledSchedule, slot: number, missed: number): Promise<void> {
    const id = slotId(schedule.name, slot);
    const at = new Date(slot).toISOString();
    try {
      const connection = this.#connection as Connection;
      if (this.#client?.connection !== connection)
        this.#client = new TaskClient(connection, { compiled: this.#topology });
      const client = this.#client;
      const headers = {
        [SCHEDULE_HEADERS.schedule]: schedule.name,
        [SCHEDULE_HEADERS.slot]: at,
        [SCHEDULE_HEADERS.missed]: missed,
      };
      await client.send(schedule.task, schedule.payload as never, { id, headers });
      this.#emit({ type: 'fired', schedule: schedule.name, slot: at, id, missed });
    } catch (error) {
      // The slot is recorded: this run is lost, and said so (at most once).
      this.#logger.error('schedules: a run could not be sent and is lost', {
        schedule: schedule.name,
        slot: at,
        error: String(error),
      });
      this.#emit({ type: 'error', error: error as Error, schedule: schedule.name, slot: at });
    }
  }

  /** Until the next slot of any schedule (at most {@link MAX_SLEEP_MS}, so the term is checked now and then). */
  #sleepMs(now: number): number {
    let next = now + MAX_SLEEP_MS;
    for (const { slots } of this.#schedules) {
      const slot = slots.after(now);
      if (slot !== undefined && slot < next) next = slot;
    }
    return Math.max(1, next - this.#timers.now());
  }

  async #stepDown(reason: string): Promise<void> {
    const lock = this.#lock;
    if (!lock) return;
    this.#lock = undefined;
    this.#lockConnection = undefined;
    this.#term = 0;
    await lock.release().catch(() => undefined);
    this.#emit({ type: 'follower', reason });
  }
}

/** The state as stored, read defensively: anything missing or malformed counts as absent. */
export function stateOf(document: Readonly<Record<string, unknown>> | undefined): ScheduleState {
  const term = typeof document?.term === 'number' ? document.term : 0;
  const fired = typeof document?.fired === 'object' && document.fired !== null ? document.fired : {};
  const text = (key: string) => (typeof document?.[key] === 'string' ? { [key]: document[key] as string } : {});
  return {
    term,
    fired: fired as Record<string, number>,
    ...text('leader'),
    ...text('leaderDescription'),
    ...text('leaderSince'),
  };
}

/** A schedule whose payload its task refuses would fail at every slot: refused when the worker is made. */
function checkPayload(schedule: CompiledSchedule, topology: DesiredTopology): void {
  const task = topology.tasks.find((t) => t.name === schedule.task);
  if (!task)
    throw new SchedulerError(
      `schedule '${schedule.name}' sends task '${schedule.task}', which the topology does not declare`,
    );
  const issues = payloadIssues(task.payload, schedule.payload);
  if (issues.length > 0) {
    const list = issues.map((i) => `${i.path || '(payload)'} ${i.message}`).join('; ');
    throw new SchedulerError(`the payload of schedule '${schedule.name}' does not fit task '${task.name}': ${list}`);
  }
}
