/**
 * Schedules and task limits in real workers on the in-process broker, with a clock the test moves: two workers
 * of one group send each slot once; the other takes over when the leader goes; per-task concurrency and rate
 * limits hold inside a worker.
 */
import { randomUUID } from 'node:crypto';
import { waitFor } from '@wakame/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { SchedulerError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import { silentLogger } from '../../src/messaging/events.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import { type ScheduleEvent, Scheduler } from '../../src/tasks/schedule/scheduler.js';
import type { TaskHandlers } from '../../src/tasks/types.js';
import { Worker } from '../../src/tasks/worker.js';
import { compileTopology } from '../../src/topology/compile/compile.js';
import { defineTopology } from '../../src/topology/document.js';
import { ManualTimers } from './manual-timers.js';

const topology = defineTopology({
  exchanges: [{ name: 'tasks', type: 'direct' }],
  queues: [{ name: 'work', bindings: [{ exchange: 'tasks', routingKey: 'work' }] }],
  tasks: [
    { name: 'report.build', payload: { type: 'object', required: ['kind'], properties: { kind: { type: 'string' } } } },
    { name: 'mail.send', concurrency: 2 },
    { name: 'api.call', rateLimit: { max: 2, per: '1s' } },
  ],
  routes: [{ match: '**', exchange: 'tasks', routingKey: 'work' }],
  schedules: [{ name: 'reports', task: 'report.build', every: '1m', payload: { kind: 'daily' } }],
});

