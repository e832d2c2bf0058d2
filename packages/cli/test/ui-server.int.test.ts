/**
 * `wakame ui` over HTTP, in a real process on the embedded file:// broker: it binds 127.0.0.1 unless told
 * otherwise, is read-only without --allow-actions (actions answer 403 and change nothing), and with the flag
 * accepts an action only from its own page (same origin, the page's token, its own Host).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@wakame/core';
import { waitFor } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliTransports } from '../src/transports.js';
import { type RunningUi, repo, runCli, startUi } from './ui-process.js';

const topology = join(repo, 'examples/priority-tasks/topology.yaml');

interface State {
  settings: { allowActions: boolean; token?: string };
  snapshot: { queues: { name: string; ready: number }[] };
}

async function state(ui: RunningUi): Promise<State> {
  return (await (await fetch(`${ui.url}/api/state`)).json()) as State;
}

async function depth(ui: RunningUi, queue: string): Promise<number | undefined> {
  return (await state(ui)).snapshot.queues.find((q) => q.name === queue)?.ready;
}

/** Posts an action as a browser would, with the headers given. */
async function post(ui: RunningUi, action: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(`${ui.url}/api/actions/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: string }; purged?: number } };
}

describe('wakame ui over HTTP (file://)', () => {
  let dir = '';
  let url = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wakame-ui-'));
    url = `file://${join(dir, 'broker')}`;
    const applied = await runCli(['apply', topology, '--url', url, '--yes']);
    expect(applied.code, applied.output).toBe(0);
    const connection = await Connection.open(url, { transports: cliTransports });
    const producer = connection.producer({ exchange: 'tasks' });
    for (let n = 0; n < 3; n++) await producer.publish({ n }, { routingKey: 'midpri' });
    await connection.close();
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('binds 127.0.0.1 by default and is not reachable on other addresses', async () => {
    const ui = await startUi([topology, '--url', url]);
    try {
      expect(ui.host).toBe('127.0.0.1');
      expect(ui.url).toBe(`http://127.0.0.1:${ui.port}`);
      expect((await fetch(`${ui.url}/`)).status).toBe(200);
      const outside = Object.values(networkInterfaces())
        .flat()
        .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
      // A machine with no other interface has nothing more to check.
      if (outside) await expect(fetch(`http://${outside.address}:${ui.port}/`)).rejects.toThrow();
    } finally {
      expect(await ui.stop(), ui.output()).toBe(0);
    }
  }, 60_000);

  it('is read-only without --allow-actions: actions answer 403 and change nothing', async () => {
    const ui = await startUi([topology, '--url', url]);
    try {
      const read = await state(ui);
      expect(read.settings.allowActions).toBe(false);
      expect(read.settings.token).toBeUndefined();
      expect(await depth(ui, 'midpri')).toBe(3);
      const origin = { origin: ui.url };
      for (const action of ['purge', 'replay']) {
        const answer = await post(ui, action, { queue: 'midpri' }, origin);
        expect(answer, action).toEqual({
          status: 403,
          body: { error: expect.objectContaining({ code: 'ERR_ACTIONS_DISABLED' }) },
        });
      }
      expect((await fetch(`${ui.url}/api/actions/purge`)).status).toBe(405);
      const connection = await Connection.open(url, { transports: cliTransports });
      const { messageCount } = await connection.admin.declareQueue(
        { name: 'midpri', durable: true, exclusive: false, autoDelete: false, arguments: {} },
        { passive: true },
      );
      await connection.close();
      expect(messageCount).toBe(3);
    } finally {
      expect(await ui.stop(), ui.output()).toBe(0);
    }
  }, 60_000);

  it('with --allow-actions accepts an action only from its own page', async () => {
    const ui = await startUi([topology, '--url', url, '--allow-actions', '--interval', '0.5']);
    try {
      const { settings } = await state(ui);
      expect(settings.allowActions).toBe(true);
      const token = settings.token as string;
      expect(token.length).toBeGreaterThan(20);
      const good = { origin: ui.url, 'x-wakame-token': token };
      const refused = [
        [{ origin: 'http://evil.example', 'x-wakame-token': token }, 'ERR_CROSS_ORIGIN'],
        [{ 'x-wakame-token': token }, 'ERR_CROSS_ORIGIN'],
        [{ origin: ui.url }, 'ERR_BAD_TOKEN'],
        [{ origin: ui.url, 'x-wakame-token': `${token}x` }, 'ERR_BAD_TOKEN'],
      ] as const;
      for (const [headers, code] of refused) {
        const answer = await post(ui, 'purge', { queue: 'midpri' }, headers);
        expect(answer.status, JSON.stringify(headers)).toBe(403);
        expect(answer.body.error?.code).toBe(code);
      }
      expect((await post(ui, 'purge', {}, good)).body.error?.code).toBe('ERR_BAD_REQUEST');
      expect(await post(ui, 'purge', { queue: 'no-such-queue' }, good)).toEqual({
        status: 404,
        body: { error: expect.objectContaining({ code: 'ERR_NOT_FOUND' }) },
      });
      // midpri is not where dead letters land: replay and the dead-letter listing refuse it.
      expect(await post(ui, 'replay', { queue: 'midpri' }, good)).toEqual({
        status: 400,
        body: { error: expect.objectContaining({ code: 'ERR_NOT_DEAD_LETTER_QUEUE' }) },
      });
      expect((await fetch(`${ui.url}/api/dead-letters?queue=midpri`)).status).toBe(400);
      expect(await depth(ui, 'midpri')).toBe(3);

      expect(await post(ui, 'purge', { queue: 'midpri' }, good)).toEqual({
        status: 200,
        body: { queue: 'midpri', purged: 3 },
      });
      await waitFor(async () => (await depth(ui, 'midpri')) === 0, { timeoutMs: 20_000, what: 'midpri empty' });
    } finally {
      expect(await ui.stop(), ui.output()).toBe(0);
    }
  }, 60_000);

  it('answers only requests addressed to itself, and serves only the page’s files', async () => {
    const ui = await startUi([topology, '--url', url]);
    try {
      const { request } = await import('node:http');
      const status = (path: string, host: string) =>
        new Promise<number>((resolve, reject) => {
          request({ host: '127.0.0.1', port: ui.port, path, headers: { host } }, (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          })
            .on('error', reject)
            .end();
        });
      expect(await status('/api/state', `localhost:${ui.port}`)).toBe(200);
      expect(await status('/api/state', `rebound.example:${ui.port}`)).toBe(403);
      for (const path of ['/../package.json', '/%2e%2e/package.json', '/ui.ts', '/api/nothing']) {
        expect(await status(path, `127.0.0.1:${ui.port}`), path).toBe(404);
      }
      const page = await fetch(`${ui.url}/`);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await page.text()).toContain('<script type="module" src="/app.js">');
    } finally {
      expect(await ui.stop(), ui.output()).toBe(0);
    }
  }, 60_000);

  it('without a topology file lists the broker and has no graph or plan', async () => {
    const ui = await startUi(['--url', url]);
    try {
      const read = (await state(ui)) as State & { graph: unknown; plan: unknown };
      expect(read.graph).toBeNull();
      expect(read.plan).toBeNull();
      expect(read.snapshot.queues.map((q) => q.name).sort()).toEqual(['hipri', 'lopri', 'midpri']);
    } finally {
      expect(await ui.stop(), ui.output()).toBe(0);
    }
  }, 60_000);

  it('refuses a bad --worker URL at start, as a usage mistake', async () => {
    const run = await runCli(['ui', topology, '--url', url, '--worker', 'localhost:9464', '--port', '0']);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain('--worker takes an http:// or https:// URL');
  }, 60_000);
});
