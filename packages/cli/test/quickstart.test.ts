import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, Exchange, Queue } from '@wakame/core';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { type QuickstartReport, quickstart } from '../src/commands/quickstart.js';
import { type Captured, capture } from './capture.js';

const fileUrl = (): string => `file://${mkdtempSync(join(tmpdir(), 'wakame-quickstart-'))}`;

/** A context whose signal aborts (as Ctrl-C does) once quickstart starts sending, i.e. after it applied. */
function interruptedWhileSending(): Captured {
  const stop = new AbortController();
  return capture({
    signal: stop.signal,
    out: (line) => {
      if (line.startsWith('4. send')) setTimeout(() => stop.abort(), 50);
    },
  });
}

describe('wakame quickstart (what pnpm start runs)', () => {
  it('runs the whole job on the embedded file broker, highest class first', async () => {
    const url = fileUrl();
    const c = capture({ jsonMode: true });
    await runCli(c.ctx, ['quickstart', '--url', url, '--tasks', '10']);
    const report = c.json[0] as QuickstartReport;
    expect(report).toMatchObject({ processed: 30, inPriorityOrder: true, sent: { low: 10, mid: 10, high: 10 } });
    expect(report.order[0]).toMatch(/^high×/);
    // A directory of its own: the example's entities as they are, left in place for the tour's next commands.
    expect(report).toMatchObject({ namespaced: false, queues: ['hipri', 'midpri', 'lopri'], exchanges: ['tasks'] });
    // A second run on the same directory finds nothing to change and gives the same summary.
    const again = capture({ jsonMode: true });
    await runCli(again.ctx, ['quickstart', '--url', url, '--tasks', '10']);
    expect((again.json[0] as QuickstartReport).order).toEqual(report.order);
    expect(again.json[0]).toMatchObject({ namespaced: false, queues: ['hipri', 'midpri', 'lopri'] });
  }, 30_000);

  it('names the queues it used in its text output', async () => {
    const c = capture();
    await quickstart(c.ctx, { url: fileUrl(), tasks: '2' });
    expect(c.out.join('\n')).toContain('queues hipri, midpri, lopri');
  }, 30_000);

  it("on a directory holding a user's hipri with a message, uses its own queues and leaves the user's alone", async () => {
    const url = fileUrl();
    const connection = await Connection.open(url);
    try {
      const tasks = new Exchange('tasks', { type: 'direct' });
      await connection.declare(tasks, new Queue('hipri', { exchange: tasks, routingKey: 'hipri' }));
      await connection.producer({ exchange: tasks }).publish({ reportId: 'users-own' }, { routingKey: 'hipri' });
      const before = await connection.admin.inspect();

      const c = capture();
      const report = await quickstart(c.ctx, { url, tasks: '4' });
      expect(report).toMatchObject({
        processed: 12,
        inPriorityOrder: true,
        namespaced: true,
        queues: ['wakame.quickstart.hipri', 'wakame.quickstart.midpri', 'wakame.quickstart.lopri'],
        exchanges: ['wakame.quickstart.tasks'],
        purgedLeftovers: 0,
        cleanedUp: true,
      });
      const text = c.out.join('\n');
      expect(text).toContain('wakame.quickstart.hipri, wakame.quickstart.midpri, wakame.quickstart.lopri');
      expect(text).toMatch(/deleted .*wakame\.quickstart\.tasks/);

      const after = await connection.admin.inspect();
      const shape = (o: typeof before) => ({
        queues: o.queues.map((q) => `${q.name}=${q.messageCount}`).sort(),
        exchanges: o.exchanges.map((e) => e.name).sort(),
        bindings: o.bindings.map((b) => `${b.source}->${b.destination}:${b.routingKey}`).sort(),
      });
      expect(shape(after)).toEqual(shape(before));
      expect(shape(after).queues).toEqual(['hipri=1']);
      const message = await connection.getMessage('hipri');
      expect(message?.payload).toEqual({ reportId: 'users-own' });
    } finally {
      await connection.close();
    }
  }, 30_000);

  it('stops, cleans up its own entities and fails when interrupted', async () => {
    const url = fileUrl();
    const connection = await Connection.open(url);
    try {
      await connection.declare(new Queue('orders'));
      await expect(quickstart(interruptedWhileSending().ctx, { url, tasks: '10000' })).rejects.toMatchObject({
        exitCode: 130,
      });
      const after = await connection.admin.inspect();
      expect(after.queues.map((q) => q.name)).toEqual(['orders']);
      expect(after.exchanges.filter((e) => e.name.startsWith('wakame.'))).toEqual([]);
    } finally {
      await connection.close();
    }
  }, 30_000);

  it('interrupted on a directory of its own, empties the queues it found empty, so the next run is the same', async () => {
    const url = fileUrl();
    await expect(quickstart(interruptedWhileSending().ctx, { url, tasks: '10000' })).rejects.toMatchObject({
      exitCode: 130,
    });
    const connection = await Connection.open(url);
    try {
      const after = await connection.admin.inspect();
      expect(after.queues.map((q) => `${q.name}=${q.messageCount}`).sort()).toEqual(['hipri=0', 'lopri=0', 'midpri=0']);
    } finally {
      await connection.close();
    }
    const again = capture({ jsonMode: true });
    await quickstart(again.ctx, { url, tasks: '2' });
    expect(again.json[0]).toMatchObject({ namespaced: false, processed: 6, inPriorityOrder: true });
  }, 30_000);
});