describe('schedules in workers (memory://, a manual clock)', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });

  async function worker(
    url: string,
    timers: ManualTimers,
    name: string,
    events: (ScheduleEvent & { by: string })[],
    ran: string[],
  ) {
    const connection = await Connection.open(url);
    const w = new Worker({
      connection,
      topology,
      timers,
      scheduler: { group: 'g', leaseCheckMs: 5_000 },
      handlers: {
        'report.build': (_payload, ctx) => void ran.push(ctx.id),
        'mail.send': () => undefined,
        'api.call': () => undefined,
      },
      onScheduleEvent: (event) => void events.push({ ...event, by: name }),
    });
    cleanup.push(async () => {
      await w.stop({ deadline: 1_000 });
      await connection.close();
    });
    void w.run();
    return w;
  }

  it('two workers: one leads, each slot is sent once, and the other takes over after a stop without a repeat', async () => {
    const url = `memory://${randomUUID()}`;
    const timers = new ManualTimers(Date.parse('2026-01-01T00:00:30Z'));
    const events: (ScheduleEvent & { by: string })[] = [];
    const ran: string[] = [];
    const a = await worker(url, timers, 'a', events, ran);
    const b = await worker(url, timers, 'b', events, ran);
    const fired = () => events.filter((e) => e.type === 'fired').map((e) => (e as { id: string }).id);
    await waitFor(() => events.some((e) => e.type === 'leader') && timers.pending >= 2, {
      what: 'a leader, and both waiting',
    });
    expect(a.isScheduleLeader !== b.isScheduleLeader).toBe(true);
    for (let minute = 1; minute <= 3; minute++) {
      timers.advance(60_000);
      await waitFor(() => fired().length === minute, { what: `run ${minute} sent` });
    }
    expect(fired()).toEqual([
      'reports@2026-01-01T00:01:00.000Z',
      'reports@2026-01-01T00:02:00.000Z',
      'reports@2026-01-01T00:03:00.000Z',
    ]);
    await waitFor(() => ran.length === 3, { what: 'three runs handled' });
    const [leader, other] = a.isScheduleLeader ? [a, b] : [b, a];
    const leaderName = a.isScheduleLeader ? 'a' : 'b';
    await leader.stop({ deadline: 1_000 });
    // The other tries the lease at its next check, within leaseCheckMs.
    timers.advance(5_000);
    await waitFor(() => other.isScheduleLeader, { what: 'the other worker leads' });
    timers.advance(55_000);
    await waitFor(() => fired().length === 4, { what: 'the fourth run sent' });
    expect(fired()[3]).toBe('reports@2026-01-01T00:04:00.000Z');
    expect(events.filter((e) => e.type === 'fired').map((e) => e.by)).toEqual([
      leaderName,
      leaderName,
      leaderName,
      leaderName === 'a' ? 'b' : 'a',
    ]);
    await waitFor(() => ran.length === 4, { what: 'four runs handled' });
    expect(new Set(ran).size).toBe(4);
  });

  it('after a downtime, runOnce sends one run for the missed slots, saying how many had none', async () => {
    const url = `memory://${randomUUID()}`;
    const timers = new ManualTimers(Date.parse('2026-01-01T00:00:30Z'));
    const events: (ScheduleEvent & { by: string })[] = [];
    const ran: string[] = [];
    const first = await worker(url, timers, 'first', events, ran);
    await waitFor(() => first.isScheduleLeader, { what: 'the first worker leads' });
    await first.stop({ deadline: 1_000 });
    timers.advance(5 * 60_000);
    await worker(url, timers, 'second', events, ran);
    await waitFor(() => events.some((e) => e.type === 'fired'), { what: 'the catch-up run' });
    expect(events.filter((e) => e.type === 'fired')).toEqual([
      expect.objectContaining({ id: 'reports@2026-01-01T00:05:00.000Z', missed: 4, by: 'second' }),
    ]);
  });

  it('a leader that finds another term in the state steps down instead of sending (a lease lost unnoticed)', async () => {
    const url = `memory://${randomUUID()}`;
    const timers = new ManualTimers(Date.parse('2026-01-01T00:00:30Z'));
    const events: (ScheduleEvent & { by: string })[] = [];
    const leader = await worker(url, timers, 'old', events, []);
    await waitFor(() => leader.isScheduleLeader && timers.pending === 1, { what: 'the worker leads and waits' });
    // Another worker took the lease while this one was frozen: it wrote the next term.
    const other = await Connection.open(url);
    cleanup.push(() => other.close());
    const stacks = other.admin.stacks as NonNullable<typeof other.admin.stacks>;
    const state = (await stacks.read('schedules.g')) ?? {};
    await stacks.write('schedules.g', { ...state, term: Number(state.term) + 1, leader: 'someone-else' });
    timers.advance(60_000);
    await waitFor(() => events.some((e) => e.type === 'follower'), { what: 'the old leader steps down' });
    expect(events.filter((e) => e.type === 'fired')).toEqual([]);
    expect(events.find((e) => e.type === 'follower')).toMatchObject({ reason: expect.stringContaining('term 2') });
    expect(leader.isScheduleLeader).toBe(false);
  });

  it('a scheduler moved to another connection gives the lease back and takes it again there', async () => {
    const url = `memory://${randomUUID()}`;
    const timers = new ManualTimers(Date.parse('2026-01-01T00:00:30Z'));
    const events: ScheduleEvent[] = [];
    const first = await Connection.open(url);
    const second = await Connection.open(url);
    cleanup.push(async () => {
      await first.close();
      await second.close();
    });
    const scheduler = new Scheduler(compileTopology(topology), {
      group: 'moved',
      timers,
      logger: silentLogger,
      onEvent: (event) => void events.push(event),
    });
    cleanup.push(() => scheduler.stop());
    scheduler.start(first);
    await waitFor(() => scheduler.isLeader && timers.pending === 1, { what: 'leading on the first connection' });
    scheduler.start(second);
    await waitFor(() => events.filter((e) => e.type === 'leader').length === 2, { what: 'leading again' });
    expect(events.map((e) => e.type)).toEqual(['leader', 'follower', 'leader']);
    expect(events[1]).toMatchObject({ reason: 'the worker is on another connection' });
    expect(events[2]).toMatchObject({ term: 2 });
  });

  it('/metrics says which worker leads and counts the slots sent', async () => {
    const url = `memory://${randomUUID()}`;
    const timers = new ManualTimers(Date.parse('2026-01-01T00:00:30Z'));
    const events: (ScheduleEvent & { by: string })[] = [];
    const leader = await worker(url, timers, 'only', events, []);
    const health = await leader.serveHealth({ port: 0 });
    cleanup.push(() => health.close());
    await waitFor(() => leader.isScheduleLeader && timers.pending === 1, { what: 'the worker leads and waits' });
    timers.advance(60_000);
    await waitFor(() => events.some((e) => e.type === 'fired'), { what: 'a run sent' });
    const metrics = await (await fetch(`${health.url}/metrics`)).text();
    expect(metrics).toContain('wakame_schedule_leader 1');
    expect(metrics).toContain('wakame_schedule_runs_total{schedule="reports",outcome="sent"} 1');
  });

  it('refuses a schedule whose payload its task does not accept: in validation, and from a compiled topology', () => {
    const bad = defineTopology({
      ...topology,
      schedules: [{ name: 'x', task: 'report.build', every: '1m', payload: {} }],
    });
    const handlers = { 'report.build': () => undefined };
    expect(() => new Worker({ connection: 'memory://', topology: bad, handlers })).toThrow(
      expect.objectContaining({
        name: 'TopologyValidationError',
        message: expect.stringContaining('refuses this payload'),
      }),
    );
    const compiled = compileTopology(bad);
    expect(() => new Worker({ connection: 'memory://', topology: { compiled }, handlers })).toThrow(SchedulerError);
  });
});

describe('task limits in a worker (memory://)', () => {
  /** A running worker of `topology` (concurrency 10, no scheduler) whose tasks do nothing but those `handlers` run. */
  function limitsWorker(connection: Connection, handlers: TaskHandlers<typeof topology>, timers?: ManualTimers) {
    let ready = false;
    const worker = new Worker({
      connection,
      topology,
      concurrency: 10,
      ...(timers ? { timers } : {}),
      scheduler: false,
      onConsumeReady: () => {
        ready = true;
      },
      handlers: {
        'report.build': () => undefined,
        'mail.send': () => undefined,
        'api.call': () => undefined,
        ...handlers,
      },
    });
    const running = worker.run();
    return { worker, running, consuming: () => waitFor(() => ready, { what: 'the worker consuming' }) };
  }

  it('a stop sends the tasks still waiting for their rate limit back to the queue, unrun', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const client = new TaskClient(connection, topology);
    const timers = new ManualTimers(0);
    let started = 0;
    const { worker, running, consuming } = limitsWorker(connection, { 'api.call': () => void started++ }, timers);
    try {
      await consuming();
      for (let i = 0; i < 5; i++) await client.send('api.call', {});
      await waitFor(() => started === 2 && worker.health().inFlight === 3, { what: 'two started, three waiting' });
      // A deadline far beyond the test's timeout: only returning the waiting tasks at once lets the stop finish.
      await worker.stop({ deadline: 600_000 });
      await running;
      expect(started).toBe(2);
      expect(worker.health()).toMatchObject({ processed: 2, returned: 3 });
      expect(await new Queue('work').attach(connection).messageCount()).toBe(3);
    } finally {
      await connection.close();
    }
  });

  it('runs at most `concurrency` handlers of a task at once, below the worker concurrency', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const client = new TaskClient(connection, topology);
    let running = 0;
    let most = 0;
    const release: (() => void)[] = [];
    let done = 0;
    const { worker, consuming } = limitsWorker(connection, {
      'mail.send': async () => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => release.push(resolve));
        running--;
        done++;
      },
    });
    try {
      await consuming();
      for (let i = 0; i < 6; i++) await client.send('mail.send', {});
      while (done < 6) {
        await waitFor(() => release.length > 0, { what: 'a handler waiting', timeoutMs: 10_000 });
        // Give the others every chance to start too before one is let go.
        await new Promise((resolve) => setImmediate(resolve));
        expect(running).toBeLessThanOrEqual(2);
        release.shift()?.();
        await waitFor(() => running < 2 || done === 6 || release.length > 1, {
          what: 'the next handler',
          timeoutMs: 10_000,
        });
      }
      expect(most).toBe(2);
    } finally {
      await worker.stop({ deadline: 1_000 });
      await connection.close();
    }
  });

  it('starts at most rateLimit.max handlers per period, the rest as tokens come', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const client = new TaskClient(connection, topology);
    const timers = new ManualTimers(0);
    const started: number[] = [];
    const { worker, consuming } = limitsWorker(
      connection,
      { 'api.call': () => void started.push(timers.now()) },
      timers,
    );
    try {
      await consuming();
      for (let i = 0; i < 5; i++) await client.send('api.call', {});
      await waitFor(() => started.length === 2 && timers.pending === 1, { what: 'a burst of two, then a wait' });
      timers.advance(499);
      await new Promise((resolve) => setImmediate(resolve));
      expect(started.length).toBe(2);
      timers.advance(1);
      await waitFor(() => started.length === 3, { what: 'the third start, at 500 ms' });
      timers.advance(500);
      await waitFor(() => started.length === 4, { what: 'the fourth start, at 1 s' });
      timers.advance(500);
      await waitFor(() => started.length === 5, { what: 'the fifth start, at 1.5 s' });
      expect(started).toEqual([0, 0, 500, 1_000, 1_500]);
    } finally {
      await worker.stop({ deadline: 1_000 });
      await connection.close();
    }
  });
});
